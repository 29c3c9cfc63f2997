// Package permissions_test holds docs/permissions.md to what the code does:
// every CLI command and every Packer component runs against the emulator,
// each through an endpoint of its own so that each API call is counted for
// the command or component that made it, and every method it called must be
// in its row of the page, have a permission in the page's method table, and
// that permission must be in the page's operator role (and, for what only
// reads, in the viewer role).
package permissions_test

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Clean()
	os.Exit(code)
}

// page is what docs/permissions.md says.
type page struct {
	permissions map[string][]string // API method -> IAM permissions
	rows        map[string][]string // command or component -> API methods
	roles       map[string][]string // role title -> included permissions
}

var (
	tableRow = regexp.MustCompile(`^\|\s*(.*?)\s*\|\s*(.*?)\s*\|`)
	ticked   = regexp.MustCompile("`([^`]+)`")
	isMethod = regexp.MustCompile(`^[a-z][A-Za-z]*\.[a-z][A-Za-z]*$`)
	isPerm   = regexp.MustCompile(`^compute\.[A-Za-z]+\.[A-Za-z]+$`)
)

// parsePage reads the page's tables (a row is a method when its first cell is
// one, else a command or component when its second cell names methods or
// says none) and its ```yaml role definitions.
func parsePage(doc string) (page, error) {
	p := page{permissions: map[string][]string{}, rows: map[string][]string{}, roles: map[string][]string{}}
	var (
		inYAML bool
		block  strings.Builder
	)
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```yaml":
			inYAML = true
			block.Reset()
			continue
		case inYAML && line == "```":
			inYAML = false
			// The fields of gcloud iam roles create --file (an IAM Role);
			// anything else is refused, as gcloud refuses it.
			var role struct {
				Title       string   `json:"title"`
				Description string   `json:"description"`
				Stage       string   `json:"stage"`
				Permissions []string `json:"includedPermissions"`
			}
			if err := yaml.UnmarshalStrict([]byte(block.String()), &role); err != nil {
				return p, fmt.Errorf("a role definition: %w\n%s", err, block.String())
			}
			if role.Title == "" || len(role.Permissions) == 0 || !slices.Contains([]string{"ALPHA", "BETA", "GA", "DEPRECATED", "DISABLED", "EAP"}, role.Stage) {
				return p, fmt.Errorf("a role definition needs a title, a launch stage (GA, BETA...) and includedPermissions:\n%s", block.String())
			}
			p.roles[role.Title] = role.Permissions
			continue
		case inYAML:
			block.WriteString(line + "\n")
			continue
		}
		m := tableRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		first, second := m[1], m[2]
		if name := ticked.FindStringSubmatch(first); name != nil && isMethod.MatchString(name[1]) && first == "`"+name[1]+"`" {
			for _, t := range ticked.FindAllStringSubmatch(second, -1) {
				if isPerm.MatchString(t[1]) {
					p.permissions[name[1]] = append(p.permissions[name[1]], t[1])
				}
			}
			continue
		}
		if second == "none" {
			p.rows[strings.Trim(first, "`")] = []string{}
			continue
		}
		var methods []string
		for _, t := range ticked.FindAllStringSubmatch(second, -1) {
			if isMethod.MatchString(t[1]) {
				methods = append(methods, t[1])
			}
		}
		if len(methods) > 0 {
			p.rows[strings.Trim(first, "`")] = methods
		}
	}
	if inYAML {
		return p, errors.New("a ```yaml block is never closed")
	}
	return p, sc.Err()
}

