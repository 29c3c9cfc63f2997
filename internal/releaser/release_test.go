package releaser_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
)

const (
	project = "acme-images"
	family  = "app-nginx"
)

var (
	now  = time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)
	conv = lifecycle.Convention{OS: "debian-12", Software: "nginx", Version: "1.26"}
)

// built is the image a build just made, conventionally named, outside any
// family.
func built() lifecycle.Image {
	return lifecycle.Image{Name: "debian-12-nginx-1-26-v20261126t064500", ID: 9, Project: project,
		CreatedAt: now.Add(-2 * time.Minute), Status: lifecycle.StatusReady, Labels: map[string]string{"team": "web"}}
}

// older makes n released images app-v1 (oldest) .. app-vN in the family,
// a day apart, the newest two days old.
func older(n int) []lifecycle.Image {
	var out []lifecycle.Image
	for i := 1; i <= n; i++ {
		out = append(out, lifecycle.Image{Name: fmt.Sprintf("app-v%d", i), ID: uint64(i), Project: project, Family: family,
			CreatedAt: now.Add(-time.Duration(n-i+2) * 24 * time.Hour), Status: lifecycle.StatusReady})
	}
	return out
}

func parentImage() lifecycle.Image {
	return lifecycle.Image{Name: "base-v7", ID: 77, Project: "acme-base", Family: "base-debian-12",
		CreatedAt: now.Add(-72 * time.Hour), Status: lifecycle.StatusReady}
}

func policy() lifecycle.Policy {
	p := lifecycle.DefaultPolicy()
	p.KeepActive = 2
	p.MinAge = 0
	return p
}

func request() releaser.Request {
	c := conv
	return releaser.Request{
		Project: project, Family: family, Image: built().Name,
		Parent: "https://www.googleapis.com/compute/v1/projects/acme-base/global/images/base-v7",
		Labels: map[string]string{"owner": "web-team"}, Convention: &c, Rename: releaser.RenameNever,
		Policy: policy(), Parallelism: 2, Now: func() time.Time { return now },
		LagPause: time.Millisecond, // the fake never lags: a read that does not show the release is the case under test
	}
}

// recorder is a Reporter that keeps every line: in lines as it came, marked
// with its kind ("say", "msg" or "err"), and by kind.
type recorder struct{ lines, says, msgs, errs []string }

func (r *recorder) Say(s string) {
	r.says = append(r.says, s)
	r.lines = append(r.lines, "say "+s)
}

func (r *recorder) Message(s string) {
	r.msgs = append(r.msgs, s)
	r.lines = append(r.lines, "msg "+s)
}

func (r *recorder) Error(s string) {
	r.errs = append(r.errs, s)
	r.lines = append(r.lines, "err "+s)
}

func (r *recorder) all() string { return strings.Join(r.lines, "\n") }

var mutations = []string{"InsertImageFromImage", "SetFamily", "SetLabels", "Deprecate", "DeleteImage"}

func mutatingCalls(f *gcetest.Fake) []string {
	var out []string
	for _, c := range f.Calls() {
		if slices.Contains(mutations, c.Method) {
			out = append(out, c.String())
		}
	}
	return out
}

func fake(extra ...lifecycle.Image) *gcetest.Fake {
	f := gcetest.New(append([]lifecycle.Image{built(), parentImage()}, extra...)...)
	f.Now = func() time.Time { return now }
	return f
}

func mustImage(t *testing.T, f *gcetest.Fake, name string) lifecycle.Image {
	t.Helper()
	img, ok := f.Image(project, name)
	if !ok {
		t.Fatalf("image %s is gone", name)
	}
	return img
}

