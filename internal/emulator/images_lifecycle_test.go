package emulator_test

import (
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

func TestEmptyDeprecateOnAFreshImageSucceedsInEveryMode(t *testing.T) {
	// The googlecompute builder sends exactly this after every build and
	// panics when it fails.
	for _, mode := range []emulator.UndeprecateMode{emulator.UndeprecateReject, emulator.UndeprecateAllow} {
		t.Run(string(mode), func(t *testing.T) {
			c := start(t, emulator.Options{Undeprecate: mode})
			c.mustInsert(t, rawImage("fresh"))
			for _, body := range []*computepb.DeprecationStatus{{}, {State: proto.String("ACTIVE")}} {
				if err := c.deprecate(t, "fresh", body); err != nil {
					t.Fatalf("deprecate %v: %v", body, err)
				}
			}
			if got := c.mustGet(t, "fresh").GetDeprecated(); got != nil {
				t.Errorf("deprecated = %v, want none", got)
			}
		})
	}
}

func TestDeprecateStoresStatesDatesAndReplacement(t *testing.T) {
	c := start(t, emulator.Options{})
	c.mustInsert(t, rawImage("web-v1"))
	c.mustInsert(t, rawImage("web-v2"))

	// The builder's deprecate_at/obsolete_at/delete_at: ACTIVE with dates.
	sched := &computepb.DeprecationStatus{State: proto.String("ACTIVE"), Deprecated: proto.String("2027-01-01T00:00:00Z"),
		Obsolete: proto.String("2027-02-01T00:00:00Z"), Deleted: proto.String("2027-03-01T00:00:00+01:00")}
	if err := c.deprecate(t, "web-v1", sched); err != nil {
		t.Fatal(err)
	}
	got := c.mustGet(t, "web-v1").GetDeprecated()
	if err := c.deprecate(t, "web-v2", &computepb.DeprecationStatus{State: proto.String("ACTIVE"), Obsolete: proto.String("2027-02-01T08:32:28")}); err != nil {
		t.Errorf("a date without offset, as gcloud --obsolete-in sends it: %v", err)
	}
	if got.GetState() != "ACTIVE" || got.GetDeprecated() != sched.GetDeprecated() || got.GetDeleted() != sched.GetDeleted() {
		t.Errorf("scheduled deprecation stored as %v", got)
	}

	if err := c.deprecate(t, "web-v1", &computepb.DeprecationStatus{State: proto.String("DEPRECATED"), Replacement: proto.String("global/images/web-v2")}); err != nil {
		t.Fatal(err)
	}
	got = c.mustGet(t, "web-v1").GetDeprecated()
	if got.GetState() != "DEPRECATED" || got.GetReplacement() != "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/web-v2" {
		t.Errorf("deprecation stored as %v", got)
	}
	for _, st := range []string{"OBSOLETE", "DELETED", "DEPRECATED"} {
		if err := c.deprecate(t, "web-v1", &computepb.DeprecationStatus{State: proto.String(st)}); err != nil {
			t.Fatalf("to %s: %v", st, err)
		}
		if got := c.mustGet(t, "web-v1").GetDeprecated().GetState(); got != st {
			t.Errorf("state %q, want %q", got, st)
		}
	}

	for _, tc := range []struct {
		name, contains string
		body           *computepb.DeprecationStatus
	}{
		{"unknown state", "'resource.state': 'RETIRED'", &computepb.DeprecationStatus{State: proto.String("RETIRED")}},
		{"date that is not RFC 3339", "'resource.obsolete': 'next tuesday'", &computepb.DeprecationStatus{State: proto.String("DEPRECATED"), Obsolete: proto.String("next tuesday")}},
		{"missing replacement", "'resource.replacement'", &computepb.DeprecationStatus{State: proto.String("DEPRECATED"), Replacement: proto.String("projects/acme-images/global/images/nope")}},
		{"malformed replacement", "'resource.replacement'", &computepb.DeprecationStatus{State: proto.String("DEPRECATED"), Replacement: proto.String("zones/x/disks/y")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantAPIErr(t, c.deprecate(t, "web-v2", tc.body), 400, "invalid")
			if !strings.Contains(msg, tc.contains) {
				t.Errorf("message %q does not name %s", msg, tc.contains)
			}
		})
	}
	wantAPIErr(t, c.deprecate(t, "nope", &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}), 404, "notFound")
}

