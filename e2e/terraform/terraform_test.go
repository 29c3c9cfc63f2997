// Package terraform_test runs the real Terraform Google provider against
// `imagefamily emulator`: every resource kind the emulator serves to it
// (testdata/all) and the Terraform half of the example pipeline
// (example/terraform) apply, re-plan with no changes, refresh with no drift
// but the provider's own, keep their images through `imagefamily rotate`
// and destroy.
//
// It needs a provider binary, which the Go module proxy does not serve (see
// README, "Emulator"): TF_PROVIDER_GOOGLE=/path/to/terraform-provider-google
// (or the directory holding it) and terraform on PATH. `make test-terraform`
// sets IMAGEFAMILY_TERRAFORM=1, which turns a missing provider into a
// failure; in `make test` the test only says how to run it.
package terraform_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Clean()
	os.Exit(code)
}

const (
	imageProject = "acme-images"
	family       = "app-nginx"
	// Where the Terraform resources live: the rotation looks for users
	// there with --in-use-projects.
	allProject     = "acme-prod"
	exampleProject = "acme-shop"
)

// The family, newest first: what each image is to the resources below.
var images = []struct {
	name   string
	ageDay int
	usedBy string // "" for none: the rotation deprecates it
}{
	{"debian-12-nginx-1-27-0-v20261120t080000", 6, "the family head: instance vm-1, disk data-1"},
	{"debian-12-nginx-1-26-3-v20261115t080000", 11, ""},
	{"debian-12-nginx-1-26-2-v20261110t080000", 16, "example/terraform's template and group"},
	{"debian-12-nginx-1-26-1-v20261105t080000", 21, "the global template web-* and group web"},
	{"debian-12-nginx-1-26-0-v20261101t080000", 25, "the regional template and group web-regional"},
	{"debian-12-nginx-1-25-4-v20261025t080000", 32, ""},
}

// env is what every step runs with.
type env struct {
	t         *testing.T
	terraform string
	cli       string
	endpoint  string
	baseEnv   []string
	emuLog    *requestLog
	figures   []string
}

func TestTerraformProviderAppliesReplansRefreshesRotatesAndDestroys(t *testing.T) {
	provider := os.Getenv("TF_PROVIDER_GOOGLE")
	if provider == "" {
		msg := "TF_PROVIDER_GOOGLE is not set: build hashicorp/terraform-provider-google v7.45.0 from its source (README, \"Emulator\") and run make test-terraform TF_PROVIDER_GOOGLE=/path/to/terraform-provider-google"
		if os.Getenv("IMAGEFAMILY_TERRAFORM") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	terraform, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatalf("terraform is not on PATH: %v", err)
	}
	e := &env{t: t, terraform: terraform, cli: gobuild.CLI(t)}
	e.baseEnv = providerEnv(t, provider)
	e.startEmulator()
	root := modroot.Dir(t)

	all := e.workdir("all", filepath.Join(root, "e2e", "terraform", "testdata", "all"), map[string]string{
		"endpoint": e.endpoint, "project": allProject, "image_project": imageProject, "family": family,
		"template_image": images[3].name, "regional_template_image": images[4].name,
	})
	example := e.workdir("example", filepath.Join(root, "example", "terraform"), map[string]string{
		"compute_endpoint": e.endpoint, "access_token": "emulator-token-not-a-secret", "project": exampleProject,
		"image_project": imageProject, "image": images[2].name,
	})

	for _, dir := range []string{all, example} {
		e.step(filepath.Base(dir)+" apply", dir, "apply", "-auto-approve", "-input=false")
		e.replanClean(dir)
		e.refreshClean(dir)
	}

	// The rotation keeps every image a Terraform resource uses, and
	// deprecates the others: the in-use scan made the difference.
	start := time.Now()
	out, err := e.run("", e.cli, "rotate", "--project", imageProject, "--family", family, "--keep-active", "1", "--min-age", "0",
		"--in-use-projects", allProject+","+exampleProject, "--format", "json")
	if err != nil {
		t.Fatalf("imagefamily rotate: %v\n%s", err, out)
	}
	e.figure("imagefamily rotate", time.Since(start), 0)
	states := e.imageStates()
	for _, img := range images {
		want := "ACTIVE"
		if img.usedBy == "" {
			want = "DEPRECATED"
		}
		if states[img.name] != want {
			t.Errorf("after the rotation %s is %s, want %s (%s)", img.name, states[img.name], want, orNone(img.usedBy))
		}
	}

	// A release later: the example pins the head and the group rolls to it.
	e.setVar(example, "image", images[0].name)
	e.step("example roll to a new image", example, "apply", "-auto-approve", "-input=false")
	e.replanClean(example)
	if got := e.bootImagesOf(exampleProject, "app-"); len(got) != 2 || got[0] != images[0].name || got[1] != images[0].name {
		t.Errorf("the example group's instances boot from %v after the new pin, want two from %s", got, images[0].name)
	}

	for _, dir := range []string{example, all} {
		e.step(filepath.Base(dir)+" destroy", dir, "destroy", "-auto-approve", "-input=false")
	}
	for _, p := range []string{allProject, exampleProject} {
		if left := e.leftovers(p); len(left) > 0 {
			t.Errorf("left in %s after destroy: %v", p, left)
		}
	}
	t.Logf("figures (provider %s, %s):\n%s", filepath.Base(provider), terraformVersion(t, terraform), strings.Join(e.figures, "\n"))
}

