package main

import (
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// A family named with --family that has no images is most often a typo in
// a cron job: it exits 4, naming the project and the families there that
// are closest; --allow-empty makes it 0 for a job that means it.
func TestAFamilyWithNoImagesExitsFourNamingTheClosestFamilies(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v1", day)
	put(t, env, "acme-images", "webapp", "webapp-v1", day)
	put(t, env, "acme-images", "db", "db-v1", day)
	tests := []struct {
		name string
		args []string
		code int
		// stderr is the line after "imagefamily CMD: "; stdout a part of it.
		stderr, stdout string
	}{
		{"status of a typo", []string{"status", "--family", "wep"}, exitEmpty,
			`--family "wep": no images in family wep of project acme-images; did you mean web? (pass --allow-empty if an empty family is expected)`, ""},
		{"rotate of a typo", []string{"rotate", "--family", "webap"}, exitEmpty,
			`--family "webap": no images in family webap of project acme-images; did you mean webapp or web? (pass --allow-empty if an empty family is expected)`, ""},
		{"rotate of nothing close", []string{"rotate", "--family", "nope", "--dry-run"}, exitEmpty,
			`--family "nope": no images in family nope of project acme-images; its families are db, web or webapp (pass --allow-empty if an empty family is expected)`, ""},
		{"outdated of a typo", []string{"outdated", "--family", "dbb"}, exitEmpty,
			`--family "dbb": no images in family dbb of project acme-images; did you mean db or web? (pass --allow-empty if an empty family is expected)`, ""},
		{"status allowed empty", []string{"status", "--family", "nope", "--allow-empty"}, exitOK, "", "no images"},
		{"rotate allowed empty", []string{"rotate", "--family", "nope", "--allow-empty"}, exitOK,
			"1 family, 0 actions: 0 done, 0 skipped, 0 failed; 0 families not rotated", "no actions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCLI(t, env, tt.code, append(tt.args, "--project", "acme-images")...)
			if tt.stderr != "" {
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				if want := "imagefamily " + tt.args[0] + ": " + tt.stderr; lines[0] != want {
					t.Errorf("stderr:\n%s\nwant first line:\n%s", r.stderr, want)
				}
			}
			// An empty family fails before anything is written to stdout.
			if (tt.stdout == "" && r.stdout != "") || !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout %q, want it to hold %q (nothing when it is empty)", r.stdout, tt.stdout)
			}
		})
	}
}
