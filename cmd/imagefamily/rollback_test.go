package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

var undeprecateModes = []emulator.UndeprecateMode{emulator.UndeprecateReject, emulator.UndeprecateAllow}

func TestRollbackToTheActiveImageBeforeTheHead(t *testing.T) {
	for _, mode := range undeprecateModes {
		t.Run(string(mode), func(t *testing.T) {
			env := emu(t, emulator.Options{Undeprecate: mode})
			put(t, env, "acme-images", "web", "web-v3", day)
			put(t, env, "acme-images", "web", "web-v2", 2*day)
			put(t, env, "acme-images", "web", "web-v1", 3*day)
			r := mustCLI(t, env, exitOK, "rollback", "--project", "acme-images", "--family", "web")
			golden(t, "rollback_active", r.stdout)
			if got := head(t, env, "acme-images", "web"); got != "web-v2" {
				t.Errorf("head = %s, want web-v2", got)
			}
			img, _ := image(t, env, "acme-images", "web-v3")
			if img.State != "DEPRECATED" || !strings.HasSuffix(img.Replacement, "/projects/acme-images/global/images/web-v2") {
				t.Errorf("web-v3 = %+v, want DEPRECATED, replaced by web-v2", img)
			}
		})
	}
}

func TestRollbackReReleasesADeprecatedTarget(t *testing.T) {
	for _, mode := range undeprecateModes {
		t.Run(string(mode), func(t *testing.T) {
			env := emu(t, emulator.Options{Undeprecate: mode})
			put(t, env, "acme-images", "web", "web-v3", day)
			put(t, env, "acme-images", "web", "web-v2", 2*day, labels("team", "web"), deprecated("DEPRECATED", t0.Add(-day), t0.Add(6*day), t0.Add(36*day)))
			put(t, env, "acme-images", "web", "web-v1", 3*day, deprecated("DEPRECATED", t0.Add(-2*day), t0.Add(5*day), t0.Add(35*day)))
			r := mustCLI(t, env, exitOK, "rollback", "--project", "acme-images", "--family", "web", "--to", "web-v2")
			golden(t, "rollback_rerelease", r.stdout)
			const copyName = "web-v2-rb20261126t064730"
			if got := head(t, env, "acme-images", "web"); got != copyName {
				t.Errorf("head = %s, want the copy %s", got, copyName)
			}
			cp, ok := image(t, env, "acme-images", copyName)
			if !ok || cp.State != "ACTIVE" || cp.Family != "web" || cp.Labels["imagefamily-rollback-of"] != "web-v2" || cp.Labels["team"] != "web" {
				t.Errorf("copy = %+v, want ACTIVE in web with imagefamily-rollback-of=web-v2 and the source's labels", cp)
			}
			if img, _ := image(t, env, "acme-images", "web-v2"); img.State != "DEPRECATED" {
				t.Errorf("target = %s, want it left DEPRECATED (never un-deprecated)", img.State)
			}
			if img, _ := image(t, env, "acme-images", "web-v3"); img.State != "DEPRECATED" || !strings.HasSuffix(img.Replacement, "/"+copyName) {
				t.Errorf("web-v3 = %+v, want DEPRECATED, replaced by the copy", img)
			}
		})
	}
}

func TestRollbackBlockMakesNewerImagesObsolete(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v4", day/2)
	put(t, env, "acme-images", "web", "web-v3", day)
	put(t, env, "acme-images", "web", "web-v2", 2*day)
	r := mustCLI(t, env, exitOK, "rollback", "--project", "acme-images", "--family", "web", "--to", "web-v2", "--block", "--format", "json")
	golden(t, "rollback_block_json", r.stdout)
	for _, n := range []string{"web-v4", "web-v3"} {
		if img, _ := image(t, env, "acme-images", n); img.State != "OBSOLETE" {
			t.Errorf("%s = %s, want OBSOLETE", n, img.State)
		}
	}
	var out rollbackOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if out.HeadBefore != "web-v4" || out.HeadAfter == nil || *out.HeadAfter != "web-v2" {
		t.Errorf("head before %q after %v, want web-v4 and web-v2", out.HeadBefore, out.HeadAfter)
	}
}

func TestRollbackDryRunChangesNothing(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v3", day)
	put(t, env, "acme-images", "web", "web-v2", 2*day, deprecated("DEPRECATED", t0.Add(-day), time.Time{}, time.Time{}))
	r := mustCLI(t, env, exitOK, "rollback", "--project", "acme-images", "--family", "web", "--to", "web-v2", "--dry-run")
	golden(t, "rollback_dry_run", r.stdout)
	if got := head(t, env, "acme-images", "web"); got != "web-v3" {
		t.Errorf("head = %s after a dry run, want web-v3", got)
	}
}

func TestRollbackRefusals(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v3", day)
	put(t, env, "acme-images", "web", "web-v2", 2*day, deprecated("OBSOLETE", t0.Add(-day), t0.Add(-day), time.Time{}))
	put(t, env, "acme-images", "solo", "solo-v1", day)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"obsolete target", []string{"--family", "web", "--to", "web-v2"}, `--to web-v2: target "web-v2" is OBSOLETE`},
		{"target is the head", []string{"--family", "web", "--to", "web-v3"}, "already the head"},
		{"unknown target", []string{"--family", "web", "--to", "nope"}, `--to nope: target "nope" is not an image of project acme-images`},
		{"nothing older", []string{"--family", "solo"}, "--family solo: nothing older to roll back to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCLI(t, env, exitUsage, append([]string{"rollback", "--project", "acme-images"}, tt.args...)...)
			if !strings.Contains(r.stderr, tt.want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line containing %q", r.stderr, tt.want)
			}
		})
	}
	if got := head(t, env, "acme-images", "web"); got != "web-v3" {
		t.Errorf("head = %s after refusals, want web-v3", got)
	}
}

func TestRollbackCopyName(t *testing.T) {
	at := time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)
	tests := []struct{ target, want string }{
		{"web-v2", "web-v2-rb20261126t064730"},
		{"web-v2-rb20261101t000000", "web-v2-rb20261126t064730"},
		{strings.Repeat("a", 50) + "-v1", strings.Repeat("a", 45) + "-rb20261126t064730"},
		{strings.Repeat("a", 44) + "-xyz", strings.Repeat("a", 44) + "-rb20261126t064730"},
	}
	for _, tt := range tests {
		got := rollbackCopyName(tt.target, at)
		if got != tt.want || len(got) > 63 {
			t.Errorf("rollbackCopyName(%q) = %q, want %q", tt.target, got, tt.want)
		}
	}
}