func TestReleaseLabelsMovesTheFamilyAndRotates(t *testing.T) {
	f := fake(older(2)...)
	rep := &recorder{}
	out, err := releaser.Run(context.Background(), f, request(), rep)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, rep.all())
	}
	name := built().Name
	wantCalls := []string{
		"SetLabels(acme-images, app-v2)",       // the family's lease, on its head
		"SetLabels(acme-images, " + name + ")", // the labels and the mark, first
		"SetFamily(acme-images, " + name + ", app-nginx)",
		"SetLabels(acme-images, " + name + ")",       // the mark off
		"Deprecate(acme-images, app-v1, DEPRECATED)", // the rotation
		"SetLabels(acme-images, app-v2)",             // the lease given back
	}
	if got := mutatingCalls(f); !slices.Equal(got, wantCalls) {
		t.Errorf("mutations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantCalls, "\n"))
	}
	img := mustImage(t, f, name)
	selfLink := lifecycle.ImageRef{Project: project, Name: name}.SelfLink()
	if img.Family != family {
		t.Errorf("family = %q, want %q", img.Family, family)
	}
	for k, want := range map[string]string{
		"team":                       "web",
		"owner":                      "web-team",
		lifecycle.LabelParentImage:   "base-v7",
		lifecycle.LabelParentProject: "acme-base",
		lifecycle.LabelParentFamily:  "base-debian-12",
		lifecycle.LabelReleasedAt:    lifecycle.LabelTimestamp(now),
		lifecycle.LabelOS:            "debian-12",
		lifecycle.LabelSoftware:      "nginx",
		lifecycle.LabelVersion:       "1-26",
	} {
		if got := img.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if v1 := mustImage(t, f, "app-v1"); v1.State() != lifecycle.StateDeprecated || v1.Deprecation.Replacement != selfLink {
		t.Errorf("app-v1 = %s replacement %q, want DEPRECATED replaced by %s", v1.State(), v1.Deprecation.Replacement, selfLink)
	}
	if v2 := mustImage(t, f, "app-v2"); v2.State() != lifecycle.StateActive {
		t.Errorf("app-v2 = %s, want ACTIVE (keep_active 2: the warm rollback target)", v2.State())
	}
	if !out.Released || out.Raced || out.PreviousHead != "app-v2" || out.Head != name || out.RotationFailed {
		t.Errorf("outcome = %+v", out)
	}
	if out.Plan == nil || out.Plan.Actions["deprecate"] != 1 || out.Rotation == nil || out.Rotation.Failed() != 0 {
		t.Errorf("plan = %+v, rotation = %+v", out.Plan, out.Rotation)
	}
	// Steps said, details as messages; the image and the family named once,
	// in the first step; the rotation as a summary, not a table.
	want := []string{
		"say Releasing image " + name + " into family app-nginx of project acme-images",
		"msg the family points to app-v2 now",
		"msg the name follows the naming convention {os}-{software}-{version}-v{timestamp}",
		"say Wrote 8 labels, and the mark imagefamily-releasing-into=app-nginx until the family holds the image",
		"msg imagefamily-os=debian-12",
		"msg imagefamily-parent-family=base-debian-12",
		"msg imagefamily-parent-image=base-v7",
		"msg imagefamily-parent-project=acme-base",
		"msg imagefamily-released-at=20261126t064730z",
		"msg imagefamily-software=nginx",
		"msg imagefamily-version=1-26",
		"msg owner=web-team",
		"say Moved the family pointer: app-v2 -> " + name,
		"say Verified: the family resolves to " + name,
		"say Rotating the family: 1 action, at most 2 requests in flight",
		"say Rotated the family: 1 action, 1 done, 0 skipped, 0 failed",
		"msg done: deprecate 1",
		"msg untouched: 2 images (head 1, keep_active 1)",
	}
	if !slices.Equal(rep.lines, want) {
		t.Errorf("output:\n%s\nwant:\n%s", rep.all(), strings.Join(want, "\n"))
	}
}

func TestReleaseRefusesANameThatBreaksTheConvention(t *testing.T) {
	img := built()
	img.Name = "nginx-latest"
	f := fake(img)
	req := request()
	req.Image = img.Name
	out, err := releaser.Run(context.Background(), f, req, &recorder{})
	if err == nil {
		t.Fatal("Run succeeded; want the convention error")
	}
	for _, want := range []string{`image name "nginx-latest" does not follow the naming convention`, "debian-12-nginx-1-26-v", `rename = "copy"`, "Packer deletes the unreleased image nginx-latest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if m := mutatingCalls(f); len(m) != 0 {
		t.Errorf("a refused release changed things: %q", m)
	}
	if out.Released {
		t.Error("Released = true for a refused release")
	}
}

func TestReleaseCopiesUnderTheConventionalNameWhenAsked(t *testing.T) {
	img := built()
	img.Name = "nginx-latest"
	f := fake(append(older(1), img)...)
	req := request()
	req.Image, req.Rename, req.Description = img.Name, releaser.RenameCopy, "nginx for the web tier"
	out, err := releaser.Run(context.Background(), f, req, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	want := "debian-12-nginx-1-26-v" + lifecycle.FormatTimestamp(img.CreatedAt)
	if out.Image != want || !out.Renamed || !out.BuiltDeleted || out.BuiltImage != "nginx-latest" {
		t.Errorf("outcome image %q renamed %v built_deleted %v built %q; want %q, true, true, nginx-latest", out.Image, out.Renamed, out.BuiltDeleted, out.BuiltImage, want)
	}
	wantCalls := []string{
		"SetLabels(acme-images, app-v1)",       // the family's lease, on its head
		"SetLabels(acme-images, nginx-latest)", // the built image marked first
		"InsertImageFromImage(acme-images, " + want + ", projects/acme-images/global/images/nginx-latest)", // labelled and marked
		"SetFamily(acme-images, " + want + ", app-nginx)",
		"SetLabels(acme-images, " + want + ")", // the mark off
		"DeleteImage(acme-images, nginx-latest)",
		"SetLabels(acme-images, app-v1)", // the lease given back
	}
	if got := mutatingCalls(f); !slices.Equal(got, wantCalls) {
		t.Errorf("mutations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantCalls, "\n"))
	}
	if _, ok := f.Image(project, "nginx-latest"); ok {
		t.Error("the built image is still there")
	}
	cp := mustImage(t, f, want)
	if cp.Family != family || cp.Labels["team"] != "web" || cp.Labels[lifecycle.LabelSoftware] != "nginx" || cp.Labels[lifecycle.LabelReleasingInto] != "" {
		t.Errorf("copy = family %q labels %v", cp.Family, cp.Labels)
	}
}

func TestReleaseDeletesItsCopyWhenTheReleaseFailsBeforeTheFamilyMoves(t *testing.T) {
	img := built()
	img.Name = "nginx-latest"
	f := fake(img)
	f.Fail("SetLabels", &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.setLabels", Code: 403, Message: "Required 'compute.images.setLabels' permission"})
	req := request()
	req.Image, req.Rename = img.Name, releaser.RenameCopy
	out, err := releaser.Run(context.Background(), f, req, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "writing the labels") {
		t.Fatalf("err = %v, want the label write's failure", err)
	}
	if out.Released {
		t.Error("Released = true")
	}
	copyName := "debian-12-nginx-1-26-v" + lifecycle.FormatTimestamp(img.CreatedAt)
	if _, ok := f.Image(project, copyName); ok {
		t.Errorf("the copy %s was left behind", copyName)
	}
	if _, ok := f.Image(project, "nginx-latest"); !ok {
		t.Error("the built image was deleted by Run: that is Packer's to do")
	}
}

func TestReleaseRefusesUserLabelsThatCollideBeforeWritingAnything(t *testing.T) {
	tooMany := map[string]string{}
	for i := range 60 {
		tooMany[fmt.Sprintf("k%02d", i)] = "v"
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"lineage key", map[string]string{lifecycle.LabelParentImage: "mine"}, lifecycle.LabelParentImage},
		{"more than 64 labels", tooMany, "64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fake()
			req := request()
			req.Labels = tc.labels
			out, err := releaser.Run(context.Background(), f, req, &recorder{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
			if m := mutatingCalls(f); len(m) != 0 || out.Released {
				t.Errorf("mutations %q, released %v", m, out.Released)
			}
		})
	}
}

func TestReleaseReportsARacedHeadAndRotatesRelativeToIt(t *testing.T) {
	racer := lifecycle.Image{Name: "debian-12-nginx-1-26-v20261126t064600", ID: 50, Project: project, Family: family,
		CreatedAt: now.Add(-time.Minute), Status: lifecycle.StatusReady}
	f := fake(append(older(1), racer)...)
	rep := &recorder{}
	req := request()
	req.Policy.KeepActive = 1
	out, err := releaser.Run(context.Background(), f, req, rep)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Released || !out.Raced || out.Head != racer.Name {
		t.Errorf("released %v raced %v head %q; want true, true, %s", out.Released, out.Raced, out.Head, racer.Name)
	}
	if !strings.Contains(strings.Join(rep.errs, "\n"), "raced this release in") {
		t.Errorf("no word about the race: %q", rep.errs)
	}
	if out.Rotation == nil || out.Rotation.Head != racer.Name {
		t.Fatalf("rotation = %+v, want it planned with head %s", out.Rotation, racer.Name)
	}
	// keep_active 1, min_age 0: relative to the racer, both app-v1 and the
	// image just released are superseded.
	for _, name := range []string{"app-v1", built().Name} {
		img := mustImage(t, f, name)
		if img.State() != lifecycle.StateDeprecated || !strings.HasSuffix(img.Deprecation.Replacement, "/"+racer.Name) {
			t.Errorf("%s = %s replaced by %q, want DEPRECATED replaced by %s", name, img.State(), img.Deprecation.Replacement, racer.Name)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*releaser.Request, *lifecycle.Image)
		want   string
		fails  bool
	}{
		{name: "release", want: "DRY RUN: nothing was changed"},
		{name: "copy", mutate: func(r *releaser.Request, img *lifecycle.Image) {
			img.Name, r.Image, r.Rename = "nginx-latest", "nginx-latest", releaser.RenameCopy
		}, want: "DRY RUN: would copy nginx-latest to debian-12-nginx-1-26-v"},
		{name: "bad name", mutate: func(r *releaser.Request, img *lifecycle.Image) {
			img.Name, r.Image = "nginx-latest", "nginx-latest"
		}, want: "DRY RUN: the release would fail", fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, img := request(), built()
			req.DryRun = true
			if tc.mutate != nil {
				tc.mutate(&req, &img)
			}
			f := gcetest.New(append(older(3), img, parentImage())...)
			rep := &recorder{}
			out, err := releaser.Run(context.Background(), f, req, rep)
			if err != nil {
				t.Fatalf("a dry run returned an error (Packer would delete the image): %v", err)
			}
			if m := mutatingCalls(f); len(m) != 0 {
				t.Errorf("a dry run changed things: %q", m)
			}
			if !strings.Contains(rep.all(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, rep.all())
			}
			if !out.DryRun || out.Released || (out.Error != "") != tc.fails {
				t.Errorf("dry_run %v released %v error %q", out.DryRun, out.Released, out.Error)
			}
			if !tc.fails {
				// The plan is made as if the image were the head: with
				// keep_active 2 the two oldest would be deprecated.
				if out.Plan == nil || out.Plan.Head != out.Image || out.Plan.Actions["deprecate"] != 2 {
					t.Errorf("plan = %+v, want head %s and 2 deprecations", out.Plan, out.Image)
				}
				if out.Rotation == nil || !out.Rotation.DryRun {
					t.Errorf("rotation = %+v, want a preview", out.Rotation)
				}
			}
		})
	}
}

func TestRotationProblemsAreWarningsUnlessTheyCanFailTheBuildBeforeTheRelease(t *testing.T) {
	deprecateFails := func(f *gcetest.Fake) {
		f.Fail("Deprecate", &gce.Error{Kind: gce.ErrInvalid, Method: "images.deprecate", Code: 400, Message: "bad"})
	}
	scanFails := func(f *gcetest.Fake) {
		// A permission missing fails every scan, the early one included.
		denied := &gce.Error{Kind: gce.ErrPermissionDenied, Method: "instanceTemplates.aggregatedList", Code: 403, Message: "Required 'compute.instanceTemplates.list' permission"}
		f.Fail("ScanImageUses", denied, denied, denied, denied)
	}
	for _, tc := range []struct {
		name        string
		failOnError bool
		script      func(*gcetest.Fake)
		wantErr     bool
		wantFamily  bool
	}{
		{"failed action, warning", false, deprecateFails, false, true},
		{"failed action, fail_on_rotation_error: still no error after the release", true, deprecateFails, false, true},
		{"failed in-use scan, warning", false, scanFails, false, true},
		{"failed in-use scan, fail_on_rotation_error: fails before the release", true, scanFails, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fake(older(2)...)
			tc.script(f)
			req := request()
			req.FailOnRotationError = tc.failOnError
			rep := &recorder{}
			out, err := releaser.Run(context.Background(), f, req, rep)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v\n%s", err, tc.wantErr, rep.all())
			}
			img := mustImage(t, f, built().Name)
			if (img.Family == family) != tc.wantFamily || out.Released != tc.wantFamily {
				t.Errorf("image family %q released %v, want in family %v", img.Family, out.Released, tc.wantFamily)
			}
			if !tc.wantErr && (!out.RotationFailed || len(rep.errs) == 0) {
				t.Errorf("rotation_failed %v, errors %q: the problem must be reported", out.RotationFailed, rep.errs)
			}
			if tc.wantErr && !strings.Contains(err.Error(), "fail_on_rotation_error") {
				t.Errorf("error does not name fail_on_rotation_error: %v", err)
			}
		})
	}
}

// appliedButFailed moves the family and then reports an error, like a lost
// response; with readFails the read-back fails too.
type appliedButFailed struct {
	*gcetest.Fake
	readFails bool
	moved     bool
}

func (a *appliedButFailed) SetFamily(ctx context.Context, p, image, fam string) error {
	if err := a.Fake.SetFamily(ctx, p, image, fam); err != nil {
		return err
	}
	a.moved = true
	return &gce.Error{Method: "images.patch", Code: 503, Message: "backend error"} // after its retries
}

func (a *appliedButFailed) GetImage(ctx context.Context, p, name string) (lifecycle.Image, error) {
	if a.moved && a.readFails {
		return lifecycle.Image{}, &gce.Error{Method: "images.get", Code: 503, Message: "backend error"}
	}
	return a.Fake.GetImage(ctx, p, name)
}

func TestAFailedFamilyMoveFailsOnlyWhenTheImageIsProvablyOutsideTheFamily(t *testing.T) {
	t.Run("move refused", func(t *testing.T) {
		f := fake(older(1)...)
		f.Fail("SetFamily", &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.patch", Code: 403, Message: "denied"})
		out, err := releaser.Run(context.Background(), f, request(), &recorder{})
		if err == nil || out.Released {
			t.Fatalf("err %v released %v: want an error and no release", err, out.Released)
		}
	})
	for _, readFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("move applied, read-back fails %v", readFails), func(t *testing.T) {
			f := &appliedButFailed{Fake: fake(older(1)...), readFails: readFails}
			rep := &recorder{}
			out, err := releaser.Run(context.Background(), f, request(), rep)
			if err != nil {
				t.Fatalf("err = %v: the image may be released and must be kept", err)
			}
			if !out.Released || out.ReleaseUnconfirmed != readFails || len(rep.errs) == 0 {
				t.Errorf("released %v unconfirmed %v errors %q", out.Released, out.ReleaseUnconfirmed, rep.errs)
			}
		})
	}
}

