// Package archive_test checks what goreleaser produces the way a user gets
// it: the plugin binary from dist/ (unpacked from its zip when `make
// release-snapshot` made one) is installed with `packer plugins install
// --path`, listed by `packer plugins installed`, and run by the real packer
// through a template that requires it.
//
// dist/ is written by `make release-single` (goreleaser build
// --single-target --snapshot: this platform's plugin, about 2 minutes on a
// cold Go cache, seconds after) or `make release-snapshot` (every archive).
// `make test` runs release-single first and sets IMAGEFAMILY_DIST, so there
// the test cannot skip; a plain `go test ./...` skips it when dist/ is empty.
package archive_test

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
	"github.com/immutable-infra/packer-plugin-imagefamily/version"
)

const (
	// distEnv names the goreleaser dist directory; `make test` sets it.
	distEnv = "IMAGEFAMILY_DIST"
	// source is the plugin's Packer source address.
	source = packerrun.PluginSource
	// projectName is .goreleaser.yml's project_name.
	projectName = "packer-plugin-imagefamily"
)

// artifact is one entry of goreleaser's dist/artifacts.json.
type artifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"` // relative to the directory goreleaser ran in
	Goos   string `json:"goos"`
	Goarch string `json:"goarch"`
	Type   string `json:"type"` // "Binary", "Archive", "Checksum", ...
	Extra  struct {
		ID string `json:"ID"`
	} `json:"extra"`
}

// dist is a goreleaser dist directory that has been read.
type dist struct {
	dir       string
	root      string // where goreleaser ran: artifact paths are relative to it
	version   string // metadata.json's version, e.g. 0.1.0-dev or 1.2.3
	artifacts []artifact
}

