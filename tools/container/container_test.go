package main

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/x509"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// distEnv names goreleaser's dist directory; `make test` sets it, after
// `make release-container` wrote the image there.
const distEnv = "IMAGEFAMILY_DIST"

// released is what goreleaser's dist directory says was released.
type released struct {
	dir       string
	meta      metadata
	artifacts []artifact
}

func readDist(t *testing.T) released {
	t.Helper()
	dir := os.Getenv(distEnv)
	if dir == "" {
		t.Skipf("%s is not set: make test sets it to dist/ after make release-container wrote the image", distEnv)
	}
	r := released{dir: dir}
	if err := readJSON(filepath.Join(dir, "metadata.json"), &r.meta); err != nil {
		t.Fatal(err)
	}
	if err := readJSON(filepath.Join(dir, "artifacts.json"), &r.artifacts); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r released) path(a artifact) string {
	if filepath.IsAbs(a.Path) {
		return a.Path
	}
	return filepath.Join(filepath.Dir(r.dir), filepath.FromSlash(a.Path))
}

// The container image of the CLI that `make release-container` (and
// release-snapshot) writes: an OCI image layout in
// dist/imagefamily_vVERSION_oci. The test reads it as an OCI tool would,
// unpacks this platform's image into a directory and runs the CLI from it.
func TestReleasedImageHoldsAndRunsTheReleasedCLI(t *testing.T) {
	d := readDist(t)
	dir := filepath.Join(d.dir, fmt.Sprintf("imagefamily_v%s_oci", d.meta.Version))
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		t.Fatalf("no container image: %v (make release-container writes it)", err)
	}
	if runtime.GOOS != "linux" {
		t.Fatalf("the image holds Linux binaries and this test runs one, so it runs on Linux (here: %s)", runtime.GOOS)
	}
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	// The layout names one multi-platform index by the version: what
	// `skopeo copy oci:DIR:VERSION` and `crane push DIR` read.
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex ||
		tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != d.meta.Version {
		t.Fatalf("index.json should name one image index %q; it holds %+v", d.meta.Version, tm.Manifests)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}

	// One image per Linux CLI binary goreleaser built, and no other.
	bins := map[string]artifact{}
	for _, a := range d.artifacts {
		if a.Type == "Binary" && a.Extra.ID == "cli" && a.Goos == "linux" {
			bins[a.Goarch] = a
		}
	}
	var platforms, want []string
	var mine *v1.Descriptor
	for i, m := range im.Manifests {
		if m.Platform == nil || m.Platform.OS != "linux" || m.MediaType != types.OCIManifestSchema1 {
			t.Errorf("manifest %s: platform %+v, media type %s; want linux OCI images", m.Digest, m.Platform, m.MediaType)
			continue
		}
		platforms = append(platforms, m.Platform.Architecture)
		if m.Platform.Architecture == runtime.GOARCH {
			mine = &im.Manifests[i]
		}
	}
	for arch := range bins {
		want = append(want, arch)
	}
	sort.Strings(platforms)
	sort.Strings(want)
	if !slices.Equal(platforms, want) {
		t.Errorf("the image is for linux/%v; goreleaser built the CLI for linux/%v", platforms, want)
	}
	if mine == nil {
		t.Fatalf("no image for linux/%s", runtime.GOARCH)
	}
	img, err := idx.Image(mine.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.Config
	if cfg.User == "" || strings.HasPrefix(cfg.User, "0") || strings.HasPrefix(cfg.User, "root") {
		t.Errorf("the image runs as %q; it must not run as root", cfg.User)
	}
	if len(cfg.Entrypoint) != 1 || !path.IsAbs(cfg.Entrypoint[0]) {
		t.Fatalf("entrypoint %q: want the CLI's absolute path", cfg.Entrypoint)
	}
	for label, value := range map[string]string{
		"org.opencontainers.image.version":  d.meta.Version,
		"org.opencontainers.image.revision": d.meta.Commit,
		"org.opencontainers.image.licenses": "MPL-2.0",
	} {
		if got := cfg.Labels[label]; got != value {
			t.Errorf("label %s = %q, want %q", label, got, value)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if mt, err := l.MediaType(); err != nil || mt != types.OCILayer {
			t.Errorf("a layer of media type %s (%v), want %s", mt, err, types.OCILayer)
		}
	}

	root := t.TempDir()
	unpack(t, img, root)
	cli := filepath.Join(root, filepath.FromSlash(cfg.Entrypoint[0]))

	// Exactly the CLI goreleaser released.
	if got, want := fileSHA256(t, cli), fileSHA256(t, d.path(bins[runtime.GOARCH])); got != want {
		t.Errorf("the image's %s (sha256 %s) is not goreleaser's CLI (sha256 %s)", cfg.Entrypoint[0], got, want)
	}
	bi, err := buildinfo.ReadFile(cli)
	if err != nil {
		t.Fatal(err)
	}
	if bi.Path != "github.com/immutable-infra/packer-plugin-imagefamily/cmd/imagefamily" {
		t.Errorf("the entrypoint is %s, not the imagefamily CLI", bi.Path)
	}
	// Built as .goreleaser.yml builds releases (goreleaser's own mark:
	// trimmed paths, no cgo).
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "0" || settings["GOOS"] != "linux" {
		t.Errorf("the CLI in the image is not a release build (-trimpath, CGO_ENABLED=0, linux): %v", settings)
	}

	// The CA bundle SSL_CERT_FILE names, for TLS to Compute Engine.
	var certFile string
	for _, e := range cfg.Env {
		if v, ok := strings.CutPrefix(e, "SSL_CERT_FILE="); ok {
			certFile = v
		}
	}
	pem, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(certFile)))
	if err != nil {
		t.Fatalf("SSL_CERT_FILE=%q in the image: %v", certFile, err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		t.Errorf("%s in the image holds no PEM certificate", certFile)
	}

	// Run it with the image's environment (the certificates path moved
	// into the unpacked root).
	env := []string{"HOME=" + root}
	for _, e := range cfg.Env {
		if v, ok := strings.CutPrefix(e, "SSL_CERT_FILE="); ok {
			e = "SSL_CERT_FILE=" + filepath.Join(root, filepath.FromSlash(v))
		}
		env = append(env, e)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "Usage:\n  imagefamily COMMAND [flags]"},
		// The version and commit the release stamped, the image's own (a
		// build from a tree with uncommitted changes adds "+dirty").
		{[]string{"--version"}, fmt.Sprintf("imagefamily %s (commit %s", d.meta.Version, d.meta.Commit[:min(12, len(d.meta.Commit))])},
		{[]string{"name", "--os", "debian-12", "--software", "nginx", "--version", "1.26.0", "--timestamp", "2026-11-26T06:47:30Z"},
			"debian-12-nginx-1-26-0-v20261126t064730"},
	} {
		cmd := exec.Command(cli, tc.args...)
		cmd.Env, cmd.Dir = env, root
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("imagefamily %s from the image: %v\n%s\nwant it to print %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}

// unpack writes the image's file system (its layers applied in order, as
// mutate.Extract flattens them) under root. A name that would leave root
// fails the test.
func unpack(t *testing.T, img v1.Image, root string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := path.Clean("/" + h.Name)
		if name != "/"+strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/") {
			t.Fatalf("layer entry %q is not a clean relative path", h.Name)
		}
		target := filepath.Join(root, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("layer entry %s is of type %q: the image holds directories and files only", h.Name, h.Typeflag)
		}
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// fixtureDist is a dist directory as goreleaser writes it, holding a CLI
// "binary" per platform (a few bytes standing for one).
func fixtureDist(t *testing.T) (dist, certs string) {
	t.Helper()
	root := t.TempDir()
	dist = filepath.Join(root, "dist")
	var arts []artifact
	for _, p := range []struct{ goos, goarch string }{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "arm64"}} {
		rel := fmt.Sprintf("dist/cli_%s_%s/imagefamily", p.goos, p.goarch)
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, rel), []byte("#!/bin/false "+p.goarch+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		a := artifact{Path: rel, Goos: p.goos, Goarch: p.goarch, Type: "Binary"}
		a.Extra.ID = "cli"
		arts = append(arts, a)
	}
	plugin := artifact{Path: "dist/plugin/p", Goos: "linux", Goarch: "amd64", Type: "Binary"}
	plugin.Extra.ID = "plugin"
	arts = append(arts, plugin)
	for name, v := range map[string]any{
		"artifacts.json": arts,
		"metadata.json":  metadata{Version: "1.2.3", Commit: "0123456789abcdef"},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dist, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	certs = filepath.Join(root, "ca.pem")
	if err := os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dist, certs
}

func TestBuildMakesOneNonRootImagePerLinuxBinaryReproducibly(t *testing.T) {
	dist, certs := fixtureDist(t)
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	digest := func(created time.Time, out string) (string, v1.ImageIndex) {
		t.Helper()
		path, idx, err := build(options{dist: dist, id: "cli", certs: certs, out: out, source: "https://example.com/src", created: created})
		if err != nil {
			t.Fatal(err)
		}
		if path != out {
			t.Fatalf("wrote %s, asked for %s", path, out)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String(), idx
	}
	first, idx := digest(at("2026-11-26T06:47:30Z"), filepath.Join(t.TempDir(), "a"))
	again, _ := digest(at("2026-11-26T06:47:30Z"), filepath.Join(t.TempDir(), "b"))
	later, _ := digest(at("2026-11-27T06:47:30Z"), filepath.Join(t.TempDir(), "c"))
	if first != again {
		t.Errorf("the same inputs made two images: %s and %s", first, again)
	}
	if first == later {
		t.Errorf("another commit time made the same image %s", first)
	}

	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var archs []string
	for _, m := range im.Manifests {
		archs = append(archs, m.Platform.OS+"/"+m.Platform.Architecture)
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Config.User != user || cf.Architecture != m.Platform.Architecture || cf.Created.Time != at("2026-11-26T06:47:30Z") {
			t.Errorf("%s: user %q, architecture %s, created %s", m.Platform.Architecture, cf.Config.User, cf.Architecture, cf.Created.Time)
		}
		root := t.TempDir()
		unpack(t, img, root)
		bin, err := os.ReadFile(filepath.Join(root, binPath))
		if err != nil || string(bin) != "#!/bin/false "+m.Platform.Architecture+"\n" {
			t.Errorf("%s: the image's CLI is %q (%v), not goreleaser's linux/%[1]s binary", m.Platform.Architecture, bin, err)
		}
		fi, err := os.Stat(filepath.Join(root, binPath))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %s mode %v (%v), want 0755", m.Platform.Architecture, binPath, fi.Mode(), err)
		}
		passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
		if err != nil || !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
			t.Errorf("/etc/passwd names no user 65532: %q (%v)", passwd, err)
		}
	}
	if !slices.Equal(archs, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("images for %v; want linux/amd64 and linux/arm64 (darwin and the plugin left out)", archs)
	}
}

func TestBuildSaysWhatIsMissing(t *testing.T) {
	dist, certs := fixtureDist(t)
	for _, tc := range []struct {
		name string
		opts options
		want string
	}{
		{"no dist", options{dist: filepath.Join(t.TempDir(), "dist"), id: "cli", certs: certs}, "metadata.json is missing: run goreleaser first"},
		{"no such build", options{dist: dist, id: "cmd", certs: certs}, `lists no linux binary of build "cmd"`},
		{"no CA bundle", options{dist: dist, id: "cli", certs: filepath.Join(t.TempDir(), "none.pem")}, "install the ca-certificates package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.out = filepath.Join(t.TempDir(), "oci")
			_, _, err := build(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