// cancelledMove is a build cancelled while the family move is in flight: the
// move is not applied and the context has ended.
type cancelledMove struct {
	*gcetest.Fake
	cancel context.CancelFunc
}

func (c *cancelledMove) SetFamily(ctx context.Context, p, image, fam string) error {
	c.cancel()
	return context.Canceled
}

func (c *cancelledMove) GetImage(ctx context.Context, p, name string) (lifecycle.Image, error) {
	if err := ctx.Err(); err != nil {
		return lifecycle.Image{}, err
	}
	return c.Fake.GetImage(ctx, p, name)
}

func TestACancelledFamilyMoveIsReadBackDespiteTheEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &cancelledMove{Fake: fake(older(1)...), cancel: cancel}
	out, err := releaser.Run(ctx, f, request(), &recorder{})
	if err == nil || out.Released || out.ReleaseUnconfirmed {
		t.Fatalf("err %v released %v unconfirmed %v: the read-back shows the image outside the family, so the failure stands", err, out.Released, out.ReleaseUnconfirmed)
	}
}

// TestAnErrorNeverComesWithAReleasedImage injects a failure into each call a
// release makes, one at a time, and checks the rule Packer's clean-up needs:
// an error only while the family does not hold the image.
func TestAnErrorNeverComesWithAReleasedImage(t *testing.T) {
	methods := []string{"GetImage", "GetFromFamily", "InsertImageFromImage", "SetLabels", "SetFamily",
		"ListFamily", "ScanImageUses", "Deprecate", "DeleteImage"}
	for _, copyMode := range []bool{false, true} {
		for _, failOnRotation := range []bool{false, true} {
			for _, method := range methods {
				for nth := 0; nth < 3; nth++ {
					name := fmt.Sprintf("copy=%v/fail_on_rotation_error=%v/%s#%d", copyMode, failOnRotation, method, nth+1)
					t.Run(name, func(t *testing.T) {
						img := built()
						req := request()
						req.FailOnRotationError = failOnRotation
						if copyMode {
							img.Name, req.Image, req.Rename = "nginx-latest", "nginx-latest", releaser.RenameCopy
						}
						f := gcetest.New(append(older(3), img, parentImage())...)
						f.Now = func() time.Time { return now }
						script := make([]error, nth+1)
						script[nth] = &gce.Error{Kind: gce.ErrInvalid, Method: method, Code: 400, Message: "injected"}
						f.Fail(method, script...)
						out, err := releaser.Run(context.Background(), f, req, &recorder{})
						inFamily := false
						if cur, ok := f.Image(project, out.Image); ok {
							inFamily = cur.Family == family
						}
						if err != nil && (out.Released || inFamily) {
							t.Fatalf("error %v with the image released (released %v, in family %v)", err, out.Released, inFamily)
						}
						if err == nil && (!out.Released || !inFamily) {
							t.Fatalf("no error, but released %v, in family %v", out.Released, inFamily)
						}
					})
				}
			}
		}
	}
}

func TestReleaseStepsForEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*gcetest.Fake, *releaser.Request)
		wantErr string
		check   func(*testing.T, *gcetest.Fake, *releaser.Outcome, *recorder)
	}{
		{
			name:    "image not in the project",
			setup:   func(_ *gcetest.Fake, r *releaser.Request) { r.Project = "other-project" },
			wantErr: "image_project_id",
		},
		{
			name: "deprecated image",
			setup: func(f *gcetest.Fake, _ *releaser.Request) {
				img := built()
				img.Deprecation.State = lifecycle.StateDeprecated
				f.Put(img)
			},
			wantErr: "only an ACTIVE image can be released",
		},
		{
			name: "image already in the family",
			setup: func(f *gcetest.Fake, _ *releaser.Request) {
				img := built()
				img.Family = family
				f.Put(img)
			},
			check: func(t *testing.T, f *gcetest.Fake, out *releaser.Outcome, rep *recorder) {
				for _, c := range f.CallStrings() {
					if strings.HasPrefix(c, "SetFamily") {
						t.Errorf("moved a family that already holds the image: %s", c)
					}
				}
				if !out.Released || !strings.Contains(rep.all(), "already in the family") {
					t.Errorf("released %v\n%s", out.Released, rep.all())
				}
			},
		},
		{
			name: "parent unreadable",
			setup: func(f *gcetest.Fake, _ *releaser.Request) {
				f.Fail("GetImage", nil, &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.get", Code: 403, Message: "denied"})
			},
			check: func(t *testing.T, f *gcetest.Fake, out *releaser.Outcome, rep *recorder) {
				img := mustImage(t, f, built().Name)
				if img.Labels[lifecycle.LabelParentImage] != "base-v7" || img.Labels[lifecycle.LabelParentFamily] != "" {
					t.Errorf("labels %v, want the parent image without its family", img.Labels)
				}
				if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "parent image") {
					t.Errorf("warnings %q", out.Warnings)
				}
			},
		},
		{
			name:  "no parent, first release",
			setup: func(_ *gcetest.Fake, r *releaser.Request) { r.Parent = "" },
			check: func(t *testing.T, f *gcetest.Fake, out *releaser.Outcome, rep *recorder) {
				img := mustImage(t, f, built().Name)
				if _, ok := img.Labels[lifecycle.LabelParentImage]; ok {
					t.Errorf("labels %v carry a parent", img.Labels)
				}
				if out.PreviousHead != "" || !strings.Contains(rep.all(), "first release") {
					t.Errorf("previous head %q\n%s", out.PreviousHead, rep.all())
				}
			},
		},
		{
			name: "parent names a family",
			setup: func(_ *gcetest.Fake, r *releaser.Request) {
				r.Parent = "projects/acme-base/global/images/family/base-debian-12"
			},
			wantErr: "names a family",
		},
		{
			name: "in-use image is left alone",
			setup: func(f *gcetest.Fake, r *releaser.Request) {
				for _, img := range older(2) {
					f.Put(img)
				}
				f.Uses[lifecycle.ImageRef{Project: project, Name: "app-v1"}] = []lifecycle.Use{{Kind: lifecycle.UseInstanceTemplate, Project: project, Name: "web-tpl"}}
				r.Policy.KeepActive = 1
			},
			check: func(t *testing.T, f *gcetest.Fake, out *releaser.Outcome, rep *recorder) {
				if v1 := mustImage(t, f, "app-v1"); v1.State() != lifecycle.StateActive {
					t.Errorf("app-v1 = %s, want ACTIVE (an instance template uses it)", v1.State())
				}
				if v2 := mustImage(t, f, "app-v2"); v2.State() != lifecycle.StateDeprecated {
					t.Errorf("app-v2 = %s, want DEPRECATED", v2.State())
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fake()
			req := request()
			tc.setup(f, &req)
			rep := &recorder{}
			out, err := releaser.Run(context.Background(), f, req, rep)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if m := mutatingCalls(f); len(m) != 0 {
					t.Errorf("mutations before a refusal: %q", m)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, rep.all())
			}
			tc.check(t, f, out, rep)
		})
	}
}

