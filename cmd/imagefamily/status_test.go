package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

const webTemplate = `{"projects": {"acme-images": {"instanceTemplates": [{"name": "web-tpl", "properties": {"disks": [
  {"boot": true, "initializeParams": {"sourceImage": "projects/acme-images/global/images/web-v4"}}]}}]}}}`

// webFamily lays a family with an image for every reason rotation has:
// head, keep_active, in use, protected, due, waiting, and a later step due.
func webFamily(t *testing.T, env *emulatortest.Env) {
	t.Helper()
	put(t, env, "acme-images", "web", "web-v6", 10*time.Minute)
	put(t, env, "acme-images", "web", "web-v5", 2*day)
	put(t, env, "acme-images", "web", "web-v4", 3*day)
	put(t, env, "acme-images", "web", "web-v3", 4*day, labels("imagefamily-protect", "true"))
	put(t, env, "acme-images", "web", "web-v2", 5*day)
	put(t, env, "acme-images", "web", "web-v1", 10*day, deprecated("DEPRECATED", t0.Add(-2*day), t0.Add(5*day), t0.Add(35*day)))
	put(t, env, "acme-images", "web", "web-v0", 60*day, deprecated("OBSOLETE", t0.Add(-45*day), t0.Add(-38*day), t0.Add(-day)))
	loadState(t, env, webTemplate)
}

func TestStatusShowsEveryImageWithProtectionAndNextStep(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	table := mustCLI(t, env, exitOK, "status", "--project", "acme-images", "--family", "web")
	golden(t, "status", table.stdout)
	js := mustCLI(t, env, exitOK, "status", "--project", "acme-images", "--family", "web", "--format", "json")
	golden(t, "status_json", js.stdout)

	var rep statusReport
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"web-v6": "head", "web-v5": "keep_active", "web-v4": "in_use", "web-v3": "protected"}
	for _, img := range rep.Images {
		got := ""
		if img.ProtectedBy != nil {
			got = string(*img.ProtectedBy)
		}
		if got != want[img.Name] {
			t.Errorf("%s protected by %q, want %q", img.Name, got, want[img.Name])
		}
	}
	// The reasons are in the wide table and in the view of one image.
	wide := mustCLI(t, env, exitOK, "status", "--project", "acme-images", "--family", "web", "--format", "wide")
	golden(t, "status_wide", wide.stdout)
	one := mustCLI(t, env, exitOK, "status", "--project", "acme-images", "--family", "web", "web-v4")
	golden(t, "status_one_image", one.stdout)
	for name, out := range map[string]string{"wide": wide.stdout, "one image": one.stdout} {
		if !strings.Contains(out, "in use by instance template acme-images/web-tpl") {
			t.Errorf("%s: does not name the template using web-v4:\n%s", name, out)
		}
	}
	if strings.Contains(table.stdout, "in use by") {
		t.Errorf("the default table carries the reasons (they are for --format wide):\n%s", table.stdout)
	}
}

func TestStatusAtShowsTheFamilyLater(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	// Six days on, web-v1's obsolete date has come.
	r := mustCLI(t, env, exitOK, "status", "--project", "acme-images", "--family", "web", "--at", t0.Add(6*day).Format(time.RFC3339), "--format", "json")
	var rep statusReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rep.Images, func(img statusImage) bool { return img.Name == "web-v1" })
	if i < 0 {
		t.Fatalf("status does not show web-v1:\n%s", r.stdout)
	}
	if next := rep.Images[i].Next; next.Action != "obsolete" || next.Condition != "due now" {
		t.Errorf("web-v1 next = %+v, want obsolete due now", next)
	}
}

func TestStatusShowsTheContentDigestTheReleaseRecorded(t *testing.T) {
	const digest = "sha256-0123456789abcdef0123456789abcdef0123456789abcdef01234567"
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v2", day, labels("imagefamily-content-digest", digest))
	put(t, env, "acme-images", "web", "web-v1", 2*day)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"one image, every field", []string{"status", "--project", "acme-images", "--family", "web", "web-v2"}, "content:      " + digest},
		{"json", []string{"status", "--project", "acme-images", "--family", "web", "--format", "json"}, `"content_digest": "` + digest + `"`},
		{"csv", []string{"status", "--project", "acme-images", "--family", "web", "--format", "csv"}, "," + digest + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCLI(t, env, exitOK, tt.args...)
			if !strings.Contains(r.stdout, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, r.stdout)
			}
		})
	}
}