func TestReleasedPluginInstallsAndRuns(t *testing.T) {
	d := readDist(t)
	binary, fromArchive := pluginBinary(t, d)

	desc := describe(t, binary)
	// One version string: a snapshot is version/version.go's version, -dev,
	// and a release is that version.
	if core, pre, _ := strings.Cut(d.version, "-"); core != version.Version || (pre != "" && pre != "dev") {
		t.Errorf("the release is version %q; version/version.go says %q, so it must be %[2]s or %[2]s-dev (the snapshot's version_template and GORELEASER_CURRENT_TAG in GNUmakefile)", d.version, version.Version)
	}
	if desc.Version != d.version {
		t.Errorf("describe reports version %q, the release is %q: .goreleaser.yml's ldflags must set version.Version and clear version.VersionPrerelease", desc.Version, d.version)
	}
	if desc.APIVersion != "x5.0" {
		t.Errorf("describe reports API version %q; the release names were checked against x5.0", desc.APIVersion)
	}
	ext := ""
	if runtime.GOOS == "windows" {
		ext = ".exe"
	}
	// The name Packer derives from describe, the name in the archive, and
	// the name goreleaser gave the binary must all be this one.
	want := fmt.Sprintf("%s_v%s_%s_%s_%s%s", projectName, d.version, desc.APIVersion, runtime.GOOS, runtime.GOARCH, ext)
	if got := filepath.Base(binary); got != want {
		t.Errorf("released binary is named %q, Packer expects %q", got, want)
	}
	t.Logf("installing %s (from the %s)", want, map[bool]string{true: "zip archive", false: "goreleaser build"}[fromArchive])

	env := packerrun.Env(t)
	packerrun.InstallPlugin(t, env, binary, source)

	stdout, stderr, err := packerrun.Run(t, env, "", "plugins", "installed")
	if err != nil {
		t.Fatalf("packer plugins installed: %v\n%s%s", err, stdout, stderr)
	}
	installed := filepath.Join(env.PluginPath, filepath.FromSlash(source), strings.TrimSuffix(want, ext)+ext)
	if !containsLine(stdout, installed) {
		t.Fatalf("packer plugins installed does not list %s; it printed:\n%s", installed, stdout)
	}

	// A template that requires the plugin by source and version, and runs
	// its imagefamily-name data source (no network) into packer's own file
	// builder: the installed release binary is found, loaded and works.
	dir := t.TempDir()
	core, _, _ := strings.Cut(d.version, "-") // 1.2.3-dev satisfies "= 1.2.3"
	template := fmt.Sprintf(`packer {
  required_plugins {
    imagefamily = {
      source  = %q
      version = "= %s"
    }
  }
}

data "imagefamily-name" "web" {
  software  = "web"
  version   = "2.3"
  template  = "acme-{software}-{version}-{timestamp}"
  timestamp = "2026-11-26T06:47:30Z"
}

source "file" "name" {
  content = data.imagefamily-name.web.name
  target  = "name.txt"
}

build {
  sources = ["source.file.name"]
}
`, source, core)
	packerrun.WriteTemplate(t, dir, template)
	stdout, stderr, err = packerrun.Run(t, env, dir, "build", ".")
	if err != nil {
		t.Fatalf("packer build with the released plugin: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "name.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "acme-web-2-3-20261126t064730" {
		t.Errorf("the released plugin's imagefamily-name gave %q, want acme-web-2-3-20261126t064730", got)
	}
}

// TestReleaseArchives checks the full set of archives when `make
// release-snapshot` made them: a zip per platform holding only the plugin, a
// CLI archive per platform, and one SHA256SUMS file covering all of them.
func TestReleaseArchives(t *testing.T) {
	d := readDist(t)
	var archives []artifact
	var sums *artifact
	for i, a := range d.artifacts {
		switch a.Type {
		case "Archive":
			archives = append(archives, a)
		case "Checksum":
			sums = &d.artifacts[i]
		}
	}
	if len(archives) == 0 {
		t.Skip("dist/ holds a single-target build, no archives: run `make release-snapshot` to check them")
	}
	if sums == nil {
		t.Fatal("dist/ has archives but no checksum file")
	}
	if want := fmt.Sprintf("%s_v%s_SHA256SUMS", projectName, d.version); sums.Name != want {
		t.Errorf("checksum file is %q, want %q", sums.Name, want)
	}
	listed := readSums(t, d.path(*sums))

	platforms := []string{"linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64", "windows_arm64"}
	seen := map[string]bool{}
	for _, a := range archives {
		platform := a.Goos + "_" + a.Goarch
		seen[a.Extra.ID+" "+platform] = true
		ext := ""
		if a.Goos == "windows" {
			ext = ".exe"
		}
		var wantName string
		var wantEntries []string
		switch a.Extra.ID {
		case "plugin":
			base := fmt.Sprintf("%s_v%s_x5.0_%s", projectName, d.version, platform)
			wantName, wantEntries = base+".zip", []string{base + ext}
		case "cli":
			format := ".tar.gz"
			if a.Goos == "windows" {
				format = ".zip"
			}
			wantName = fmt.Sprintf("imagefamily_v%s_%s%s", d.version, platform, format)
			wantEntries = []string{"README.md", "docs/cli.md", "imagefamily" + ext} // sorted
		default:
			t.Errorf("unexpected archive %s (id %q)", a.Name, a.Extra.ID)
			continue
		}
		if a.Name != wantName {
			t.Errorf("archive %q, want %q", a.Name, wantName)
		}
		if got := archiveEntries(t, d.path(a)); strings.Join(got, " ") != strings.Join(wantEntries, " ") {
			t.Errorf("%s holds %v, want %v", a.Name, got, wantEntries)
		}
		if a.Extra.ID == "cli" && a.Goos == runtime.GOOS && a.Goarch == runtime.GOARCH {
			checkCLI(t, d.path(a))
		}
		if sum, ok := listed[a.Name]; !ok {
			t.Errorf("%s is not in %s", a.Name, sums.Name)
		} else if got := fileSHA256(t, d.path(a)); got != sum {
			t.Errorf("%s: sha256 %s, %s says %s", a.Name, got, sums.Name, sum)
		}
	}
	for _, id := range []string{"plugin", "cli"} {
		for _, p := range platforms {
			if !seen[id+" "+p] {
				t.Errorf("no %s archive for %s", id, p)
			}
		}
	}
}

// readDist reads dist/metadata.json and dist/artifacts.json, skipping the
// test when there is no dist/ and make did not ask for one.
func readDist(t *testing.T) dist {
	t.Helper()
	dir, required := os.Getenv(distEnv), true
	if dir == "" {
		dir, required = filepath.Join(modroot.Dir(t), "dist"), false
	}
	meta, err := os.ReadFile(filepath.Join(dir, "metadata.json"))
	if errors.Is(err, os.ErrNotExist) && !required {
		t.Skipf("no goreleaser output in %s: run `make release-single` or `make release-snapshot` (make test runs the first)", dir)
	}
	if err != nil {
		t.Fatalf("%s=%s: %v (make release-single writes it)", distEnv, dir, err)
	}
	var m struct {
		Version string `json:"version"`
		Tag     string `json:"tag"`
		Commit  string `json:"commit"`
	}
	if err := json.Unmarshal(meta, &m); err != nil || m.Version == "" {
		t.Fatalf("%s/metadata.json: no version (%v)", dir, err)
	}
	// goreleaser falls back to tag v0.0.0 and commit "none" when it cannot
	// read the repository (no tag, no remote); make names both.
	if m.Tag != "v"+m.Version || len(m.Commit) != 40 {
		t.Errorf("%s/metadata.json: tag %q and commit %q; want v%s and the commit built", dir, m.Tag, m.Commit, m.Version)
	}
	b, err := os.ReadFile(filepath.Join(dir, "artifacts.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := dist{dir: dir, root: filepath.Dir(dir), version: m.Version}
	if err := json.Unmarshal(b, &d.artifacts); err != nil {
		t.Fatalf("%s/artifacts.json: %v", dir, err)
	}
	return d
}

func (d dist) path(a artifact) string {
	if filepath.IsAbs(a.Path) {
		return a.Path
	}
	return filepath.Join(d.root, filepath.FromSlash(a.Path))
}

// pluginBinary returns this platform's released plugin binary: unpacked
// from its zip when there is one, else goreleaser's build output.
func pluginBinary(t *testing.T, d dist) (path string, fromArchive bool) {
	t.Helper()
	var bin *artifact
	for i, a := range d.artifacts {
		if a.Extra.ID != "plugin" || a.Goos != runtime.GOOS || a.Goarch != runtime.GOARCH {
			continue
		}
		switch a.Type {
		case "Archive":
			return unzipSingle(t, d.path(a)), true
		case "Binary":
			bin = &d.artifacts[i]
		}
	}
	if bin == nil {
		t.Fatalf("%s/artifacts.json has no plugin build for %s/%s", d.dir, runtime.GOOS, runtime.GOARCH)
	}
	return d.path(*bin), false
}

// unzipSingle extracts the only file of a plugin zip into a temporary
// directory, keeping its name, and returns its path.
func unzipSingle(t *testing.T, archive string) string {
	t.Helper()
	zr, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		t.Fatalf("%s holds %d files, a plugin archive holds only the binary", archive, len(zr.File))
	}
	f := zr.File[0]
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := filepath.Join(t.TempDir(), filepath.Base(f.Name))
	w, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, rc); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// archiveEntries lists the files of a .zip or .tar.gz archive, sorted.
func archiveEntries(t *testing.T, archive string) []string {
	t.Helper()
	var names []string
	if strings.HasSuffix(archive, ".zip") {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
	} else {
		forEachTarEntry(t, archive, func(h *tar.Header, _ io.Reader) { names = append(names, h.Name) })
	}
	sort.Strings(names)
	return names
}

func forEachTarEntry(t *testing.T, archive string, fn func(*tar.Header, io.Reader)) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", archive, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", archive, err)
		}
		fn(h, tr)
	}
}