func TestOutcomeWritesTheJSONReport(t *testing.T) {
	f := fake(older(2)...)
	out, err := releaser.Run(context.Background(), f, request(), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reports", "release.json")
	if err := out.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, b)
	}
	for k, want := range map[string]any{
		"image": built().Name, "family": family, "previous_head": "app-v2", "head": built().Name,
		"released": true, "dry_run": false, "renamed": false, "parent": "projects/acme-base/global/images/base-v7",
		"parent_family": "base-debian-12", "released_at": "2026-11-26T06:47:30.000Z", "format_version": float64(releaser.ReportFormatVersion),
	} {
		if got[k] != want {
			t.Errorf("report %s = %v, want %v", k, got[k], want)
		}
	}
	rot, _ := got["rotation"].(map[string]any)
	if results, _ := rot["results"].([]any); len(results) != 1 {
		t.Errorf("rotation results = %v, want the one deprecation", rot["results"])
	}
}

// staleListing is a family listing that does not show the image just
// released (an eventually consistent list, or a move that did not stick).
type staleListing struct {
	*gcetest.Fake
	hide string
}

func (s *staleListing) ListFamily(ctx context.Context, p, fam string) ([]lifecycle.Image, error) {
	imgs, err := s.Fake.ListFamily(ctx, p, fam)
	return slices.DeleteFunc(imgs, func(img lifecycle.Image) bool { return img.Name == s.hide }), err
}

