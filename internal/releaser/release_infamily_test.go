package releaser_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
)

// TestAnImageAlreadyInTheFamilyIsNeverFailed: when the builder put the image
// in the family (googlecompute's image_family), it is the family's head before
// the release starts; a release that then fails anywhere must not return an
// error, because Packer deletes the image of a failed post-processor. It used
// to fail on, e.g., a failed label write, and Packer deleted the head (found
// by reliability.TestChaosRelease).
func TestAnImageAlreadyInTheFamilyIsNeverFailed(t *testing.T) {
	for _, method := range []string{"GetFromFamily", "GetImage", "SetLabels", "ListFamily", "ScanImageUses", "Deprecate"} {
		for nth := 0; nth < 2; nth++ {
			t.Run(fmt.Sprintf("%s#%d", method, nth+1), func(t *testing.T) {
				img := built()
				img.Family = family
				f := gcetest.New(append(older(3), img, parentImage())...)
				f.Now = func() time.Time { return now }
				script := make([]error, nth+1)
				script[nth] = &gce.Error{Kind: gce.ErrInvalid, Method: method, Code: 400, Message: "injected"}
				if method == "GetImage" && nth == 0 {
					// The first read is of the built image itself: without
					// it nothing is known, and the error stands.
					script[0] = nil
				}
				f.Fail(method, script...)
				req := request()
				req.FailOnRotationError = true
				out, err := releaser.Run(context.Background(), f, req, &recorder{})
				if err != nil || !out.Released {
					t.Fatalf("error %v, released %v: Packer would delete %s, which is in the family", err, out.Released, img.Name)
				}
				if _, ok := f.Image(project, img.Name); !ok {
					t.Fatalf("%s was deleted", img.Name)
				}
			})
		}
	}
}

func TestAnImageAlreadyInTheFamilyBreakingTheConventionIsAWarning(t *testing.T) {
	img := built()
	img.Name, img.Family = "nginx-latest", family
	f := gcetest.New(append(older(2), img, parentImage())...)
	f.Now = func() time.Time { return now }
	req := request()
	req.Image = img.Name
	rep := &recorder{}
	out, err := releaser.Run(context.Background(), f, req, rep)
	if err != nil || !out.Released {
		t.Fatalf("error %v, released %v: Packer would delete the family's head", err, out.Released)
	}
	if !strings.Contains(strings.Join(rep.errs, "\n"), "does not follow the naming convention") {
		t.Errorf("the broken convention is not reported:\n%s", rep.all())
	}
}

// TestAnImageInAnotherFamilyIsKeptWhenItsReleaseFails: an image the builder
// put in another family (image_family = "app-candidate") may be what that
// family resolves to; a release of it that fails before the move must not
// return an error either (Packer would delete it), but it is not released:
// the failure is a warning and Outcome.Error.
func TestAnImageInAnotherFamilyIsKeptWhenItsReleaseFails(t *testing.T) {
	for _, method := range []string{"GetFromFamily", "GetImage", "SetLabels", "SetFamily", "ListFamily", "ScanImageUses", "InsertImageFromImage"} {
		for _, copyMode := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/copy=%v", method, copyMode), func(t *testing.T) {
				img := built()
				img.Family = "app-candidate"
				req := request()
				req.FailOnRotationError = true
				if copyMode {
					img.Name, req.Image, req.Rename = "nginx-latest", "nginx-latest", releaser.RenameCopy
				}
				f := gcetest.New(append(older(2), img, parentImage())...)
				f.Now = func() time.Time { return now }
				script := []error{&gce.Error{Kind: gce.ErrInvalid, Method: method, Code: 400, Message: "injected"}}
				if method == "GetImage" {
					// The first read is of the built image itself: the
					// parent's read fails, a warning.
					script = append([]error{nil}, script...)
				}
				f.Fail(method, script...)
				rep := &recorder{}
				out, err := releaser.Run(context.Background(), f, req, rep)
				if err != nil {
					t.Fatalf("error %v: Packer would delete %s, which is in family app-candidate", err, img.Name)
				}
				cur, ok := f.Image(project, img.Name)
				if !ok {
					t.Fatalf("%s was deleted", img.Name)
				}
				if out.Released {
					// The failure did not stop the release: what was
					// released is in the family.
					if rel, ok := f.Image(project, out.Image); !ok || rel.Family != family {
						t.Errorf("released %s: present %v, family %q; want it in %s", out.Image, ok, rel.Family, family)
					}
					return
				}
				if cur.Family != "app-candidate" || out.Error == "" || out.BuiltFamily != "app-candidate" ||
					!strings.Contains(rep.all(), "not failing the build: the image is in family app-candidate") {
					t.Errorf("family %q, outcome error %q built family %q\n%s", cur.Family, out.Error, out.BuiltFamily, rep.all())
				}
				if head := mustHead(t, f); head != "app-v2" {
					t.Errorf("the family resolves to %s, want app-v2: it was not moved", head)
				}
			})
		}
	}
}

func mustHead(t *testing.T, f *gcetest.Fake) string {
	t.Helper()
	head, err := f.GetFromFamily(context.Background(), project, family)
	if err != nil {
		t.Fatal(err)
	}
	return head.Name
}
