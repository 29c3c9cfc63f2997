package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// longName is a 39-character image name of family web, as a real naming
// convention makes them: web-debian-12-nginx-1-24-0-v20261120t0647 cut to 39.
func longName(t *testing.T, i int) string {
	t.Helper()
	n := fmt.Sprintf("web-debian-12-nginx-1-24-%d-v20261%03dt064730", i, 100+i)[:39]
	if len(n) != 39 {
		t.Fatalf("%q is %d characters", n, len(n))
	}
	return n
}

// longFamily is webFamily with 39-character names: an image for every
// reason rotation has.
func longFamily(t *testing.T, env *emulatortest.Env) []string {
	t.Helper()
	names := make([]string, 7)
	for i := range names {
		names[i] = longName(t, 6-i)
	}
	put(t, env, "acme-images", "web", names[0], 10*time.Minute)
	put(t, env, "acme-images", "web", names[1], 2*day)
	put(t, env, "acme-images", "web", names[2], 3*day)
	put(t, env, "acme-images", "web", names[3], 4*day, labels("imagefamily-protect", "true"))
	put(t, env, "acme-images", "web", names[4], 5*day)
	put(t, env, "acme-images", "web", names[5], 10*day, deprecated("DEPRECATED", t0.Add(-2*day), t0.Add(5*day), t0.Add(35*day)))
	put(t, env, "acme-images", "web", names[6], 60*day, deprecated("OBSOLETE", t0.Add(-45*day), t0.Add(-38*day), t0.Add(-day)))
	loadState(t, env, `{"projects": {"acme-images": {"instanceTemplates": [{"name": "web-tpl", "properties": {"disks": [
  {"boot": true, "initializeParams": {"sourceImage": "projects/acme-images/global/images/`+names[2]+`"}}]}}]}}}`)
	put(t, env, "acme-images", "app", "app-debian-12-nginx-1-24-0-v20261125t06", day, builtOn(names[1], "web"))
	return names
}

// TestEveryCommandsOutputAtEightyAndOneHundredTwentyColumns holds the
// output of every command, with 39-character image names, at a terminal of
// 80 and of 120 columns (testdata/width/*.golden), and checks that the
// default tables fit; with no terminal they fit 100 columns.
func TestEveryCommandsOutputAtEightyAndOneHundredTwentyColumns(t *testing.T) {
	tests := []struct {
		name string
		// before runs first (apply's plan); args may name its file.
		before []string
		args   func(names []string) []string
		code   int
		// fits: every line fits the width (false where an identifier alone
		// is wider, or for --format wide, whose reasons may run on).
		fits bool
	}{
		{"status", nil, func([]string) []string { return []string{"status", "--family", "web"} }, exitOK, true},
		{"status_csv", nil, func([]string) []string { return []string{"status", "--family", "web", "--format", "csv"} }, exitOK, false},
		{"status_yaml", nil, func(n []string) []string { return []string{"status", "--family", "web", n[5], "--format", "yaml"} }, exitOK, false},
		{"apply", []string{"rotate", "--family", "web", "--out", "PLAN"}, func([]string) []string { return []string{"apply", "PLAN"} }, exitOK, true},
		{"status_wide", nil, func([]string) []string { return []string{"status", "--family", "web", "--format", "wide"} }, exitOK, false},
		{"status_image", nil, func(n []string) []string { return []string{"status", "--family", "web", n[2]} }, exitOK, true},
		{"rotate_dry_run", nil, func([]string) []string { return []string{"rotate", "--family", "web", "--dry-run"} }, exitOK, true},
		{"rotate_dry_run_wide", nil, func([]string) []string { return []string{"rotate", "--family", "web", "--dry-run", "--format", "wide"} }, exitOK, false},
		{"rotate", nil, func([]string) []string { return []string{"rotate", "--family", "web"} }, exitOK, true},
		{"rollback_dry_run", nil, func([]string) []string { return []string{"rollback", "--family", "web", "--dry-run"} }, exitOK, true},
		{"rollback", nil, func([]string) []string { return []string{"rollback", "--family", "web", "--force"} }, exitOK, true},
		{"revoke_dry_run", nil, func(n []string) []string {
			return []string{"revoke", n[1], "--descendants", "--reason", "cve", "--dry-run", "--force"}
		}, exitOK, true},
		{"revoke", nil, func(n []string) []string { return []string{"revoke", n[4], "--reason", "cve"} }, exitOK, true},
		{"outdated", nil, func([]string) []string { return []string{"outdated"} }, exitFindings, false},
		{"name", nil, func([]string) []string {
			return []string{"name", "--os", "debian-12", "--software", "nginx", "--version", "1.24.0", "--format", "wide"}
		}, exitOK, true},
	}
	for _, tt := range tests {
		for _, width := range []int{80, 120, 0} {
			t.Run(fmt.Sprintf("%s_%d", tt.name, width), func(t *testing.T) {
				env := emu(t, emulator.Options{})
				names := longFamily(t, env)
				if tt.name == "outdated" {
					put(t, env, "acme-images", "web", longName(t, 7), time.Minute)
				}
				vars := map[string]string{"CLOUDSDK_CORE_PROJECT": "acme-images"}
				if width > 0 {
					vars["COLUMNS"] = fmt.Sprint(width)
				}
				plan := filepath.Join(t.TempDir(), "plan.json")
				subst := func(args []string) []string {
					out := make([]string, len(args))
					for i, a := range args {
						out[i] = strings.ReplaceAll(a, "PLAN", plan)
					}
					return out
				}
				if tt.before != nil {
					if b := cliEnv(t, env, vars, subst(tt.before)...); b.code != exitOK {
						t.Fatalf("%v: exit %d\n%s", tt.before, b.code, b.stderr)
					}
				}
				r := cliEnv(t, env, vars, subst(tt.args(names))...)
				if r.code != tt.code {
					t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
				}
				fit := width
				if width == 0 {
					fit = 100 // no terminal: the columns that matter still fit 100
				} else {
					golden(t, filepath.Join("width", fmt.Sprintf("%s_%d", tt.name, width)), r.stdout)
				}
				if !tt.fits {
					return
				}
				for i, line := range strings.Split(r.stdout, "\n") {
					if n := utf8.RuneCountInString(line); n > fit {
						t.Errorf("line %d is %d columns, over %d:\n%s", i+1, n, fit, line)
					}
				}
			})
		}
	}
}
