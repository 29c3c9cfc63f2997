package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// The summary line counts each action once, by what became of it: a run in
// which nothing was done says 0 done, never "2 actions done, 2 failed".
func TestTheSummaryCountsEachActionOnceByOutcome(t *testing.T) {
	tests := []struct {
		name   string
		faults string
		args   []string
		code   int
		line   string // the summary line, after "imagefamily CMD: "
		done   int
		failed int
	}{
		{"all done", "", []string{"rotate", "--family", "web"}, exitOK,
			"1 family, 2 actions: 2 done, 0 skipped, 0 failed; 0 families not rotated", 2, 0},
		{"nothing done", "images.deprecate=403:1", []string{"rotate", "--family", "web"}, exitPartial,
			"1 family, 2 actions: 0 done, 0 skipped, 2 failed; 0 families not rotated", 0, 2},
		{"a dry run", "", []string{"rotate", "--family", "web", "--dry-run"}, exitOK,
			"1 family, 2 actions planned (dry run: nothing done); 0 families not rotated", 0, 0},
		{"a rollback that fails", "images.deprecate=403:1", []string{"rollback", "--family", "web", "--force"}, exitPartial,
			"family web, 1 step: 0 done, 0 skipped, 1 failed", 0, 1},
		{"a revoke", "", []string{"revoke", "web-v2", "--reason", "cve"}, exitOK,
			"1 image: 1 done, 0 skipped, 0 failed", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faults, err := emulator.ParseFaults(tt.faults)
			if err != nil {
				t.Fatal(err)
			}
			env := emu(t, emulator.Options{Faults: faults})
			webFamily(t, env)
			r := cliEnv(t, env, map[string]string{"CLOUDSDK_CORE_PROJECT": "acme-images"}, append(tt.args, "--format", "json")...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
			if want := "imagefamily " + tt.args[0] + ": " + tt.line; lines[len(lines)-1] != want {
				t.Errorf("stderr:\n%s\nwant the last line:\n%s", r.stderr, want)
			}
			var doc struct {
				Summary struct{ Done, Failed int } `json:"summary"`
				Steps   []struct{ Outcome string } `json:"steps"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatal(err)
			}
			done, failed := doc.Summary.Done, doc.Summary.Failed
			if tt.args[0] == "rollback" {
				done, failed = 0, 0
				for _, s := range doc.Steps {
					done += map[bool]int{true: 1}[s.Outcome == "done"]
					failed += map[bool]int{true: 1}[s.Outcome == "failed"]
				}
			}
			if done != tt.done || failed != tt.failed {
				t.Errorf("the document counts %d done, %d failed; want %d and %d as the line says", done, failed, tt.done, tt.failed)
			}
		})
	}
}

// Retries are said as they happen, off a terminal at most one line per
// 10 s (the tests' clock stands still: one line).
func TestRetriesAreSaidAsTheyHappen(t *testing.T) {
	faults, err := emulator.ParseFaults("images.deprecate=429:0.5")
	if err != nil {
		t.Fatal(err)
	}
	env := emu(t, emulator.Options{Faults: faults, Seed: 3})
	webFamily(t, env)
	r := mustCLI(t, env, exitOK, "rotate", "--project", "acme-images", "--family", "web")
	if n := strings.Count(r.stderr, "imagefamily rotate: retrying images.deprecate"); n != 1 {
		t.Errorf("%d retry lines, want 1:\n%s", n, r.stderr)
	}
	if !strings.Contains(r.stderr, "imagefamily rotate: quota: parallelism 4 -> 2\n") {
		t.Errorf("the parallelism cut is not said:\n%s", r.stderr)
	}
}