func TestUndeprecatingIsRefusedOrAllowedByMode(t *testing.T) {
	for _, tc := range []struct {
		mode    emulator.UndeprecateMode
		from    string
		body    *computepb.DeprecationStatus
		allowed bool
	}{
		{emulator.UndeprecateReject, "DEPRECATED", &computepb.DeprecationStatus{State: proto.String("ACTIVE")}, false},
		{emulator.UndeprecateReject, "OBSOLETE", &computepb.DeprecationStatus{}, false},
		{emulator.UndeprecateReject, "DELETED", &computepb.DeprecationStatus{State: proto.String("ACTIVE")}, false},
		{emulator.UndeprecateReject, "DELETED", &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}, true},
		{emulator.UndeprecateAllow, "DEPRECATED", &computepb.DeprecationStatus{State: proto.String("ACTIVE")}, true},
		{emulator.UndeprecateAllow, "OBSOLETE", &computepb.DeprecationStatus{}, true},
	} {
		t.Run(string(tc.mode)+"/"+tc.from+"->"+tc.body.GetState(), func(t *testing.T) {
			c := start(t, emulator.Options{Undeprecate: tc.mode})
			c.mustInsert(t, withFamily(rawImage("web-v1"), "web"))
			if err := c.deprecate(t, "web-v1", &computepb.DeprecationStatus{State: proto.String(tc.from)}); err != nil {
				t.Fatal(err)
			}
			err := c.deprecate(t, "web-v1", tc.body)
			if tc.allowed {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			msg := wantAPIErr(t, err, 400, "invalid")
			if !strings.Contains(msg, "is "+tc.from) {
				t.Errorf("message %q does not say the image is %s", msg, tc.from)
			}
			if got := c.mustGet(t, "web-v1").GetDeprecated().GetState(); got != tc.from {
				t.Errorf("state %q after a refused un-deprecation, want %q", got, tc.from)
			}
		})
	}
}

func TestSetLabelsReplacesTheMapUnderItsFingerprint(t *testing.T) {
	c := start(t, emulator.Options{})
	img := c.mustInsert(t, labelled(rawImage("web-v1"), "team", "web"))
	if img.GetLabelFingerprint() == "42WmSpB8rSM=" {
		t.Fatal("labelled image has the empty-labels fingerprint")
	}
	setLabels := func(fp string, labels map[string]string) error {
		op, err := c.images.SetLabels(ctxT(t), &computepb.SetLabelsImageRequest{Project: proj, Resource: "web-v1",
			GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: proto.String(fp), Labels: labels}})
		if err != nil {
			return err
		}
		return op.Wait(ctxT(t))
	}
	if err := setLabels(img.GetLabelFingerprint(), map[string]string{"owner": "sre", "built": "20261126t064730z", "empty": ""}); err != nil {
		t.Fatal(err)
	}
	got := c.mustGet(t, "web-v1")
	if _, kept := got.GetLabels()["team"]; kept || got.GetLabels()["owner"] != "sre" || len(got.GetLabels()) != 3 {
		t.Errorf("labels %v: want the whole map replaced", got.GetLabels())
	}
	if got.GetLabelFingerprint() == img.GetLabelFingerprint() {
		t.Error("fingerprint did not change")
	}
	msg := wantAPIErr(t, setLabels(img.GetLabelFingerprint(), nil), 412, "conditionNotMet")
	if msg != "Labels fingerprint either invalid or resource labels have changed" {
		t.Errorf("412 message %q", msg)
	}
	msg = wantAPIErr(t, setLabels(got.GetLabelFingerprint(), map[string]string{"Bad": "x"}), 400, "invalid")
	if !strings.Contains(msg, "'Bad'") {
		t.Errorf("message %q does not name the key", msg)
	}
	if err := setLabels(got.GetLabelFingerprint(), nil); err != nil {
		t.Fatal(err)
	}
	if fp := c.mustGet(t, "web-v1").GetLabelFingerprint(); fp != "42WmSpB8rSM=" {
		t.Errorf("empty labels fingerprint %q, want 42WmSpB8rSM=", fp)
	}
}