func TestParsePageReadsMethodsRowsAndRoles(t *testing.T) {
	doc := "| API method | IAM permission | on |\n| --- | --- | --- |\n" +
		"| `images.insert` | `compute.images.create`, and `compute.images.useReadOnly` | the project |\n" +
		"| command | API methods |\n| --- | --- |\n" +
		"| `imagefamily rotate` | `images.list`, `images.deprecate` |\n" +
		"| `imagefamily name` | none |\n" +
		"| `--flag` | not a row of methods |\n" +
		"```yaml\ntitle: R\nstage: GA\ndescription: d\nincludedPermissions:\n  - compute.images.get\n```\n"
	p, err := parsePage(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.permissions["images.insert"]; !slices.Equal(got, []string{"compute.images.create", "compute.images.useReadOnly"}) {
		t.Errorf("images.insert needs %v", got)
	}
	if got := p.rows["imagefamily rotate"]; !slices.Equal(got, []string{"images.list", "images.deprecate"}) {
		t.Errorf("rotate calls %v", got)
	}
	if got, ok := p.rows["imagefamily name"]; !ok || len(got) != 0 {
		t.Errorf("name: %v, %v", got, ok)
	}
	if _, ok := p.rows["--flag"]; ok {
		t.Error("a row naming no method was read as a command")
	}
	if got := p.roles["R"]; !slices.Equal(got, []string{"compute.images.get"}) {
		t.Errorf("role R: %v", got)
	}
	if _, err := parsePage("```yaml\ntitle: R\nunknownField: 1\n```\n"); err == nil {
		t.Error("a role with a field gcloud does not know was accepted")
	}
}

// recorder counts the API methods each surface (command or component)
// calls. Every surface gets a listener of its own onto one emulator, and
// requests are served one at a time, so the emulator's OnRequest, called
// before ServeHTTP returns, knows whose call it reports.
type recorder struct {
	mu      sync.Mutex
	current string
	calls   map[string]map[string]int // surface -> method -> count
	srv     *emulator.Server
}

func (r *recorder) onRequest(method string, status int) {
	// r.mu is held by serve while the emulator answers.
	if r.calls[r.current] == nil {
		r.calls[r.current] = map[string]int{}
	}
	r.calls[r.current][method]++
}

// endpoint is a new listener whose calls count for surface.
func (r *recorder) endpoint(t *testing.T, surface string) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.current = surface
		r.srv.ServeHTTP(w, req)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

func (r *recorder) methods(surface string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for m := range r.calls[surface] {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

const (
	project     = "acme-images"
	prodProject = "acme-prod"
)

// fixtures: families whose every image has a step due, so that each
// command's writes happen, and a lineage for outdated and revoke.
func fixtures(t *testing.T, srv *emulator.Server) {
	t.Helper()
	past := func(d string) *string { return proto.String("2020-01-0" + d + "T00:00:00Z") }
	img := func(name, family string, labels map[string]string, dep *computepb.DeprecationStatus) *computepb.Image {
		return &computepb.Image{Name: proto.String(name), Family: proto.String(family), Labels: labels, Deprecated: dep,
			RawDisk: &computepb.RawDisk{Source: proto.String("https://storage.googleapis.com/x/d.tar.gz")}}
	}
	images := []struct {
		project string
		image   *computepb.Image
	}{
		// web: one image in each state with its next step long due.
		{project, img("web-v1", "web", nil, &computepb.DeprecationStatus{State: proto.String("DELETED"), Deprecated: past("1"), Obsolete: past("2"), Deleted: past("3")})},
		{project, img("web-v2", "web", nil, &computepb.DeprecationStatus{State: proto.String("OBSOLETE"), Deprecated: past("1"), Obsolete: past("2"), Deleted: past("3")})},
		{project, img("web-v3", "web", nil, &computepb.DeprecationStatus{State: proto.String("DEPRECATED"), Deprecated: past("1"), Obsolete: past("2"), Deleted: past("3")})},
		{project, img("web-v4", "web", nil, nil)},
		{project, img("web-v5", "web", nil, nil)},
		// app: its head was built on web-v4, no longer web's head.
		{project, img("app-v1", "app", map[string]string{lifecycle.LabelParentImage: "web-v4", lifecycle.LabelParentFamily: "web", lifecycle.LabelParentProject: project}, nil)},
		// api: rolled back from api-v2 to the ACTIVE api-v1.
		{project, img("api-v1", "api", nil, nil)},
		{project, img("api-v2", "api", nil, nil)},
		// db: rolled back to the DEPRECATED db-v1, which takes a copy.
		{project, img("db-v1", "db", nil, &computepb.DeprecationStatus{State: proto.String("DEPRECATED"), Deprecated: past("1")})},
		{project, img("db-v2", "db", nil, nil)},
		// lib-v1 is revoked with its descendant svc-v1 (neither a head).
		{project, img("lib-v1", "lib", nil, nil)},
		{project, img("lib-v2", "lib", nil, nil)},
		{project, img("svc-v1", "svc", map[string]string{lifecycle.LabelParentImage: "lib-v1", lifecycle.LabelParentFamily: "lib", lifecycle.LabelParentProject: project}, nil)},
		{project, img("svc-v2", "svc", nil, nil)},
		// prod's web family, which the release of a promoted image rotates.
		{prodProject, img("web-old-v1", "web", nil, nil)},
		{prodProject, img("web-old-v2", "web", nil, nil)},
	}
	// The emulator makes creation times strictly increasing: the newest
	// image of each family is the last one above.
	for _, i := range images {
		if err := srv.PutImage(i.project, i.image); err != nil {
			t.Fatal(err)
		}
	}
}

// cli runs the imagefamily CLI against endpoint; the exit codes in ok are
// success (outdated exits 3 when it finds an outdated head).
func cli(t *testing.T, endpoint string, ok []int, args ...string) {
	t.Helper()
	// Through the environment rather than --endpoint, which name does not
	// take: a call it made would still be counted.
	cmd := exec.Command(gobuild.CLI(t), args...)
	cmd.Env = append(os.Environ(), "IMAGEFAMILY_COMPUTE_ENDPOINT="+endpoint)
	out, err := cmd.CombinedOutput()
	code := cmd.ProcessState.ExitCode()
	if err != nil && !slices.Contains(ok, code) {
		t.Fatalf("imagefamily %s: exit %d (%v)\n%s", strings.Join(args, " "), code, err, out)
	}
}

// components is one packer build running every component, each against an
// endpoint of its own: the three ways data "imagefamily" resolves, a
// promotion of web's head into prod, and its release there.
const components = `
data "imagefamily" "head" {
  project_id       = "acme-images"
  family           = "web"
  custom_endpoints = { compute = "%[1]s" }
}

data "imagefamily" "zonal" {
  project_id       = "acme-images"
  family           = "web"
  zone             = "us-central1-a"
  custom_endpoints = { compute = "%[1]s" }
}

data "imagefamily" "pinned" {
  project_id       = "acme-images"
  family           = "web"
  image            = "web-v4"
  custom_endpoints = { compute = "%[1]s" }
}

data "imagefamily-name" "prod" {
  software  = "web"
  version   = "1.0"
  template  = "web-{version}-{timestamp}"
  timestamp = "2026-11-26T06:47:30Z"
}

source "imagefamily-promote" "prod" {
  source_family     = "web"
  source_project_id = "acme-images"
  project_id        = "acme-prod"
  image_name        = data.imagefamily-name.prod.name
  custom_endpoints  = { compute = "%[2]s" }
}

build {
  sources = ["source.imagefamily-promote.prod"]

  post-processor "imagefamily-release" {
    project_id = "acme-prod"
    family     = "web"
    parent     = data.imagefamily.head.self_link
    rotation {
      keep_active = 1
      min_age     = "0s"
    }
    custom_endpoints = { compute = "%[3]s" }
  }
}
`

// forcedPromotion replaces, under packer build -force, an image that
// belongs to prod's family web (a DEPRECATED one, which nothing protects
// once the release above has run): the promotion then holds the family's
// lease and checks that nothing uses the image it deletes.
const forcedPromotion = `
source "imagefamily-promote" "replace" {
  source_image     = "projects/acme-images/global/images/web-v4"
  project_id       = "acme-prod"
  image_name       = "web-old-v2"
  custom_endpoints = { compute = "%s" }
}

build {
  sources = ["source.imagefamily-promote.replace"]
}
`

func TestPermissionsPageListsEveryMethodEachSurfaceCalls(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(modroot.Dir(t), "docs", "permissions.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parsePage(string(b))
	if err != nil {
		t.Fatalf("docs/permissions.md: %v", err)
	}

	rec := &recorder{calls: map[string]map[string]int{}}
	if rec.srv, err = emulator.New(emulator.Options{OnRequest: rec.onRequest}); err != nil {
		t.Fatal(err)
	}
	fixtures(t, rec.srv)

	policy := []string{"--keep-active", "1", "--min-age", "0s"}
	surfaces := []surface{
		{"imagefamily status", func(t *testing.T, ep string) {
			cli(t, ep, nil, append([]string{"status", "--project", project, "--family", "web"}, policy...)...)
		}, []string{"images.list", "instanceTemplates.aggregatedList"}, true},
		{"imagefamily outdated", func(t *testing.T, ep string) {
			cli(t, ep, []int{3}, "outdated", "--project", project)
		}, []string{"images.list"}, true},
		{"imagefamily rotate", func(t *testing.T, ep string) {
			cli(t, ep, nil, append([]string{"rotate", "--project", project, "--family", "web"}, policy...)...)
		}, []string{"images.list", "images.deprecate", "images.delete", "instances.aggregatedList"}, false},
		{"imagefamily rollback", func(t *testing.T, ep string) {
			cli(t, ep, nil, "rollback", "--project", project, "--family", "api")
			cli(t, ep, nil, "rollback", "--project", project, "--family", "db", "--to", "db-v1")
		}, []string{"images.list", "images.deprecate", "images.insert"}, false},
		{"imagefamily revoke", func(t *testing.T, ep string) {
			cli(t, ep, nil, "revoke", "--project", project, "lib-v1", "--descendants", "--reason", "cve-2026-1234")
		}, []string{"images.get", "images.list", "images.deprecate"}, false},
		{"imagefamily lineage", func(t *testing.T, ep string) {
			cli(t, ep, nil, "lineage", "--project", project)
			cli(t, ep, nil, "lineage", "--project", project, "--format", "dot")
		}, []string{"images.list"}, true},
		{"imagefamily name", func(t *testing.T, ep string) {
			cli(t, ep, nil, "name", "--os", "debian-12", "--software", "nginx", "--version", "1.26.0")
		}, nil, true},
	}
	for _, s := range surfaces {
		s.run(t, rec.endpoint(t, s.name))
	}
	// The emulator is served only through the surfaces' endpoints: a call
	// counted for no surface would be a bug of this test.
	if stray := rec.methods(""); len(stray) > 0 {
		t.Fatalf("calls counted for no surface: %v", stray)
	}

	// The components, in one packer build.
	env := packerrun.Env(t)
	packerrun.InstallPlugin(t, env, gobuild.Plugin(t), packerrun.PluginSource)
	dir := t.TempDir()
	ds, promote, release := rec.endpoint(t, `data "imagefamily"`), rec.endpoint(t, `source "imagefamily-promote"`),
		rec.endpoint(t, `post-processor "imagefamily-release"`)
	packerrun.WriteTemplate(t, dir, fmt.Sprintf(components, ds+"/compute/v1/", promote+"/compute/v1/", release+"/compute/v1/"))
	if stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", "."); err != nil {
		t.Fatalf("packer build: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	forced := t.TempDir()
	packerrun.WriteTemplate(t, forced, fmt.Sprintf(forcedPromotion, promote+"/compute/v1/"))
	if stdout, stderr, err := packerrun.Run(t, env, forced, "build", "-color=false", "-force", "."); err != nil {
		t.Fatalf("packer build -force: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	surfaces = append(surfaces,
		surface{`data "imagefamily"`, nil, []string{"images.getFromFamily", "imageFamilyViews.get", "images.get"}, true},
		surface{`data "imagefamily-name"`, nil, nil, true},
		surface{`source "imagefamily-promote"`, nil, []string{"images.getFromFamily", "images.insert", "images.delete", "images.setLabels"}, false},
		surface{`post-processor "imagefamily-release"`, nil, []string{"images.setLabels", "images.patch", "images.list", "images.deprecate"}, false},
	)

	operator, viewer := doc.roles["Image family operator"], doc.roles["Image family viewer"]
	if len(operator) == 0 || len(viewer) == 0 {
		t.Fatalf("docs/permissions.md defines the roles %v; want Image family operator and Image family viewer", keys(doc.roles))
	}
	for _, s := range surfaces {
		t.Run(s.name, func(t *testing.T) {
			called := rec.methods(s.name)
			t.Logf("called %v", called)
			documented, ok := doc.rows[s.name]
			if !ok {
				t.Fatalf("docs/permissions.md has no row for %s", s.name)
			}
			for _, m := range s.must {
				if !slices.Contains(called, m) {
					t.Errorf("the run called no %s: it did not do what it is there to show", m)
				}
			}
			for _, m := range called {
				if !slices.Contains(documented, m) {
					t.Errorf("%s calls %s, which its row in docs/permissions.md does not list", s.name, m)
				}
			}
			for _, m := range documented {
				perms, ok := doc.permissions[m]
				if !ok {
					t.Errorf("%s's row lists %s, which the method table does not give a permission", s.name, m)
				}
				for _, p := range perms {
					if !slices.Contains(operator, p) {
						t.Errorf("%s (for %s) is not in the Image family operator role", p, m)
					}
					if s.readOnly && !slices.Contains(viewer, p) {
						t.Errorf("%s (for %s, which %s calls) is not in the Image family viewer role", p, m, s.name)
					}
				}
			}
		})
	}
}

// surface is a command or a component: its row in docs/permissions.md, and
// the run that shows what it calls (components run in one packer build).
type surface struct {
	name string
	run  func(t *testing.T, endpoint string)
	// must: methods the run has to call, so that a run that quietly did
	// nothing cannot pass.
	must []string
	// readOnly: its permissions must be in the viewer role as well.
	readOnly bool
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