func orNone(s string) string {
	if s == "" {
		return "used by nothing"
	}
	return "used by " + s
}

// providerEnv is terraform's environment: a CLI configuration whose
// dev_overrides install the provider without `terraform init` (init would
// ask the registry), and nothing of the caller's Google settings.
func providerEnv(t *testing.T, provider string) []string {
	t.Helper()
	info, err := os.Stat(provider)
	if err != nil {
		t.Fatalf("TF_PROVIDER_GOOGLE=%s: %v", provider, err)
	}
	dir := provider
	if !info.IsDir() {
		dir = t.TempDir()
		abs, err := filepath.Abs(provider)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, "terraform-provider-google")); err != nil {
			t.Fatal(err)
		}
	} else if _, err := os.Stat(filepath.Join(dir, "terraform-provider-google")); err != nil {
		t.Fatalf("TF_PROVIDER_GOOGLE=%s: the directory holds no terraform-provider-google", provider)
	}
	cfg := filepath.Join(t.TempDir(), "terraform.tfrc")
	body := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"hashicorp/google\" = %q\n  }\n  direct {}\n}\n", dir)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GOOGLE_") || strings.HasPrefix(name, "CLOUDSDK_") || strings.HasPrefix(name, "TF_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "TF_CLI_CONFIG_FILE="+cfg, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_INPUT=0")
}

func terraformVersion(t *testing.T, terraform string) string {
	out, err := exec.Command(terraform, "version").Output()
	if err != nil {
		return "terraform ?"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

// startEmulator runs `imagefamily emulator` as users run it, on a state
// file holding the family, until the test ends.
func (e *env) startEmulator() {
	t := e.t
	now := time.Now().UTC()
	var raw []json.RawMessage
	for _, img := range images {
		b, _ := json.Marshal(map[string]any{
			"name": img.name, "family": family, "diskSizeGb": "10",
			"creationTimestamp": now.Add(-time.Duration(img.ageDay) * 24 * time.Hour).Format("2006-01-02T15:04:05.000Z07:00"),
			"rawDisk":           map[string]string{"source": "https://storage.googleapis.com/acme-raw/" + img.name + ".tar.gz"},
		})
		raw = append(raw, b)
	}
	state, _ := json.Marshal(map[string]any{"projects": map[string]any{imageProject: map[string]any{"images": raw}}})
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, state, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.cli, "emulator", "--listen", "127.0.0.1:0", "--state", path, "--verbose")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	e.emuLog = &requestLog{}
	cmd.Stderr = e.emuLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	endpoint, ok := strings.CutPrefix(strings.TrimSpace(line), "IMAGEFAMILY_COMPUTE_ENDPOINT=")
	if err != nil || !ok {
		t.Fatalf("the emulator's first line %q (%v), want IMAGEFAMILY_COMPUTE_ENDPOINT=...", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	e.endpoint = endpoint
}

// requestLog counts the calls the emulator logs with --verbose.
type requestLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	calls int
	bad   []string // non-2xx answers other than 404s
}

func (l *requestLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			break
		}
		f := strings.Fields(line)
		if len(f) >= 4 {
			l.calls++
			if !strings.HasPrefix(f[3], "2") && f[3] != "404" {
				l.bad = append(l.bad, strings.TrimSpace(line))
			}
		}
	}
	return len(p), nil
}

func (l *requestLog) snapshot() (int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls, slices.Clone(l.bad)
}