func TestConcurrentSetLabelsWithOneFingerprintHasOneWinner(t *testing.T) {
	c := start(t, emulator.Options{})
	fp := c.mustInsert(t, rawImage("web-v1")).GetLabelFingerprint()
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			op, err := c.images.SetLabels(ctxT(t), &computepb.SetLabelsImageRequest{Project: proj, Resource: "web-v1",
				GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: proto.String(fp),
					Labels: map[string]string{"writer": string(rune('a' + i))}}})
			if err == nil {
				err = op.Wait(ctxT(t))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	var won int
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantAPIErr(t, err, 412, "conditionNotMet")
	}
	if won != 1 {
		t.Errorf("%d writers won, want exactly 1", won)
	}
}

func TestPatchChangesOnlyFamilyDescriptionAndDeprecation(t *testing.T) {
	c := start(t, emulator.Options{})
	c.mustInsert(t, withFamily(rawImage("web-v1"), "web"))
	patch := func(img *computepb.Image) error {
		op, err := c.images.Patch(ctxT(t), &computepb.PatchImageRequest{Project: proj, Image: "web-v1", ImageResource: img})
		if err != nil {
			return err
		}
		return op.Wait(ctxT(t))
	}
	if err := patch(&computepb.Image{Family: proto.String("web-next"), Description: proto.String("nginx 1.27")}); err != nil {
		t.Fatal(err)
	}
	got := c.mustGet(t, "web-v1")
	if got.GetFamily() != "web-next" || got.GetDescription() != "nginx 1.27" {
		t.Errorf("family %q description %q", got.GetFamily(), got.GetDescription())
	}
	// Only what is sent changes.
	if err := patch(&computepb.Image{Description: proto.String("nginx 1.28")}); err != nil {
		t.Fatal(err)
	}
	if got := c.mustGet(t, "web-v1"); got.GetFamily() != "web-next" || got.GetDescription() != "nginx 1.28" {
		t.Errorf("family %q description %q", got.GetFamily(), got.GetDescription())
	}
	// Sending back what was read, with the family changed, is accepted.
	back := c.mustGet(t, "web-v1")
	back.Family = proto.String("web")
	if err := patch(back); err != nil {
		t.Fatalf("read-modify-write patch: %v", err)
	}
	if err := patch(&computepb.Image{Deprecated: &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}}); err != nil {
		t.Fatal(err)
	}
	if got := c.mustGet(t, "web-v1").GetDeprecated().GetState(); got != "DEPRECATED" {
		t.Errorf("state %q after patch", got)
	}
	for _, tc := range []struct {
		name, contains string
		img            *computepb.Image
		reason         string
	}{
		{"bad family", "'resource.family'", &computepb.Image{Family: proto.String("Web")}, "invalid"},
		{"un-deprecation", "is DEPRECATED", &computepb.Image{Deprecated: &computepb.DeprecationStatus{State: proto.String("ACTIVE")}}, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantAPIErr(t, patch(tc.img), 400, tc.reason)
			if !strings.Contains(msg, tc.contains) {
				t.Errorf("message %q does not contain %s", msg, tc.contains)
			}
		})
	}
}

