package resolve

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func day(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

func img(name, family string, created int, state lifecycle.State) lifecycle.Image {
	return lifecycle.Image{
		Name: name, ID: uint64(100 + created), Project: "acme-images", Family: family, CreatedAt: day(created),
		Status: lifecycle.StatusReady, Deprecation: lifecycle.Deprecation{State: state},
		SelfLink:     lifecycle.ImageRef{Project: "acme-images", Name: name}.SelfLink(),
		Architecture: "X86_64", DiskSizeGB: 10,
	}
}

// fixture is a family whose newest image is DEPRECATED, so that its head is
// the next ACTIVE one; plus images in states a pin must refuse.
func fixture() *gcetest.Fake {
	obsolete := img("base-v0", "base", 1, lifecycle.StateObsolete)
	obsolete.Deprecation.Replacement = "projects/acme-images/global/images/base-v2"
	failed := img("base-failed", "base", 5, "")
	failed.Status = "FAILED"
	return gcetest.New(
		obsolete,
		img("base-v1", "base", 2, lifecycle.StateDeleted),
		img("base-v2", "base", 3, ""),
		img("base-v3", "base", 4, lifecycle.StateDeprecated),
		failed,
		img("other-v1", "other", 6, ""),
		img("loose-v1", "", 6, ""),
	)
}

func TestResolveMakesOneCallAndSkipsDeprecatedImages(t *testing.T) {
	tests := []struct {
		name      string
		req       Request
		wantImage string
		wantCall  string
	}{
		{"family head skips the newer DEPRECATED image", Request{Project: "acme-images", Family: "base"}, "base-v2", "GetFromFamily(acme-images, base)"},
		{"zonal view", Request{Project: "acme-images", Family: "base", Zone: "us-central1-a"}, "base-v2", "GetFromFamilyZonal(acme-images, us-central1-a, base)"},
		{"pin by name", Request{Project: "acme-images", Family: "base", Image: "base-v2"}, "base-v2", "GetImage(acme-images, base-v2)"},
		{"pin by self link", Request{Project: "acme-images", Family: "base", Image: "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/base-v2"}, "base-v2", "GetImage(acme-images, base-v2)"},
		{"pin of a DEPRECATED image is allowed", Request{Project: "acme-images", Family: "base", Image: "base-v3"}, "base-v3", "GetImage(acme-images, base-v3)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture()
			got, err := Image(context.Background(), f, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tc.wantImage {
				t.Errorf("resolved %s, want %s", got.Name, tc.wantImage)
			}
			if calls := f.CallStrings(); !slices.Equal(calls, []string{tc.wantCall}) {
				t.Errorf("calls = %q, want exactly %q", calls, tc.wantCall)
			}
		})
	}
}

func TestResolveRefusesWithTheReason(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"family with no usable image", Request{Project: "acme-images", Family: "nothing"},
			"family \"nothing\" in project \"acme-images\" has no usable image: it has no image, or every image is DEPRECATED, OBSOLETE or DELETED, or the project does not exist (images.getFromFamily projects/acme-images/global/images/family/nothing: The resource 'projects/acme-images/global/images/family/nothing' was not found (404 notFound)); see `imagefamily status --project acme-images --family nothing`"},
		{"zonal view with no usable image", Request{Project: "acme-images", Family: "nothing", Zone: "us-central1-a"},
			"family \"nothing\" in project \"acme-images\" has no usable image rolled out in zone us-central1-a:"},
		{"pin that does not exist", Request{Project: "acme-images", Family: "base", Image: "base-v9"},
			"image \"base-v9\" was not found in project \"acme-images\" (images.get projects/acme-images/global/images/base-v9: The resource 'projects/acme-images/global/images/base-v9' was not found (404 notFound)); see `imagefamily status --project acme-images --family base` for the family's images"},
		{"pin of another family's image", Request{Project: "acme-images", Family: "base", Image: "other-v1"},
			`image projects/acme-images/global/images/other-v1 belongs to family "other", not to family "base": a pinned image must be one of the family's images`},
		{"pin of an image in no family", Request{Project: "acme-images", Family: "base", Image: "loose-v1"},
			`image projects/acme-images/global/images/loose-v1 belongs to no family, not to family "base"`},
		{"pin of an OBSOLETE image", Request{Project: "acme-images", Family: "base", Image: "base-v0"},
			"image projects/acme-images/global/images/base-v0 is OBSOLETE: Compute Engine refuses new uses of OBSOLETE and DELETED images (its replacement is projects/acme-images/global/images/base-v2)"},
		{"pin of a DELETED image", Request{Project: "acme-images", Family: "base", Image: "base-v1"},
			"image projects/acme-images/global/images/base-v1 is DELETED: Compute Engine refuses new uses of OBSOLETE and DELETED images"},
		{"pin of a FAILED image", Request{Project: "acme-images", Family: "base", Image: "base-failed"},
			"image projects/acme-images/global/images/base-failed is FAILED, not READY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Image(context.Background(), fixture(), tc.req)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestResolveWrapsOtherFailures(t *testing.T) {
	f := fixture()
	f.Fail("GetFromFamily", &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.getFromFamily", Code: 403, Reason: "forbidden", Message: "Required 'compute.images.getFromFamily' permission"})
	_, err := Image(context.Background(), f, Request{Project: "acme-images", Family: "base"})
	want := `resolving family "base" in project "acme-images": images.getFromFamily: Required 'compute.images.getFromFamily' permission (403 forbidden)`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}
