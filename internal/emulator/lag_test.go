package emulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

const lag = 2 * time.Second

// lagged starts an emulator whose reads lag by up to lag, on a clock that
// moves only when the test moves it.
func lagged(t *testing.T, seed int64) (*clients, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	return start(t, emulator.Options{ReadLag: lag, Seed: seed, Clock: clock.Now}), clock
}

func templatesClient(t *testing.T, c *clients) *compute.InstanceTemplatesClient {
	t.Helper()
	tc, err := compute.NewInstanceTemplatesRESTClient(context.Background(), c.env.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tc.Close() })
	return tc
}

func setLabels(t *testing.T, c *clients, name, fingerprint string, labels map[string]string) (*compute.Operation, error) {
	t.Helper()
	return c.images.SetLabels(ctxT(t), &computepb.SetLabelsImageRequest{Project: proj, Resource: name,
		GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: proto.String(fingerprint), Labels: labels}})
}

// What Compute Engine was recorded doing: the first read after a DONE
// setLabels still showed the old labels, and the first get of an instance
// template after its DONE insert answered 404; later reads were current.
func TestReadLagShowsTheStateBeforeAWriteUntilItsDelayHasPassed(t *testing.T) {
	c, clock := lagged(t, 1)
	if err := c.env.Server.PutImage(proj, &computepb.Image{Name: proto.String("web-v1"), Family: proto.String("web"),
		Labels: map[string]string{"team": "web"}}); err != nil {
		t.Fatal(err)
	}
	// A fixture is the world the test starts from: visible at once.
	old := c.mustGet(t, "web-v1")
	op, err := setLabels(t, c, "web-v1", old.GetLabelFingerprint(), map[string]string{"team": "api"})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctxT(t)); err != nil {
		t.Fatalf("the operation must read DONE at once (operations never lag): %v", err)
	}
	tc := templatesClient(t, c)
	top, err := tc.Insert(ctxT(t), &computepb.InsertInstanceTemplateRequest{Project: proj, InstanceTemplateResource: &computepb.InstanceTemplate{
		Name: proto.String("web-tmpl"), Properties: &computepb.InstanceProperties{MachineType: proto.String("e2-small"),
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String("global/images/web-v1")}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := top.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	getTemplate := func() error {
		_, err := tc.Get(ctxT(t), &computepb.GetInstanceTemplateRequest{Project: proj, InstanceTemplate: "web-tmpl"})
		return err
	}

	// At once: the past.
	if got := c.mustGet(t, "web-v1").GetLabels()["team"]; got != "web" {
		t.Errorf("images.get right after setLabels: team=%s, want the old web", got)
	}
	wantAPIErr(t, getTemplate(), 404, "notFound")
	if got := names(drain(t, c.images.List(ctxT(t), &computepb.ListImagesRequest{Project: proj}))); len(got) != 1 {
		t.Errorf("images.list: %v", got)
	}
	// Writes are never stale: the stale fingerprint is refused, a second
	// insert of the template's name is a conflict.
	_, err = setLabels(t, c, "web-v1", old.GetLabelFingerprint(), map[string]string{"team": "x"})
	wantAPIErr(t, err, 412, "conditionNotMet")
	_, err = tc.Insert(ctxT(t), &computepb.InsertInstanceTemplateRequest{Project: proj, InstanceTemplateResource: &computepb.InstanceTemplate{
		Name: proto.String("web-tmpl"), Properties: &computepb.InstanceProperties{MachineType: proto.String("e2-small")}}})
	wantAPIErr(t, err, 409, "alreadyExists")

	// After the lag: the present.
	clock.Advance(lag)
	if got := c.mustGet(t, "web-v1").GetLabels()["team"]; got != "api" {
		t.Errorf("images.get %s after setLabels: team=%s, want api", lag, got)
	}
	if err := getTemplate(); err != nil {
		t.Errorf("instanceTemplates.get %s after the insert: %v", lag, err)
	}
}

func TestReadLagHidesADeprecationAndADeletionFromEveryRead(t *testing.T) {
	c, clock := lagged(t, 2)
	for _, name := range []string{"web-v1", "web-v2", "web-v3"} {
		if err := c.env.Server.PutImage(proj, withFamily(rawImage(name), "web")); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	if err := c.deprecate(t, "web-v3", &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}); err != nil {
		t.Fatal(err)
	}
	del, err := c.images.Delete(ctxT(t), &computepb.DeleteImageRequest{Project: proj, Image: "web-v1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := del.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	head := func() string {
		img, err := c.images.GetFromFamily(ctxT(t), &computepb.GetFromFamilyImageRequest{Project: proj, Family: "web"})
		if err != nil {
			return err.Error()
		}
		return img.GetName()
	}
	list := func() string {
		return strings.Join(names(drain(t, c.images.List(ctxT(t), &computepb.ListImagesRequest{Project: proj}))), ",")
	}
	if got := head(); got != "web-v3" {
		t.Errorf("getFromFamily right after: %s, want web-v3, whose deprecation is not visible yet", got)
	}
	if got := list(); got != "web-v1,web-v2,web-v3" {
		t.Errorf("images.list right after: %s, want the deleted web-v1 still there", got)
	}
	// The mutations themselves see the present: web-v1 is gone for them.
	_, err = c.images.Deprecate(ctxT(t), &computepb.DeprecateImageRequest{Project: proj, Image: "web-v1",
		DeprecationStatusResource: &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}})
	wantAPIErr(t, err, 404, "notFound")
	clock.Advance(lag)
	if got := head(); got != "web-v2" {
		t.Errorf("getFromFamily after %s: %s, want web-v2", lag, got)
	}
	if got := list(); got != "web-v2,web-v3" {
		t.Errorf("images.list after %s: %s, want web-v2,web-v3", lag, got)
	}
}

// The delays come from the seed: two emulators with one seed show a change
// at the same moment, and each change shows within the lag.
func TestReadLagIsReproducibleUnderASeed(t *testing.T) {
	visibleAfter := func(seed int64) []time.Duration {
		c, clock := lagged(t, seed)
		var out []time.Duration
		for i := range 5 {
			name := imageName(i)
			// A new image is visible at once; its deprecation lags.
			op, err := c.images.Insert(ctxT(t), &computepb.InsertImageRequest{Project: proj, ImageResource: rawImage(name)})
			if err != nil {
				t.Fatal(err)
			}
			if err := op.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if err := c.deprecate(t, name, &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}); err != nil {
				t.Fatal(err)
			}
			const step = lag / 20
			waited := time.Duration(0)
			for c.mustGet(t, name).GetDeprecated().GetState() != "DEPRECATED" {
				if waited > lag {
					t.Fatalf("%s's deprecation still invisible %s after it, with a read lag of %s", name, waited, lag)
				}
				clock.Advance(step)
				waited += step
			}
			out = append(out, waited)
		}
		return out
	}
	a, b := visibleAfter(7), visibleAfter(7)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 7 made changes visible after %v, then after %v", a, b)
		}
	}
	if a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0 && a[4] == 0 {
		t.Errorf("every deprecation was visible at once: %v", a)
	}
}