// TestNoRotationUnlessTheFamilyShowsTheRelease: the rotation is planned
// relative to the head of the family as listed after the move; when that
// listing does not show the released image, the rotation would supersede
// images relative to a head that is not this release, so it is skipped and
// reported, and the release stands.
func TestNoRotationUnlessTheFamilyShowsTheRelease(t *testing.T) {
	f := fake(older(3)...)
	c := &staleListing{Fake: f, hide: built().Name}
	req := request()
	req.Policy.KeepActive = 1
	rep := &recorder{}
	out, err := releaser.Run(context.Background(), c, req, rep)
	if err != nil || !out.Released {
		t.Fatalf("Run = %v, released %v: the move succeeded, the release stands", err, out.Released)
	}
	for _, call := range mutatingCalls(f) {
		if strings.HasPrefix(call, "Deprecate") {
			t.Errorf("rotated although the family does not show the release: %s", call)
		}
	}
	if !out.RotationFailed || out.Rotation != nil || !strings.Contains(rep.all(), "does not show "+built().Name) || !strings.Contains(rep.all(), "rotation skipped") {
		t.Errorf("rotation failed %v, rotation %+v\n%s", out.RotationFailed, out.Rotation, rep.all())
	}
}

func TestACopyThatCannotBeDeletedAfterAFailedReleaseIsNamedInTheError(t *testing.T) {
	img := built()
	img.Name = "nginx-latest"
	f := fake(img)
	f.Fail("SetFamily", &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.patch", Code: 403, Message: "Required 'compute.images.update' permission"})
	f.Fail("DeleteImage", &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.delete", Code: 403, Message: "Required 'compute.images.delete' permission"})
	req := request()
	req.Image, req.Rename = img.Name, releaser.RenameCopy
	out, err := releaser.Run(context.Background(), f, req, &recorder{})
	copyName := "debian-12-nginx-1-26-v" + lifecycle.FormatTimestamp(img.CreatedAt)
	if err == nil || !strings.Contains(err.Error(), "moving the family") || !strings.Contains(err.Error(), copyName+" made for this release could not be deleted") {
		t.Fatalf("err = %v, want the family move's failure naming the copy left behind", err)
	}
	if out.Released {
		t.Error("Released = true")
	}
	copied, ok := f.Image(project, copyName)
	if !ok || copied.Family == req.Family {
		t.Fatalf("copy %s: present %v, family %q; want it left outside the family", copyName, ok, copied.Family)
	}
	if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "delete it by hand") {
		t.Errorf("warnings = %q, want one saying to delete the copy by hand", out.Warnings)
	}
}

func TestAnUnknownParentIsSaidOnceWithWhyAndWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		name, note, want string
	}{
		{"the caller knows why", "the source image base-v7 was looked up without source_image_project_id, so its project is not known (set parent)",
			"no parent lineage labels are written: the source image base-v7 was looked up without source_image_project_id, so its project is not known (set parent)"},
		{"nobody knows why", "", "no parent lineage labels are written: the parent image is unknown (set parent)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := request()
			req.Parent, req.ParentNote = "", tc.note
			rep := &recorder{}
			if _, err := releaser.Run(context.Background(), fake(older(1)...), req, rep); err != nil {
				t.Fatalf("Run: %v\n%s", err, rep.all())
			}
			var said []string
			for _, m := range rep.lines {
				if strings.Contains(m, "parent") {
					said = append(said, m)
				}
			}
			if want := []string{"msg " + tc.want}; !slices.Equal(said, want) {
				t.Errorf("about the parent:\n%s\nwant:\n%s", strings.Join(said, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestARebuildOfTheHeadsContentReleasesNothing: a build whose content
// manifest has the digest the head carries is not released; its image is
// deleted, the family and its older images left as they are, and the build
// succeeds. Any other digest is released and recorded.
func TestARebuildOfTheHeadsContentReleasesNothing(t *testing.T) {
	same := lifecycle.ContentDigest([]byte("nginx 1.26.0-1\n"))
	other := lifecycle.ContentDigest([]byte("nginx 1.26.1-1\n"))
	name := built().Name
	for _, tc := range []struct {
		name      string
		digest    string
		dryRun    bool
		builtTags map[string]string // more labels on the built image
		headTags  map[string]string // other labels on the head
		wantCalls []string
		wantSaid  string
		wantWarn  string
		unchanged bool
		deleted   bool
	}{
		{name: "same content: the built image is deleted, nothing else changes", digest: same,
			wantCalls: []string{"DeleteImage(acme-images, " + name + ")"},
			wantSaid:  "say unchanged: same content as HEAD app-v2: the family is not moved, nor rotated\nmsg content digest " + same[:19] + "…, the head's too",
			unchanged: true, deleted: true},
		{name: "same content, dry run: nothing changes", digest: same, dryRun: true,
			wantSaid: "say DRY RUN: unchanged: same content as HEAD app-v2", unchanged: true},
		{name: "same content, the built image protected: kept, and said", digest: same, builtTags: map[string]string{lifecycle.DefaultProtectLabel: "true"},
			wantWarn: "is not deleted: it carries the protect label", unchanged: true},
		{name: "same content on another parent: released", digest: same, headTags: map[string]string{lifecycle.LabelParentImage: "base-v6"},
			wantCalls: []string{"SetLabels(acme-images, app-v2)", "SetLabels(acme-images, " + name + ")", "SetFamily(acme-images, " + name + ", app-nginx)",
				"SetLabels(acme-images, " + name + ")", "Deprecate(acme-images, app-v1, DEPRECATED)", "SetLabels(acme-images, app-v2)"},
			wantSaid: "msg same content digest as the head, on another parent (the head's: base-v6): released"},
		{name: "other content: released, the digest recorded", digest: other,
			wantCalls: []string{"SetLabels(acme-images, app-v2)", "SetLabels(acme-images, " + name + ")", "SetFamily(acme-images, " + name + ", app-nginx)",
				"SetLabels(acme-images, " + name + ")", "Deprecate(acme-images, app-v1, DEPRECATED)", "SetLabels(acme-images, app-v2)"},
			wantSaid: "msg content changed: digest " + other[:19] + "…, the head's " + same[:19] + "…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			images := older(2)
			images[1].Labels = headLineage(same)
			maps.Copy(images[1].Labels, tc.headTags)
			f := fake(images...)
			b := built()
			maps.Copy(b.Labels, tc.builtTags)
			f.Put(b)
			req := request()
			req.ContentDigest, req.DryRun = tc.digest, tc.dryRun
			rep := &recorder{}
			out, err := releaser.Run(context.Background(), f, req, rep)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, rep.all())
			}
			if got := mutatingCalls(f); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("mutations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantCalls, "\n"))
			}
			if !strings.Contains(rep.all(), tc.wantSaid) || !strings.Contains(strings.Join(rep.errs, "\n"), tc.wantWarn) {
				t.Errorf("output lacks %q or the warning %q:\n%s", tc.wantSaid, tc.wantWarn, rep.all())
			}
			if tc.wantWarn == "" && len(rep.errs) > 0 {
				t.Errorf("unexpected errors: %q", rep.errs)
			}
			if out.Unchanged != tc.unchanged || out.BuiltDeleted != tc.deleted || out.Released == tc.unchanged || out.ContentDigest != tc.digest ||
				!tc.dryRun && (out.ReleasedAt == nil) != tc.unchanged {
				t.Errorf("outcome: unchanged %v deleted %v released %v (at %v) digest %q", out.Unchanged, out.BuiltDeleted, out.Released, out.ReleasedAt, out.ContentDigest)
			}
			head, _ := f.GetFromFamily(context.Background(), project, family)
			switch {
			case tc.unchanged && head.Name != "app-v2":
				t.Errorf("the family moved to %s", head.Name)
			case !tc.unchanged && (head.Name != name || head.Labels[lifecycle.LabelContentDigest] != tc.digest):
				t.Errorf("head %s with digest %q, want %s with %q", head.Name, head.Labels[lifecycle.LabelContentDigest], name, tc.digest)
			}
			if _, kept := f.Image(project, name); kept == tc.deleted {
				t.Errorf("built image kept: %v, want %v", kept, !tc.deleted)
			}
		})
	}
}

// headLineage are the labels a release of request() wrote on the head, with
// the content digest digest.
func headLineage(digest string) map[string]string {
	return map[string]string{lifecycle.LabelContentDigest: digest, lifecycle.LabelParentImage: "base-v7", lifecycle.LabelParentProject: "acme-base",
		lifecycle.LabelParentFamily: "base-debian-12", lifecycle.LabelOS: "debian-12", lifecycle.LabelSoftware: "nginx", lifecycle.LabelVersion: "1-26",
		lifecycle.LabelReleasedAt: "20261125t064730z"}
}

// protectingMove fails the family move and, just before, has someone put
// the protect label on the copy being released.
type protectingMove struct {
	*gcetest.Fake
	copyName string
}

func (p *protectingMove) SetFamily(ctx context.Context, project, image, family string) error {
	if err := p.Fake.SetLabelsFrom(ctx, lifecycle.Image{Project: project, Name: p.copyName}, func(cur map[string]string) (map[string]string, error) {
		cur["imagefamily-protect"] = "true"
		return cur, nil
	}); err != nil {
		return err
	}
	return &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.patch", Code: 403, Message: "Required 'compute.images.update' permission"}
}

func TestAFailedReleaseKeepsItsCopyOnceSomeoneProtectedIt(t *testing.T) {
	img := built()
	img.Name = "nginx-latest"
	copyName := "debian-12-nginx-1-26-v" + lifecycle.FormatTimestamp(img.CreatedAt)
	c := &protectingMove{Fake: fake(img), copyName: copyName}
	req := request()
	req.Image, req.Rename = img.Name, releaser.RenameCopy
	out, err := releaser.Run(context.Background(), c, req, &recorder{})
	if err == nil || !strings.Contains(err.Error(), copyName+" made for this release could not be deleted") {
		t.Fatalf("err = %v, want the move's failure naming the copy left behind", err)
	}
	copied, ok := c.Image(project, copyName)
	if !ok || copied.Labels["imagefamily-protect"] != "true" {
		t.Fatalf("copy %s: present %v, labels %v; want it kept with the protect label", copyName, ok, copied.Labels)
	}
	for _, call := range c.CallStrings() {
		if strings.HasPrefix(call, "DeleteImage(") && strings.Contains(call, copyName) {
			t.Errorf("%s sent for a copy protected since it was made", call)
		}
	}
	if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "changed since planned") {
		t.Errorf("warnings = %q, want one saying the copy changed since it was made", out.Warnings)
	}
}
