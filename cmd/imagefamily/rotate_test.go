package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

func TestRotateCarriesOutThePlanAndPrintsIt(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	r := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web")
	golden(t, "rotate", r.stdout)
	if want := "imagefamily rotate: 1 family, 2 actions: 2 done, 0 skipped, 0 failed; 0 families not rotated\n"; r.stderr != want {
		t.Errorf("stderr = %q, want the one summary line %q (not a terminal)", r.stderr, want)
	}
	for name, want := range map[string]string{"web-v6": "ACTIVE", "web-v5": "ACTIVE", "web-v4": "ACTIVE", "web-v3": "ACTIVE",
		"web-v2": "DEPRECATED", "web-v1": "DEPRECATED", "web-v0": "DELETED"} {
		if img, _ := image(t, env, "acme-images", name); img.State != want {
			t.Errorf("%s = %s, want %s", name, img.State, want)
		}
	}
	// A second run at the same time has nothing left to do.
	again := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--format", "json")
	var out rotateOutput
	if err := json.Unmarshal([]byte(again.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Summary.Actions != 0 {
		t.Errorf("second run: %d actions, want 0", out.Summary.Actions)
	}
}

func TestRotateJSONAndReportFile(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	report := filepath.Join(t.TempDir(), "report.json")
	r := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--format", "json", "--report", report)
	golden(t, "rotate_json", r.stdout)
	file, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if string(file) != r.stdout {
		t.Errorf("--report file differs from the JSON output:\n%s", file)
	}
}

func TestRotateDryRunChangesNothing(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	r := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--dry-run")
	golden(t, "rotate_dry_run", r.stdout)
	if img, _ := image(t, env, "acme-images", "web-v2"); img.State != "ACTIVE" {
		t.Errorf("web-v2 = %s after a dry run, want ACTIVE", img.State)
	}
}

// A preview with --at T must be exactly what a real run at T then does.
func TestRotateAtPreviewMatchesALaterRealRun(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web")
	for _, later := range []time.Duration{5 * day, 6 * day, 40 * day, 80 * day} {
		at := t0.Add(later)
		preview := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--at", at.Format(time.RFC3339), "--format", "json")
		setNow(t, at)
		real := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--format", "json")
		var p, r rotateOutput
		if err := json.Unmarshal([]byte(preview.stdout), &p); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(real.stdout), &r); err != nil {
			t.Fatal(err)
		}
		if !p.DryRun || r.DryRun {
			t.Fatalf("dry_run preview %v real %v, want true and false", p.DryRun, r.DryRun)
		}
		if r.Summary.Done != p.Summary.Actions || r.Summary.Failed != 0 {
			t.Errorf("at +%s: real run did %d of the %d previewed actions (%d failed)", later, r.Summary.Done, p.Summary.Actions, r.Summary.Failed)
		}
		// Apart from being a dry run (its actions planned, not done), the
		// preview is the real run.
		p.DryRun, p.Families[0].DryRun, p.Summary.Done = false, false, r.Summary.Done
		for i := range p.Families[0].Results {
			if p.Families[0].Results[i].Outcome != apply.OutcomePlanned {
				t.Errorf("at +%s: a previewed action's outcome is %q, want planned", later, p.Families[0].Results[i].Outcome)
			}
			p.Families[0].Results[i].Outcome = apply.OutcomeDone
		}
		pj, _ := json.Marshal(p)
		rj, _ := json.Marshal(r)
		if string(pj) != string(rj) {
			t.Errorf("at +%s: preview\n%s\ndiffers from the real run\n%s", later, pj, rj)
		}
	}
}

func TestRotateSelectsFamilies(t *testing.T) {
	env := emu(t, emulator.Options{})
	for _, f := range []string{"api", "web", "db"} {
		for i, age := range []time.Duration{3 * day, 4 * day, 5 * day} {
			team := "front"
			if f == "db" {
				team = "data"
			}
			put(t, env, "acme-images", f, f+"-v"+string(rune('3'-i)), age, labels("team", team))
		}
	}
	put(t, env, "acme-images", "", "loose", 9*day, labels("team", "front"))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"repeated --family", []string{"--family", "web", "--family", "db", "--family", "web"}, []string{"web", "db"}},
		{"--all-families", []string{"--all-families"}, []string{"api", "db", "web"}},
		{"--family-label", []string{"--family-label", "team=front"}, []string{"api", "web"}},
		{"--family-label with no match", []string{"--family-label", "team=none"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"rotate", "--project", "acme-images", "--dry-run", "--format", "json"}, tt.args...)
			r := mustCLI(t, env, exitOK, args...)
			var out rotateOutput
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range out.Families {
				got = append(got, f.Family)
				if len(f.Results) != 1 {
					t.Errorf("%s: %d actions, want 1 (the third image)", f.Family, len(f.Results))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("families %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRotateCompletesUnderRateLimits(t *testing.T) {
	faults, err := emulator.ParseFaults("images.deprecate=429:0.3")
	if err != nil {
		t.Fatal(err)
	}
	env := emu(t, emulator.Options{Faults: faults, Seed: 7})
	for i := range 12 {
		put(t, env, "acme-images", "web", "web-v"+string(rune('a'+i)), time.Duration(20-i)*day)
	}
	r := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--check-in-use=false", "--format", "json")
	var out rotateOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Summary.Done != 10 || out.Summary.Failed != 0 {
		t.Errorf("summary %+v, want 10 done, 0 failed", out.Summary)
	}
}

func TestRotateExitsOneWhenAnActionFailsAndDoesTheRest(t *testing.T) {
	faults, err := emulator.ParseFaults("images.deprecate=fail:0.5")
	if err != nil {
		t.Fatal(err)
	}
	env := emu(t, emulator.Options{Faults: faults, Seed: 3})
	for i := range 8 {
		put(t, env, "acme-images", "web", "web-v"+string(rune('a'+i)), time.Duration(20-i)*day)
	}
	r := mustCLI(t, env, exitPartial, "rotate", "--project", "acme-images", "--family", "web", "--format", "json")
	var out rotateOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.Summary.Failed == 0 || out.Summary.Done == 0 || out.Summary.Done+out.Summary.Failed != 6 {
		t.Fatalf("summary %+v, want some of 6 failed and the others done", out.Summary)
	}
	for _, res := range out.Families[0].Results {
		img, _ := image(t, env, "acme-images", res.Image)
		if want := map[bool]string{true: "ACTIVE", false: "DEPRECATED"}[res.Err != nil]; img.State != want {
			t.Errorf("%s = %s, want %s (error %v)", res.Image, img.State, want, res.Err)
		}
	}
}

func TestRotateReportsAnUnreadableFamilyAndRotatesTheOthers(t *testing.T) {
	faults, err := emulator.ParseFaults("instanceTemplates.aggregatedList=403:1")
	if err != nil {
		t.Fatal(err)
	}
	env := emu(t, emulator.Options{Faults: faults, Seed: 1})
	webFamily(t, env)
	r := mustCLI(t, env, exitPartial, "rotate", "--project", "acme-images", "--family", "web", "--format", "json")
	if !strings.Contains(r.stderr, "family web") {
		t.Errorf("stderr does not name the family: %s", r.stderr)
	}
	var out rotateOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) != 1 || out.Errors[0].Family != "web" || len(out.Families) != 0 {
		t.Errorf("output %+v, want web among the errors and nothing rotated (an unread use must not be guessed)", out)
	}
	// Without the in-use check nothing needs the scan.
	mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--check-in-use=false")
}

func TestRotateDrawsALiveProgressLineOnATerminal(t *testing.T) {
	saved := isTerminal
	savedThrottle := progressThrottle
	isTerminal, progressThrottle = func(io.Writer) bool { return true }, 0
	t.Cleanup(func() { isTerminal, progressThrottle = saved, savedThrottle })
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	r := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web", "--parallelism", "1")
	for _, want := range []string{"rotate web: parallelism 1", "(0/2", "(1/2", "\r"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q does not hold %q", r.stderr, want)
		}
	}
	if want := "imagefamily rotate: 1 family, 2 actions: 2 done, 0 skipped, 0 failed; 0 families not rotated\n"; !strings.HasSuffix(r.stderr, want) {
		t.Errorf("stderr %q does not end with the summary %q", r.stderr, want)
	}
}
