package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// hierarchy seeds base -> app -> product on Debian's family in another
// project, as releases label them, then revokes base-v1 with the CLI:
// product-v2, the product head, is built on app-v1 while app-nginx has moved
// on to app-v2, so it is outdated; debian-12-v1 is neither built on nor the
// head of its family.
func hierarchy(t *testing.T, env *emulatortest.Env) {
	t.Helper()
	onDebian := labels("imagefamily-parent-image", "debian-12-v2", "imagefamily-parent-family", "debian-12", "imagefamily-parent-project", "debian-cloud")
	put(t, env, "debian-cloud", "debian-12", "debian-12-v1", 6*day)
	put(t, env, "debian-cloud", "debian-12", "debian-12-v2", 5*day)
	put(t, env, "acme-images", "base", "base-v1", 4*day, onDebian)
	put(t, env, "acme-images", "base", "base-v2", 3*day, onDebian)
	put(t, env, "acme-images", "app", "app-v1", 3*day-time.Hour, builtOn("base-v1", "base"),
		deprecated("DEPRECATED", t0.Add(-2*day), t0.Add(5*day), t0.Add(30*day)))
	put(t, env, "acme-images", "app", "app-v2", 2*day, builtOn("base-v2", "base"))
	put(t, env, "acme-images", "product", "product-v1", 2*day-time.Hour, builtOn("app-v1", "app"),
		deprecated("DEPRECATED", t0.Add(-day), t0.Add(6*day), t0.Add(30*day)))
	put(t, env, "acme-images", "product", "product-v2", day, builtOn("app-v1", "app"))
	mustCLI(t, env, exitOK, "revoke", "--project", "acme-images", "base-v1", "--reason", "CVE-2026-0001")
}

func TestLineageDrawsTheHierarchyInBothFormats(t *testing.T) {
	env := emu(t, emulator.Options{})
	hierarchy(t, env)
	for _, c := range []struct {
		args   []string
		golden string
	}{
		{nil, "lineage_mermaid"},
		{[]string{"--format", "mermaid"}, "lineage_mermaid"},
		{[]string{"--format", "dot"}, "lineage_dot"},
	} {
		r := mustCLI(t, env, exitOK, append([]string{"lineage", "--project", "acme-images"}, c.args...)...)
		golden(t, c.golden, r.stdout)
		if r.stderr != "" {
			t.Errorf("lineage %v wrote to stderr: %s", c.args, r.stderr)
		}
	}
	r := mustCLI(t, env, exitOK, "lineage", "--project", "acme-images")
	for _, want := range []string{
		`subgraph f1["debian-cloud/debian-12"]`,
		`["base-v1<br/>OBSOLETE<br/>revoked: cve-2026-0001"]`,
		`["product-v2<br/>HEAD ACTIVE<br/>outdated: rebuild on app-v2"]`,
		`["app-v1<br/>DEPRECATED"]`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the picture lacks %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "debian-12-v1") {
		t.Errorf("the picture shows debian-12-v1, an image of another project's family that nothing was built on:\n%s", r.stdout)
	}
}

func TestLineageRefusesAFormatItCannotDraw(t *testing.T) {
	env := emu(t, emulator.Options{})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--project", "acme-images", "--format", "table"}, `imagefamily lineage: --format "table": must be mermaid or dot`},
		{[]string{"--project", "acme-images", "--format", "json"}, `imagefamily lineage: --format "json": must be mermaid or dot`},
		{nil, "imagefamily lineage: --project is required"},
		{[]string{"--project", "acme-images", "extra"}, `imagefamily lineage: unexpected argument "extra": lineage takes flags only`},
	} {
		r := mustCLI(t, env, exitUsage, append([]string{"lineage"}, c.args...)...)
		if !strings.HasPrefix(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("lineage %v: stderr %q stdout %q, want stderr starting %q", c.args, r.stderr, r.stdout, c.want)
		}
	}
}

func TestLineageOfAProjectWithoutImagesIsAnEmptyPicture(t *testing.T) {
	env := emu(t, emulator.Options{})
	r := mustCLI(t, env, exitOK, "lineage", "--project", "acme-images", "--format", "dot")
	if !strings.Contains(r.stdout, "digraph lineage {") || strings.Contains(r.stdout, "subgraph") {
		t.Errorf("want a graph with no lanes, got:\n%s", r.stdout)
	}
}

func TestLineageWarnsOfAParentFamilyItCannotReadAndDrawsTheParentFromTheLabels(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "app", "app-v1", day,
		labels("imagefamily-parent-image", "os-v1", "imagefamily-parent-family", "os", "imagefamily-parent-project", "locked"))
	// The emulator behind a gate that answers for project locked as Compute
	// Engine does for a project the caller may not read.
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/projects/locked/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"error":{"code":403,"message":"Required 'compute.images.list' permission for 'projects/locked'","errors":[{"message":"Required 'compute.images.list' permission for 'projects/locked'","domain":"global","reason":"forbidden"}]}}`)
			return
		}
		env.Server.ServeHTTP(w, r)
	}))
	t.Cleanup(gate.Close)
	r := mustCLI(t, &emulatortest.Env{Server: env.Server, URL: gate.URL}, exitOK, "lineage", "--project", "acme-images")
	if !strings.HasPrefix(r.stderr, "imagefamily lineage: warning: parent family locked/os: ") || !strings.Contains(r.stderr, "compute.images.list") {
		t.Errorf("stderr %q, want a warning naming locked/os and Compute Engine's reason", r.stderr)
	}
	for _, want := range []string{`n2["os-v1<br/>not read"]`, "n2 --> n1", `subgraph f1["acme-images/app"]`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the picture lacks %s:\n%s", want, r.stdout)
		}
	}
}
