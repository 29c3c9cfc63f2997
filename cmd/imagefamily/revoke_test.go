package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

func builtOn(parent, family string) imageOpt {
	return labels("imagefamily-parent-image", parent, "imagefamily-parent-family", family, "imagefamily-parent-project", "acme-images")
}

// lineage lays three generations below base-v1 across three families, plus
// newer siblings that keep every family headed:
//
//	base-v1 ← mid-v1 ← app-v1 ← app-prod-v1 (a promoted copy)
//	base-v2 ← mid-v2 ← app-v2 ;  app-prod-v2
func lineage(t *testing.T, env *emulatortest.Env) {
	t.Helper()
	put(t, env, "acme-images", "base", "base-v2", day)
	put(t, env, "acme-images", "base", "base-v1", 4*day)
	put(t, env, "acme-images", "mid", "mid-v2", 20*time.Hour, builtOn("base-v2", "base"))
	put(t, env, "acme-images", "mid", "mid-v1", 3*day, builtOn("base-v1", "base"))
	put(t, env, "acme-images", "app", "app-v2", 10*time.Hour, builtOn("mid-v2", "mid"))
	put(t, env, "acme-images", "app", "app-v1", 2*day, builtOn("mid-v1", "mid"))
	put(t, env, "acme-images", "app-prod", "app-prod-v2", 5*time.Hour)
	put(t, env, "acme-images", "app-prod", "app-prod-v1", day, labels("imagefamily-promoted-from", "app-v1", "imagefamily-promoted-from-project", "acme-images"))
}

func TestRevokeWithDescendantsFollowsThreeGenerations(t *testing.T) {
	env := emu(t, emulator.Options{})
	lineage(t, env)
	// Flags after the positional argument are read too.
	r := mustCLI(t, env, exitOK, "revoke", "--project", "acme-images", "base-v1", "--descendants", "--reason", "CVE-2026-1234 in OpenSSL")
	golden(t, "revoke_descendants", r.stdout)
	for _, n := range []string{"base-v1", "mid-v1", "app-v1", "app-prod-v1"} {
		img, _ := image(t, env, "acme-images", n)
		if img.State != "OBSOLETE" || img.Labels["imagefamily-revoked-reason"] != "cve-2026-1234-in-openssl" {
			t.Errorf("%s = %s labels %v, want OBSOLETE with the sanitised reason", n, img.State, img.Labels)
		}
	}
	for _, n := range []string{"base-v2", "mid-v2", "app-v2", "app-prod-v2"} {
		if img, _ := image(t, env, "acme-images", n); img.State != "ACTIVE" {
			t.Errorf("%s = %s, want ACTIVE (not a descendant)", n, img.State)
		}
	}
}

func TestRevokeJSONWithoutDescendantsTouchesOnlyTheImage(t *testing.T) {
	env := emu(t, emulator.Options{})
	lineage(t, env)
	r := mustCLI(t, env, exitOK, "revoke", "--project", "acme-images", "base-v1", "--format", "json")
	golden(t, "revoke_json", r.stdout)
	var out revokeOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 1 || out.Reason != "unspecified" {
		t.Errorf("output %+v, want one result and reason unspecified", out)
	}
	if img, _ := image(t, env, "acme-images", "mid-v1"); img.State != "ACTIVE" {
		t.Errorf("mid-v1 = %s, want ACTIVE without --descendants", img.State)
	}
}

func TestRevokeRefusesToLeaveAFamilyWithoutAnActiveImage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		family string
		image  string
	}{
		{"the image itself", []string{"solo-v1"}, "solo", "solo-v1"},
		{"a descendant", []string{"base-v1", "--descendants"}, "leaf", "leaf-v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := emu(t, emulator.Options{})
			put(t, env, "acme-images", "base", "base-v2", day)
			put(t, env, "acme-images", "base", "base-v1", 3*day)
			put(t, env, "acme-images", "solo", "solo-v1", day)
			put(t, env, "acme-images", "leaf", "leaf-v1", day, builtOn("base-v1", "base"))
			r := mustCLI(t, env, exitUsage, append([]string{"revoke", "--project", "acme-images"}, tt.args...)...)
			if !strings.Contains(r.stderr, "family "+tt.family+" of project acme-images with no ACTIVE image") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line naming family %s", r.stderr, tt.family)
			}
			if img, _ := image(t, env, "acme-images", tt.image); img.State != "ACTIVE" {
				t.Errorf("%s = %s after a refusal, want ACTIVE", tt.image, img.State)
			}
			forced := mustCLI(t, env, exitOK, append([]string{"revoke", "--project", "acme-images", "--force"}, tt.args...)...)
			if img, _ := image(t, env, "acme-images", tt.image); img.State != "OBSOLETE" {
				t.Errorf("%s = %s with --force, want OBSOLETE", tt.image, img.State)
			}
			if !strings.Contains(forced.stderr, "--force: family "+tt.family) {
				t.Errorf("stderr = %q, want a warning naming family %s", forced.stderr, tt.family)
			}
		})
	}
}

