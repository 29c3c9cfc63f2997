package planfile

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// now has milliseconds, as every time a plan file holds: the file keeps no
// finer precision, as Compute Engine keeps none.
var now = time.Date(2026, 11, 26, 6, 47, 30, 123_000_000, time.UTC)

const day = 24 * time.Hour

func ptr(t time.Time) *time.Time { return &t }

// family has an image for most of rotation's reasons: the head, a
// keep_active one, one in use, one protected, one due, one waiting.
func family() lifecycle.Snapshot {
	img := func(name string, age time.Duration, id uint64) lifecycle.Image {
		return lifecycle.Image{Name: name, ID: id, Project: "acme-images", Family: "web", CreatedAt: now.Add(-age),
			Status: "READY", Labels: map[string]string{"team": "web"}, LabelFingerprint: "42WmSpB8rSM=",
			SelfLink: "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/" + name, Architecture: "X86_64", DiskSizeGB: 10}
	}
	v1 := img("web-v1", 10*day, 1)
	v1.Deprecation = lifecycle.Deprecation{State: lifecycle.StateDeprecated, Deprecated: ptr(now.Add(-2 * day)), Obsolete: ptr(now.Add(5 * day)),
		Deleted: ptr(now.Add(35 * day)), Replacement: "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/web-v6"}
	v0 := img("web-v0", 60*day, 7)
	v0.Deprecation = lifecycle.Deprecation{State: lifecycle.StateObsolete, Deprecated: ptr(now.Add(-45 * day)), Obsolete: ptr(now.Add(-38 * day)), Deleted: ptr(now.Add(-day))}
	v3 := img("web-v3", 4*day, 4)
	v3.Labels["imagefamily-protect"] = "true"
	s := lifecycle.Snapshot{Project: "acme-images", Family: "web", HeadRead: true, HeadName: "web-v6",
		Images: []lifecycle.Image{img("web-v6", 10*time.Minute, 9), img("web-v5", 2*day, 8), img("web-v4", 3*day, 6), v3, img("web-v2", 5*day, 5), v1, v0}}
	s.Uses = map[lifecycle.ImageRef][]lifecycle.Use{{Project: "acme-images", Name: "web-v4"}: {{Kind: lifecycle.UseInstanceTemplate, Project: "acme-images", Name: "web-tpl"}}}
	return s
}

func TestPhasesRoundTripThroughTheFile(t *testing.T) {
	s := family()
	rotation := lifecycle.Plan(s, lifecycle.DefaultPolicy(), now)
	rollback, err := lifecycle.PlanRollback(s, "web-v1", true, now)
	if err != nil {
		t.Fatal(err)
	}
	if rollback, err = rollback.Named("web-v1-rb20261126t064730"); err != nil {
		t.Fatal(err)
	}
	revoke := lifecycle.PlanRevoke(lifecycle.RevokeRequest{Root: s.Images[4], Images: s.Images, Reason: "cve", Now: now})
	tests := []struct {
		name   string
		phases []lifecycle.Phase
	}{
		{"rotation (every entry, untouched ones too)", []lifecycle.Phase{{Name: "rotation", Entries: rotation.Entries}}},
		{"rollback with a copy, a head expectation and obsoletes", rollback.Phases("imagefamily-protect")},
		{"revoke", revoke.Phases()},
		{"a move and dropped labels", []lifecycle.Phase{{Name: "move", Required: true, Entries: []lifecycle.Entry{{
			Image: s.Images[0], Action: lifecycle.ActionMove, MoveTo: "web", DropLabels: []string{"imagefamily-releasing-into"},
			Labels: map[string]string{}, Next: ptr(now.Add(time.Hour)),
			Expect: lifecycle.Preconditions{Head: &lifecycle.HeadExpect{Project: "acme-images", Family: "web", Name: ""}, Unused: true},
		}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(lifecycle.Actions(tt.phases)) == 0 {
				t.Fatal("the fixture plans no action: nothing would be tested")
			}
			var b bytes.Buffer
			in := Plan{Command: "rotate", Project: "acme-images", PlannedAt: textfmt.At(now),
				Parts: []Part{{Project: "acme-images", Family: "web", Head: "web-v6", ReadAt: textfmt.At(now), Phases: PhasesOf(tt.phases)}}}
			if err := Write(&b, in); err != nil {
				t.Fatal(err)
			}
			out, err := Read(&b)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Lifecycle(out.Parts[0].Phases)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.phases) {
				t.Errorf("phases read back differ from those written\nwrote: %+v\nread:  %+v", tt.phases, back)
			}
		})
	}
}

func TestPolicyRoundTrips(t *testing.T) {
	p := lifecycle.DefaultPolicy()
	p.KeepActive, p.OrphanGrace, p.ProtectLabel = 3, 36*time.Hour, "keep"
	back, err := PolicyOf(p).Lifecycle()
	if err != nil || back != p {
		t.Errorf("policy read back as %+v, %v; want %+v", back, err, p)
	}
}

func TestReadRefuses(t *testing.T) {
	tests := []struct {
		name, file, want string
		version          bool
	}{
		{"a newer format", `{"format_version": 2, "command": "rotate"}`, "format_version 2: this build of imagefamily reads plan files of format_version 1 only", true},
		{"no format", `{"command": "rotate"}`, "format_version is missing", true},
		{"an unknown field", `{"format_version": 1, "command": "rotate", "parts": [], "extra": 1}`, `unknown field "extra"`, false},
		{"another command", `{"format_version": 1, "command": "status"}`, `command "status": a plan file is made by rotate, rollback or revoke`, false},
		{"not JSON", `plan`, "not JSON", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.file))
			var v *VersionError
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.As(err, &v) != tt.version {
				t.Errorf("Read = %v, want an error containing %q (a version error: %v)", err, tt.want, tt.version)
			}
		})
	}
}
