package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/planfile"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// labelImage sets a label on an image behind the CLI's back, as another
// operator would.
func labelImage(t *testing.T, env *emulatortest.Env, project, name, key, value string) {
	t.Helper()
	c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.URL}}, gceOptions...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	img, err := c.GetImage(context.Background(), project, name)
	if err != nil {
		t.Fatal(err)
	}
	img.Project = project
	if err := c.SetLabelsFrom(context.Background(), img, func(cur map[string]string) (map[string]string, error) {
		out := map[string]string{key: value}
		for k, v := range cur {
			out[k] = v
		}
		return out, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestApplyCarriesOutExactlyTheReviewedPlan(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	plan := filepath.Join(t.TempDir(), "plan.json")
	dry := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--out", plan)
	if !strings.Contains(dry.stdout, "Plan: 1 to deprecate, 1 to mark-deleted") {
		t.Errorf("rotate --out prints no plan:\n%s", dry.stdout)
	}
	if img, _ := image(t, env, "acme-images", "web-v2"); img.State != "ACTIVE" {
		t.Fatalf("--out changed web-v2 to %s: it is a dry run", img.State)
	}
	f, err := os.Open(plan)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planfile.Read(f)
	f.Close()
	if err != nil || p.Command != "rotate" || len(p.Parts) != 1 || len(p.Leases) != 1 {
		t.Fatalf("plan file: %+v, %v", p, err)
	}
	// Applied six days after the review, when web-v1's obsolete date has
	// come: the plan is carried out as reviewed, nothing is added to it.
	setNow(t, t0.Add(6*day))
	r := mustCLI(t, env, exitOK, "apply", plan, "--format", "json")
	var out applyOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.FormatVersion != 1 || out.Summary.Done != 2 || out.Summary.Failed != 0 || out.Summary.Skipped != 0 {
		t.Errorf("apply: %+v", out)
	}
	for name, want := range map[string]string{"web-v1": "DEPRECATED", "web-v5": "ACTIVE", "web-v2": "DEPRECATED", "web-v0": "DELETED"} {
		if img, _ := image(t, env, "acme-images", name); img.State != want {
			t.Errorf("%s = %s, want %s", name, img.State, want)
		}
	}
	if want := "imagefamily apply: 2 actions of rotate planned 2026-11-26T06:47:30Z: 2 done, 0 skipped, 0 failed\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
}

func TestApplyRefusesAnActionWhosePreconditionsNoLongerHold(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	plan := filepath.Join(t.TempDir(), "plan.json")
	mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--dry-run", "--out", plan)
	// Someone protects web-v2 after the review.
	labelImage(t, env, "acme-images", "web-v2", "imagefamily-protect", "true")
	r := mustCLI(t, env, exitPartial, "apply", plan)
	golden(t, "apply_refused", r.stdout)
	if img, _ := image(t, env, "acme-images", "web-v2"); img.State != "ACTIVE" {
		t.Errorf("web-v2 = %s: the changed image was acted on", img.State)
	}
	if img, _ := image(t, env, "acme-images", "web-v0"); img.State != "DELETED" {
		t.Errorf("web-v0 = %s: the unchanged action was not carried out", img.State)
	}
	if !strings.Contains(r.stderr, "2 actions of rotate planned 2026-11-26T06:47:30Z: 1 done, 1 skipped, 0 failed") {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestApplyOfARollbackPlanChecksTheNewHead(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v3", day)
	put(t, env, "acme-images", "web", "web-v2", 2*day)
	plan := filepath.Join(t.TempDir(), "plan.json")
	mustCLI(t, env, exitOK, "rollback", "--project", "acme-images", "--family", "web", "--out", plan)
	if h := head(t, env, "acme-images", "web"); h != "web-v3" {
		t.Fatalf("head %s after rollback --out, want web-v3 (a dry run)", h)
	}
	r := mustCLI(t, env, exitOK, "apply", plan, "--format", "json")
	var out applyOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.HeadAfter == nil || *out.HeadAfter != "web-v2" || out.Summary.Done != 1 {
		t.Errorf("apply: %s", r.stdout)
	}
}

func TestApplyOfARevokePlan(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v2", day)
	put(t, env, "acme-images", "web", "web-v1", 2*day)
	plan := filepath.Join(t.TempDir(), "plan.json")
	mustCLI(t, env, exitOK, "revoke", "--project", "acme-images", "web-v1", "--reason", "cve", "--out", plan)
	mustCLI(t, env, exitOK, "apply", plan)
	if img, _ := image(t, env, "acme-images", "web-v1"); img.State != "OBSOLETE" || img.Labels["imagefamily-revoked-reason"] != "cve" {
		t.Errorf("web-v1 = %+v, want OBSOLETE with the reason", img)
	}
}

func TestApplyRefusesAFileThatIsNoPlan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing.json")
	tests := []struct {
		name, file, want string
	}{
		{"missing", missing, `imagefamily apply: PLAN "` + missing + `": open ` + missing + ": no such file or directory"},
		{"not json", write("a.json", "plan"), `imagefamily apply: PLAN "` + filepath.Join(dir, "a.json") + `": not JSON: invalid character 'p' looking for beginning of value`},
		{"another version", write("b.json", `{"format_version": 2}`), `imagefamily apply: PLAN "` + filepath.Join(dir, "b.json") + `": format_version 2: this build of imagefamily reads plan files of format_version 1 only; make the plan again with this build`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCLI(t, nil, exitUsage, "apply", tt.file)
			if got := strings.TrimSuffix(r.stderr, "\n"); got != tt.want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	r := mustCLI(t, nil, exitUsage, "apply")
	if !strings.Contains(r.stderr, "apply takes exactly one PLAN file, got 0 arguments") {
		t.Errorf("stderr %q", r.stderr)
	}
}
