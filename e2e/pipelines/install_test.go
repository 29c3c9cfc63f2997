package pipelines_test

import (
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
// (and a plugin zip). The archive is made with tar(1): gzip in a test
// binary built with -race takes some twenty seconds for the CLI.
type release struct {
	archive string // its name
	files   map[string][]byte
}

func newRelease(t *testing.T, version string) release {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# imagefamily\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(gobuild.CLI(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "imagefamily"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	archive := fmt.Sprintf("imagefamily_%s_%s_%s.tar.gz", version, runtime.GOOS, runtime.GOARCH)
	tarball := filepath.Join(t.TempDir(), archive)
	if out, err := exec.Command("tar", "-czf", tarball, "-C", dir, "README.md", "imagefamily").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	b, err := os.ReadFile(tarball)
	if err != nil {
		t.Fatal(err)
	}
	sums := fmt.Sprintf("%x  packer-plugin-imagefamily_%s_x5.0_linux_amd64.zip\n%x  %s\n",
		sha256.Sum256([]byte("a plugin zip")), version, sha256.Sum256(b), archive)
	return release{archive: archive, files: map[string][]byte{
		"/" + version + "/" + archive:                                           b,
		"/" + version + "/packer-plugin-imagefamily_" + version + "_SHA256SUMS": []byte(sums),
	}}
}

// serve serves the release under /vX/, its archive altered when tamper.
func (rel release) serve(t *testing.T, tamper bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := rel.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
		if tamper && strings.HasSuffix(r.URL.Path, rel.archive) {
			_, _ = w.Write([]byte{0})
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestInstallScriptInstallsOnlyAReleaseItsChecksumsVouchFor(t *testing.T) {
	script := filepath.Join(modroot.Dir(t), "example", "ci", "install-imagefamily.sh")
	rel := newRelease(t, "v1.2.3")
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
			srv := rel.serve(t, tc.tamper)
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
			if err != nil || !strings.Contains(string(help), "imagefamily COMMAND [flags]") {
				t.Errorf("the installed CLI: %v\n%s", err, help)
			}
		})
	}
}
