package pipelines_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

// release is a GitHub release of the CLI as goreleaser lays it out: the
// archive imagefamily_vX_OS_ARCH.tar.gz and the SHA256SUMS file listing it
// (and the plugin zips), served under /vX/.
func release(t *testing.T, version string, tamper bool) *httptest.Server {
	t.Helper()
	bin, err := os.ReadFile(gobuild.CLI(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		body []byte
	}{{"README.md", []byte("# imagefamily\n")}, {"imagefamily", bin}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	archive := fmt.Sprintf("imagefamily_%s_%s_%s.tar.gz", version, runtime.GOOS, runtime.GOARCH)
	sums := fmt.Sprintf("%x  packer-plugin-imagefamily_%s_x5.0_linux_amd64.zip\n%x  %s\n",
		sha256.Sum256([]byte("a plugin zip")), version, sha256.Sum256(buf.Bytes()), archive)
	served := buf.Bytes()
	if tamper {
		served = append(bytes.Clone(served), 0)
	}
	files := map[string][]byte{
		"/" + version + "/" + archive:                                           served,
		"/" + version + "/packer-plugin-imagefamily_" + version + "_SHA256SUMS": []byte(sums),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestInstallScriptInstallsOnlyAReleaseItsChecksumsVouchFor(t *testing.T) {
	script := filepath.Join(modroot.Dir(t), "example", "ci", "install-imagefamily.sh")
	for _, tc := range []struct {
		name      string
		tamper    bool
		installed bool
		say       string
	}{
		{"the release as published", false, true, "installed imagefamily v1.2.3"},
		{"an archive that is not what SHA256SUMS lists", true, false, "FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := release(t, "v1.2.3", tc.tamper)
			dir := filepath.Join(t.TempDir(), "bin")
			cmd := exec.Command("bash", script, "v1.2.3", dir)
			cmd.Env = append(os.Environ(), "IMAGEFAMILY_RELEASES_URL="+srv.URL)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.installed || !strings.Contains(string(out), tc.say) {
				t.Fatalf("install-imagefamily.sh: %v\n%s\nwant it to say %q and succeed: %v", err, out, tc.say, tc.installed)
			}
			cli := filepath.Join(dir, "imagefamily")
			if !tc.installed {
				if _, err := os.Stat(cli); err == nil {
					t.Fatalf("%s was installed from a tampered archive", cli)
				}
				return
			}
			help, err := exec.Command(cli, "--help").CombinedOutput()
			if err != nil || !strings.Contains(string(help), "usage: imagefamily COMMAND") {
				t.Errorf("the installed CLI: %v\n%s", err, help)
			}
		})
	}
}