// checkCLI unpacks this platform's imagefamily from its archive and runs a
// command that needs no network.
func checkCLI(t *testing.T, archive string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Log("the windows CLI archive is a zip: checked by its entries only")
		return
	}
	bin := filepath.Join(t.TempDir(), "imagefamily")
	forEachTarEntry(t, archive, func(h *tar.Header, r io.Reader) {
		if h.Name != "imagefamily" {
			return
		}
		w, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	})
	out, err := exec.Command(bin, "name", "--os", "debian-12", "--software", "nginx", "--version", "1.26.0",
		"--timestamp", "2026-11-26T06:47:30Z").CombinedOutput()
	if err != nil {
		t.Fatalf("%s from %s: %v\n%s", bin, archive, err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "debian-12-nginx-1-26-0-v20261126t064730" {
		t.Errorf("imagefamily name from the released CLI printed %q", got)
	}
}

type description struct {
	Version    string `json:"version"`
	APIVersion string `json:"api_version"`
}

func describe(t *testing.T, binary string) description {
	t.Helper()
	out, err := exec.Command(binary, "describe").Output()
	if err != nil {
		t.Fatalf("%s describe: %v", binary, err)
	}
	var d description
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("%s describe: %v\n%s", binary, err, out)
	}
	return d
}

// readSums reads a SHA256SUMS file: "<hex>  <name>" per line.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("%s: malformed line %q", path, line)
		}
		sums[name] = sum
	}
	return sums
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func containsLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