// The googlecompute builder reads each image it creates right after the
// insert's operation is DONE (v1.2.7 crashes on a 404 there), and it works
// against Compute Engine: a new image is visible at once whatever the lag.
func TestReadLagShowsANewImageAtOnce(t *testing.T) {
	c, _ := lagged(t, 4)
	c.mustInsert(t, withFamily(rawImage("web-v1"), "web"))
	if _, err := c.images.GetFromFamily(ctxT(t), &computepb.GetFromFamilyImageRequest{Project: proj, Family: "web"}); err != nil {
		t.Errorf("getFromFamily right after the insert: %v", err)
	}
}

// A fixture is the world a test starts from: written over a change that
// still lags, it is what every read sees at once.
func TestReadLagShowsAFixtureAtOnceEvenOverALaggingChange(t *testing.T) {
	c, _ := lagged(t, 5)
	if err := c.env.Server.PutImage(proj, withFamily(rawImage("web-v1"), "web")); err != nil {
		t.Fatal(err)
	}
	if err := c.deprecate(t, "web-v1", &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}); err != nil {
		t.Fatal(err)
	}
	if err := c.env.Server.PutImage(proj, labelled(withFamily(rawImage("web-v1"), "web"), "team", "fixture")); err != nil {
		t.Fatal(err)
	}
	if got := c.mustGet(t, "web-v1"); got.GetLabels()["team"] != "fixture" || got.GetDeprecated() != nil {
		t.Errorf("web-v1 right after the fixture: %v, want the fixture", got)
	}
}