// workdir copies a configuration into a directory of its own, with vars
// as terraform.tfvars.json, so that state files stay out of the tree.
func (e *env) workdir(name, src string, vars map[string]string) string {
	t := e.t
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if !strings.HasSuffix(en.Name(), ".tf") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, en.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.writeVars(dir, vars)
	return dir
}

func (e *env) writeVars(dir string, vars map[string]string) {
	b, _ := json.MarshalIndent(vars, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars.json"), b, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) setVar(dir, name, value string) {
	b, err := os.ReadFile(filepath.Join(dir, "terraform.tfvars.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	vars := map[string]string{}
	if err := json.Unmarshal(b, &vars); err != nil {
		e.t.Fatal(err)
	}
	vars[name] = value
	e.writeVars(dir, vars)
}

// run runs a command in dir with terraform's environment.
func (e *env) run(dir, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(e.baseEnv), "IMAGEFAMILY_COMPUTE_ENDPOINT="+e.endpoint)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// step runs one terraform command that must succeed and records its
// figures: wall time and the API calls it made.
func (e *env) step(name, dir string, args ...string) string {
	e.t.Helper()
	before, _ := e.emuLog.snapshot()
	start := time.Now()
	out, err := e.run(dir, e.terraform, args...)
	if err != nil {
		e.t.Fatalf("%s: terraform %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	after, bad := e.emuLog.snapshot()
	e.figure(name, time.Since(start), after-before)
	if len(bad) > 0 {
		e.t.Errorf("%s: the emulator answered errors other than 404:\n%s", name, strings.Join(bad, "\n"))
	}
	return out
}

func (e *env) figure(name string, d time.Duration, calls int) {
	line := fmt.Sprintf("%-36s %6.1f s", name, d.Seconds())
	if calls > 0 {
		line += fmt.Sprintf(", %d API calls", calls)
	}
	e.figures = append(e.figures, line)
}

// replanClean: a plan right after an apply has nothing to do.
func (e *env) replanClean(dir string) {
	e.t.Helper()
	before, _ := e.emuLog.snapshot()
	start := time.Now()
	out, err := e.run(dir, e.terraform, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	if err != nil {
		e.t.Fatalf("%s: re-plan after apply is not clean (%v):\n%s", filepath.Base(dir), err, out)
	}
	after, _ := e.emuLog.snapshot()
	e.figure(filepath.Base(dir)+" re-plan (no changes)", time.Since(start), after-before)
}

// refreshClean: a refresh-only plan finds nothing changed outside
// Terraform, but the provider's own null-to-empty changes, which no answer
// of Compute Engine's can avoid (see nullToEmpty); once applied, a second
// refresh-only plan finds nothing at all.
func (e *env) refreshClean(dir string) {
	t := e.t
	t.Helper()
	name := filepath.Base(dir)
	drift := e.refreshDrift(dir)
	for _, d := range drift {
		if !d.nullToEmpty() {
			t.Errorf("%s: refresh-only plan: %s", name, d)
		}
	}
	e.figures = append(e.figures, fmt.Sprintf("%-36s %d attributes null -> empty (the provider's), nothing else", name+" refresh-only drift", len(drift)))
	e.step(name+" apply -refresh-only", dir, "apply", "-refresh-only", "-auto-approve", "-input=false")
	for _, d := range e.refreshDrift(dir) {
		t.Errorf("%s: second refresh-only plan: %s", name, d)
	}
}

type driftItem struct {
	address, path string
	before, after any
}

func (d driftItem) String() string {
	return fmt.Sprintf("%s %s: %s -> %s", d.address, d.path, js(d.before), js(d.after))
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// nullToEmpty is the one drift allowed: an attribute that was null after
// the apply and is an empty map, list or set after a refresh. The
// provider's flatteners set metadata, labels, tags, target_pools and the
// like to empty collections on every read (an instance's metadata even when
// Compute Engine returns none), and the plugin SDK keeps the planned null
// after an apply but not after a refresh: it is the provider's, and Compute
// Engine shows it too.
func (d driftItem) nullToEmpty() bool {
	if d.before != nil {
		return false
	}
	switch a := d.after.(type) {
	case map[string]any:
		return len(a) == 0
	case []any:
		return len(a) == 0
	}
	return false
}

func (e *env) refreshDrift(dir string) []driftItem {
	t := e.t
	t.Helper()
	plan := filepath.Join(dir, "refresh.plan")
	if out, err := e.run(dir, e.terraform, "plan", "-refresh-only", "-input=false", "-no-color", "-out="+plan); err != nil {
		t.Fatalf("%s: refresh-only plan: %v\n%s", filepath.Base(dir), err, out)
	}
	out, err := e.run(dir, e.terraform, "show", "-json", plan)
	if err != nil {
		t.Fatalf("terraform show -json: %v\n%s", err, out)
	}
	var p struct {
		Drift []struct {
			Address string `json:"address"`
			Change  struct {
				Before any `json:"before"`
				After  any `json:"after"`
			} `json:"change"`
		} `json:"resource_drift"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &p); err != nil {
		t.Fatalf("terraform show -json: %v\n%s", err, out)
	}
	var items []driftItem
	for _, d := range p.Drift {
		items = append(items, diff(d.Address, "", d.Change.Before, d.Change.After)...)
	}
	return items
}

func diff(address, path string, a, b any) []driftItem {
	if reflect.DeepEqual(a, b) {
		return nil
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		var out []driftItem
		for _, k := range keys {
			out = append(out, diff(address, path+"."+k, am[k], bm[k])...)
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		var out []driftItem
		for i := range al {
			out = append(out, diff(address, fmt.Sprintf("%s[%d]", path, i), al[i], bl[i])...)
		}
		return out
	}
	return []driftItem{{address, path, a, b}}
}

// get reads one API resource from the emulator.
func (e *env) get(path string, v any) {
	e.t.Helper()
	resp, err := http.Get(e.endpoint + "/compute/v1/" + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatal(err)
	}
}

// imageStates is each family image's deprecation state.
func (e *env) imageStates() map[string]string {
	var list struct {
		Items []struct {
			Name       string `json:"name"`
			Deprecated struct {
				State string `json:"state"`
			} `json:"deprecated"`
		} `json:"items"`
	}
	e.get("projects/"+imageProject+"/global/images", &list)
	out := map[string]string{}
	for _, img := range list.Items {
		out[img.Name] = img.Deprecated.State
		if out[img.Name] == "" {
			out[img.Name] = "ACTIVE"
		}
	}
	return out
}

// aggregated is an aggregated list: by scope, the resources under their
// kind's key (and a warning for an empty scope).
type aggregated struct {
	Items map[string]map[string]json.RawMessage `json:"items"`
}

func (a aggregated) of(kind string) map[string][]named {
	out := map[string][]named{}
	for scope, scoped := range a.Items {
		var rs []named
		if raw, ok := scoped[kind]; ok {
			_ = json.Unmarshal(raw, &rs)
		}
		out[scope] = rs
	}
	return out
}

type named struct {
	Name  string `json:"name"`
	Zone  string `json:"zone"`
	Disks []struct {
		Boot   bool   `json:"boot"`
		Source string `json:"source"`
	} `json:"disks"`
}

// bootImagesOf is the images the project's instances named prefix* boot
// from, following each boot disk to its sourceImage as the in-use scan
// does; sorted.
func (e *env) bootImagesOf(project, prefix string) []string {
	var agg aggregated
	e.get("projects/"+project+"/aggregated/instances", &agg)
	var out []string
	for _, instances := range agg.of("instances") {
		for _, in := range instances {
			if !strings.HasPrefix(in.Name, prefix) {
				continue
			}
			for _, d := range in.Disks {
				if !d.Boot {
					continue
				}
				var disk struct {
					SourceImage string `json:"sourceImage"`
				}
				e.get(strings.TrimPrefix(d.Source, "https://www.googleapis.com/compute/v1/"), &disk)
				out = append(out, disk.SourceImage[strings.LastIndex(disk.SourceImage, "/")+1:])
			}
		}
	}
	sort.Strings(out)
	return out
}

// leftovers lists what the project still holds of what Terraform made.
func (e *env) leftovers(project string) []string {
	var out []string
	for _, kind := range []string{"instances", "disks", "instanceTemplates", "instanceGroupManagers"} {
		var agg aggregated
		e.get("projects/"+project+"/aggregated/"+kind, &agg)
		for scope, rs := range agg.of(kind) {
			for _, r := range rs {
				out = append(out, kind+" "+scope+"/"+r.Name)
			}
		}
	}
	var imgs struct {
		Items []named `json:"items"`
	}
	e.get("projects/"+project+"/global/images", &imgs)
	for _, img := range imgs.Items {
		out = append(out, "images "+img.Name)
	}
	return out
}