func TestRevokeKeepsEarlierDatesAndLabelsAnAlreadyObsoleteImage(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v3", day)
	put(t, env, "acme-images", "web", "web-v2", 2*day, deprecated("DEPRECATED", t0.Add(-day), t0.Add(6*day), t0.Add(36*day)))
	put(t, env, "acme-images", "web", "web-v1", 3*day, deprecated("OBSOLETE", t0.Add(-3*day), t0.Add(-2*day), t0.Add(28*day)))
	mustCLI(t, env, exitOK, "revoke", "--project", "acme-images", "web-v2", "--reason", "bad")
	mustCLI(t, env, exitOK, "revoke", "--project", "acme-images", "projects/acme-images/global/images/web-v1", "--reason", "bad")
	r := mustCLI(t, env, exitOK, "status", "--project", "acme-images", "--family", "web", "--format", "json")
	var st statusReport
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	for _, img := range st.Images {
		switch img.Name {
		case "web-v2":
			if img.State != "OBSOLETE" || !img.Deprecated.Equal(t0.Add(-day)) || !img.Obsolete.Equal(t0) || !img.Deleted.Equal(t0.Add(36*day)) {
				t.Errorf("web-v2 = %s %v %v %v, want OBSOLETE now, other dates kept", img.State, img.Deprecated, img.Obsolete, img.Deleted)
			}
		case "web-v1":
			if img.State != "OBSOLETE" || !img.Obsolete.Equal(t0.Add(-2*day)) {
				t.Errorf("web-v1 = %s obsolete %v, want its status kept", img.State, img.Obsolete)
			}
		}
	}
	if img, _ := image(t, env, "acme-images", "web-v1"); img.Labels["imagefamily-revoked-reason"] != "bad" {
		t.Errorf("web-v1 labels %v, want the reason", img.Labels)
	}
}

func TestRevokeUnknownImageIsAUsageError(t *testing.T) {
	env := emu(t, emulator.Options{})
	r := mustCLI(t, env, exitUsage, "revoke", "--project", "acme-images", "nope")
	if want := "imagefamily revoke: IMAGE \"nope\": no such image in project acme-images\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

func TestRevokeDescendantsSearchesTheImagesProjectTheProjectNamedAndTheOnesListed(t *testing.T) {
	// app-v1 in acme-dev was promoted into acme-prod and acme-stage; nothing
	// in acme-dev points to the copies.
	promoted := labels("imagefamily-promoted-from", "app-v1", "imagefamily-promoted-from-project", "acme-dev")
	tests := []struct {
		name         string
		args         []string
		wantSearched []string
		wantRevoked  []string // projects whose copy ends OBSOLETE
	}{
		{"from the dev side: the image's project only", []string{"--project", "acme-dev", "app-v1"},
			[]string{"acme-dev"}, nil},
		{"from the prod side: the project named too", []string{"--project", "acme-prod", "projects/acme-dev/global/images/app-v1"},
			[]string{"acme-dev", "acme-prod"}, []string{"acme-prod"}},
		{"every project listed", []string{"--project", "acme-dev", "app-v1", "--search-projects", "acme-prod,acme-stage"},
			[]string{"acme-dev", "acme-prod", "acme-stage"}, []string{"acme-prod", "acme-stage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := emu(t, emulator.Options{})
			put(t, env, "acme-dev", "app", "app-v2", day)
			put(t, env, "acme-dev", "app", "app-v1", 2*day)
			for _, p := range []string{"acme-prod", "acme-stage"} {
				put(t, env, p, "app", "app-v9", time.Hour)
				put(t, env, p, "app", "app-copy", day, promoted)
			}
			args := append([]string{"revoke", "--descendants", "--format", "json", "--reason", "cve-1"}, tt.args...)
			r := mustCLI(t, env, exitOK, args...)
			var out struct {
				Searched []string `json:"searched_projects"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			if strings.Join(out.Searched, ",") != strings.Join(tt.wantSearched, ",") {
				t.Errorf("searched %v, want %v", out.Searched, tt.wantSearched)
			}
			for _, p := range []string{"acme-prod", "acme-stage"} {
				img, _ := image(t, env, p, "app-copy")
				want := "ACTIVE"
				if strings.Contains(strings.Join(tt.wantRevoked, ","), p) {
					want = "OBSOLETE"
				}
				if img.State != want {
					t.Errorf("%s/app-copy = %s, want %s", p, img.State, want)
				}
			}
		})
	}
}