// Recorded Compute Engine traffic: a PATCH whose body carried labels,
// diskSizeGb, name and sourceDisk beside an unchanged family got 200 and a
// patch operation. The API changes only family, description and deprecation
// status and ignores the rest (labels change only through setLabels).
func TestPatchIgnoresFieldsItCannotChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		patch *computepb.Image
	}{
		{"Labels", &computepb.Image{Labels: map[string]string{"a": "b"}}},
		{"DiskSizeGb", &computepb.Image{DiskSizeGb: proto.Int64(99)}},
		{"Name", &computepb.Image{Name: proto.String("renamed")}},
		{"SourceDisk", &computepb.Image{SourceDisk: proto.String("zones/us-central1-a/disks/other")}},
		{"AllOfThemBesideAnUnchangedFamily", &computepb.Image{Family: proto.String("web"), Labels: map[string]string{"a": "b"},
			DiskSizeGb: proto.Int64(99), Name: proto.String("renamed"), SourceDisk: proto.String("zones/us-central1-a/disks/other")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := start(t, emulator.Options{})
			img := rawImage("web-v1")
			img.Labels = map[string]string{"team": "web"}
			before := c.mustInsert(t, withFamily(img, "web"))
			op, err := c.images.Patch(ctxT(t), &computepb.PatchImageRequest{Project: proj, Image: "web-v1", ImageResource: tc.patch})
			if err != nil {
				t.Fatalf("patch: %v", err)
			}
			if err := op.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if got := op.Proto().GetOperationType(); got != "patch" {
				t.Errorf("operationType %q, want patch", got)
			}
			after := c.mustGet(t, "web-v1")
			if !proto.Equal(before, after) {
				t.Errorf("the image changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestGetFromFamilyReturnsTheNewestActiveReadyImage(t *testing.T) {
	// A frozen clock: every image is created in the same millisecond, and
	// the family must still have one well-defined head.
	clock := newFakeClock()
	c := start(t, emulator.Options{Clock: clock.Now})
	ctx := ctxT(t)
	for _, name := range []string{"web-v1", "web-v2", "web-v3", "web-v4"} {
		c.mustInsert(t, withFamily(rawImage(name), "web"))
	}
	c.mustInsert(t, withFamily(rawImage("api-v9"), "api"))
	head := func() (string, error) {
		img, err := c.images.GetFromFamily(ctx, &computepb.GetFromFamilyImageRequest{Project: proj, Family: "web"})
		return img.GetName(), err
	}
	if got, err := head(); err != nil || got != "web-v4" {
		t.Fatalf("head %q, %v; want web-v4", got, err)
	}
	view, err := c.families.Get(ctx, &computepb.GetImageFamilyViewRequest{Project: proj, Zone: "us-central1-a", Family: "web"})
	if err != nil || view.GetImage().GetName() != "web-v4" {
		t.Fatalf("zonal view %v, %v; want web-v4", view, err)
	}
	if err := c.deprecate(t, "web-v4", &computepb.DeprecationStatus{State: proto.String("DEPRECATED"), Replacement: proto.String("web-v3")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := head(); got != "web-v3" {
		t.Errorf("head %q after deprecating web-v4, want web-v3", got)
	}
	// An ACTIVE state with scheduled dates is still ACTIVE.
	if err := c.deprecate(t, "web-v3", &computepb.DeprecationStatus{State: proto.String("ACTIVE"), Obsolete: proto.String("2030-01-01T00:00:00Z")}); err != nil {
		t.Fatal(err)
	}
	if got, _ := head(); got != "web-v3" {
		t.Errorf("head %q, want web-v3 (ACTIVE with dates)", got)
	}
	for _, name := range []string{"web-v3", "web-v2", "web-v1"} {
		if err := c.deprecate(t, name, &computepb.DeprecationStatus{State: proto.String("OBSOLETE")}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = head()
	msg := wantAPIErr(t, err, 404, "notFound")
	if want := "The resource 'projects/acme-images/global/images/family/web' was not found"; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	_, err = c.families.Get(ctx, &computepb.GetImageFamilyViewRequest{Project: proj, Zone: "us-central1-a", Family: "web"})
	wantAPIErr(t, err, 404, "notFound")
}

func TestGetFromFamilyOrdersByCreationTimestampNotName(t *testing.T) {
	c := start(t, emulator.Options{})
	for name, ts := range map[string]string{
		"web-b": "2026-11-01T10:00:00.000-07:00", // 17:00Z: the newest
		"web-c": "2026-11-01T16:00:00.000Z",
		"web-a": "2026-10-01T00:00:00.000Z",
	} {
		if err := c.env.Server.PutImage(proj, &computepb.Image{Name: proto.String(name), Family: proto.String("web"), CreationTimestamp: proto.String(ts)}); err != nil {
			t.Fatal(err)
		}
	}
	img, err := c.images.GetFromFamily(ctxT(t), &computepb.GetFromFamilyImageRequest{Project: proj, Family: "web"})
	if err != nil || img.GetName() != "web-b" {
		t.Fatalf("head %q, %v; want web-b", img.GetName(), err)
	}
	// An image inserted now is newer than every fixture.
	c.mustInsert(t, withFamily(rawImage("web-z"), "web"))
	if img, _ := c.images.GetFromFamily(ctxT(t), &computepb.GetFromFamilyImageRequest{Project: proj, Family: "web"}); img.GetName() != "web-z" {
		t.Errorf("head %q, want web-z", img.GetName())
	}
}
