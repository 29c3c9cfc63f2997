package emulator_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

func TestInsertedImageIsReadableByNameAndIDAndDeletable(t *testing.T) {
	c := start(t, emulator.Options{})
	ctx := ctxT(t)
	img := c.mustInsert(t, withFamily(rawImage("web-v1"), "web"))

	for _, f := range []struct{ field, got, want string }{
		{"kind", img.GetKind(), "compute#image"},
		{"status", img.GetStatus(), "READY"},
		{"selfLink", img.GetSelfLink(), "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/web-v1"},
		{"labelFingerprint", img.GetLabelFingerprint(), "42WmSpB8rSM="},
		{"sourceType", img.GetSourceType(), "RAW"},
		{"storageLocations", strings.Join(img.GetStorageLocations(), ","), "us"},
		{"diskSizeGb", strconv.FormatInt(img.GetDiskSizeGb(), 10), "10"},
	} {
		if f.got != f.want {
			t.Errorf("%s = %q, want %q", f.field, f.got, f.want)
		}
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$`).MatchString(img.GetCreationTimestamp()) {
		t.Errorf("creationTimestamp %q is not RFC 3339 with milliseconds", img.GetCreationTimestamp())
	}
	if img.GetId() == 0 || img.GetArchiveSizeBytes() == 0 {
		t.Errorf("id %d, archiveSizeBytes %d: want both set", img.GetId(), img.GetArchiveSizeBytes())
	}

	byID := c.mustGet(t, strconv.FormatUint(img.GetId(), 10))
	if byID.GetName() != "web-v1" {
		t.Fatalf("get by id returned %q", byID.GetName())
	}

	op, err := c.images.Delete(ctx, &computepb.DeleteImageRequest{Project: proj, Image: "web-v1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := op.Proto().GetOperationType(); got != "delete" {
		t.Errorf("operationType %q, want delete", got)
	}
	_, err = c.images.Get(ctx, &computepb.GetImageRequest{Project: proj, Image: "web-v1"})
	msg := wantAPIErr(t, err, 404, "notFound")
	if want := "The resource 'projects/acme-images/global/images/web-v1' was not found"; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
	_, err = c.images.Delete(ctx, &computepb.DeleteImageRequest{Project: proj, Image: "web-v1"})
	wantAPIErr(t, err, 404, "notFound")
}

func TestInsertRejectsInvalidRequestsSynchronously(t *testing.T) {
	c := start(t, emulator.Options{})
	c.mustInsert(t, rawImage("taken"))
	obsolete := c.mustInsert(t, rawImage("old"))
	if err := c.deprecate(t, obsolete.GetName(), &computepb.DeprecationStatus{State: proto.String("OBSOLETE")}); err != nil {
		t.Fatal(err)
	}
	tooMany := map[string]string{}
	for i := range 65 {
		tooMany["k"+strconv.Itoa(i)] = "v"
	}
	for _, tc := range []struct {
		name       string
		img        *computepb.Image
		code       int
		reason     string
		msgContain string
	}{
		{"name with upper case", rawImage("Web-v1"), 400, "invalid", "'resource.name': 'Web-v1'"},
		{"name ending in a dash", rawImage("web-"), 400, "invalid", "Must be a match of regex"},
		{"name of 64 characters", rawImage("a" + strings.Repeat("b", 63)), 400, "invalid", "resource.name"},
		{"missing name", &computepb.Image{RawDisk: rawImage("x").RawDisk}, 400, "required", "resource.name"},
		{"bad family", withFamily(rawImage("web-v1"), "Web_Family"), 400, "invalid", "'resource.family': 'Web_Family'"},
		{"label key with upper case", labelled(rawImage("web-v1"), "Team", "web"), 400, "invalid", "Label key 'Team'"},
		{"label value with a colon", labelled(rawImage("web-v1"), "built", "06:47"), 400, "invalid", "of key 'built'"},
		{"label key starting with a digit", labelled(rawImage("web-v1"), "1team", "x"), 400, "invalid", "Label key '1team'"},
		{"65 labels", &computepb.Image{Name: proto.String("web-v1"), RawDisk: rawImage("x").RawDisk, Labels: tooMany}, 400, "invalid", "at most 64"},
		{"no source", &computepb.Image{Name: proto.String("web-v1")}, 400, "invalid", "Exactly one of"},
		{"two sources", &computepb.Image{Name: proto.String("web-v1"), RawDisk: rawImage("x").RawDisk, SourceImage: proto.String("taken")}, 400, "invalid", "rawDisk.source, sourceImage"},
		{"duplicate name", rawImage("taken"), 409, "alreadyExists", "The resource 'projects/acme-images/global/images/taken' already exists"},
		{"missing source image", &computepb.Image{Name: proto.String("web-v1"), SourceImage: proto.String("nope")}, 404, "notFound", "projects/acme-images/global/images/nope"},
		{"missing source family", &computepb.Image{Name: proto.String("web-v1"), SourceImage: proto.String("projects/base/global/images/family/none")}, 404, "notFound", "projects/base/global/images/family/none"},
		{"obsolete source image", &computepb.Image{Name: proto.String("web-v1"), SourceImage: proto.String("old")}, 400, "invalid", "is OBSOLETE"},
		{"missing source disk", &computepb.Image{Name: proto.String("web-v1"), SourceDisk: proto.String("zones/us-central1-a/disks/nope")}, 404, "notFound", "projects/acme-images/zones/us-central1-a/disks/nope"},
		{"malformed source disk", &computepb.Image{Name: proto.String("web-v1"), SourceDisk: proto.String("disks/nope")}, 400, "invalid", "resource.sourceDisk"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.images.Insert(ctxT(t), &computepb.InsertImageRequest{Project: proj, ImageResource: tc.img})
			msg := wantAPIErr(t, err, tc.code, tc.reason)
			if !strings.Contains(msg, tc.msgContain) {
				t.Errorf("message %q does not contain %q", msg, tc.msgContain)
			}
		})
	}
	it := c.images.List(ctxT(t), &computepb.ListImagesRequest{Project: proj})
	var n int
	for _, err := it.Next(); err == nil; _, err = it.Next() {
		n++
	}
	if n != 2 {
		t.Errorf("%d images after rejected inserts, want the 2 fixtures", n)
	}
}

func labelled(img *computepb.Image, k, v string) *computepb.Image {
	if img.Labels == nil {
		img.Labels = map[string]string{}
	}
	img.Labels[k] = v
	return img
}

func TestInsertFromSourceImageResolvesEverySpellingAndInherits(t *testing.T) {
	c := start(t, emulator.Options{})
	base := &computepb.Image{
		Name: proto.String("base-v1"), Family: proto.String("base"),
		Architecture: proto.String("ARM64"), DiskSizeGb: proto.Int64(20),
		GuestOsFeatures: []*computepb.GuestOsFeature{{Type: proto.String("UEFI_COMPATIBLE")}},
		Licenses:        []string{"https://www.googleapis.com/compute/v1/projects/debian-cloud/global/licenses/debian-12-bookworm"},
	}
	if err := c.env.Server.PutImage("base-project", base); err != nil {
		t.Fatal(err)
	}
	if err := c.env.Server.PutImage("base-project", &computepb.Image{Name: proto.String("base-v0"), Family: proto.String("base"),
		Deprecated: &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}}); err != nil {
		t.Fatal(err)
	}
	want := "https://www.googleapis.com/compute/v1/projects/base-project/global/images/base-v1"
	for i, ref := range []string{
		want,
		"https://compute.googleapis.com/compute/v1/projects/base-project/global/images/base-v1",
		c.env.URL + "/compute/v1/projects/base-project/global/images/base-v1",
		"projects/base-project/global/images/base-v1",
		"/compute/v1/projects/base-project/global/images/base-v1",
		"projects/base-project/global/images/family/base",
		c.env.URL + "/compute/v1/projects/base-project/global/images/family/base",
	} {
		t.Run(ref, func(t *testing.T) {
			img := c.mustInsert(t, &computepb.Image{Name: proto.String("app-v" + strconv.Itoa(i)), SourceImage: proto.String(ref)})
			if img.GetSourceImage() != want {
				t.Errorf("sourceImage %q, want %q", img.GetSourceImage(), want)
			}
			if img.GetArchitecture() != "ARM64" || img.GetDiskSizeGb() != 20 || len(img.GetGuestOsFeatures()) != 1 || len(img.GetLicenses()) != 1 {
				t.Errorf("not inherited: arch %q size %d features %v licenses %v", img.GetArchitecture(), img.GetDiskSizeGb(), img.GetGuestOsFeatures(), img.GetLicenses())
			}
			if img.GetSourceImageId() == "" {
				t.Error("sourceImageId not set")
			}
		})
	}
	t.Run("in the same project by bare name, deprecated source accepted", func(t *testing.T) {
		if err := c.env.Server.PutImage(proj, &computepb.Image{Name: proto.String("local-old"),
			Deprecated: &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}}); err != nil {
			t.Fatal(err)
		}
		img := c.mustInsert(t, &computepb.Image{Name: proto.String("from-local"), SourceImage: proto.String("local-old"), DiskSizeGb: proto.Int64(50)})
		if img.GetSourceImage() != "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/local-old" || img.GetDiskSizeGb() != 50 {
			t.Errorf("sourceImage %q size %d", img.GetSourceImage(), img.GetDiskSizeGb())
		}
	})
}

func TestInsertFromSourceDiskAcceptsThePathTheBuilderSends(t *testing.T) {
	c := start(t, emulator.Options{})
	disk := `{"name":"packer-123","zone":"us-central1-a","sizeGb":"25","architecture":"X86_64"}`
	if err := c.env.Server.LoadState(emulator.State{Projects: map[string]emulator.ProjectState{
		proj: {Disks: []json.RawMessage{json.RawMessage(disk)}},
	}}); err != nil {
		t.Fatal(err)
	}
	for i, ref := range []string{
		"/compute/v1/projects/acme-images/zones/us-central1-a/disks/packer-123",
		"https://www.googleapis.com/compute/v1/projects/acme-images/zones/us-central1-a/disks/packer-123",
		"zones/us-central1-a/disks/packer-123",
	} {
		img := c.mustInsert(t, &computepb.Image{Name: proto.String("app-v" + strconv.Itoa(i)), SourceDisk: proto.String(ref)})
		if got, want := img.GetSourceDisk(), "https://www.googleapis.com/compute/v1/projects/acme-images/zones/us-central1-a/disks/packer-123"; got != want {
			t.Errorf("%s: sourceDisk %q, want %q", ref, got, want)
		}
		if img.GetDiskSizeGb() != 25 || img.GetArchitecture() != "X86_64" || img.GetSourceDiskId() == "" {
			t.Errorf("%s: size %d arch %q diskId %q", ref, img.GetDiskSizeGb(), img.GetArchitecture(), img.GetSourceDiskId())
		}
	}
	op, err := c.images.Insert(ctxT(t), &computepb.InsertImageRequest{Project: proj, ForceCreate: proto.Bool(true),
		ImageResource: &computepb.Image{Name: proto.String("forced"), SourceDisk: proto.String("zones/us-central1-a/disks/packer-123")}})
	if err != nil {
		t.Fatalf("forceCreate: %v", err)
	}
	if err := op.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestInsertFromSnapshotAcceptsAReference(t *testing.T) {
	c := start(t, emulator.Options{})
	img := c.mustInsert(t, &computepb.Image{Name: proto.String("from-snap"), SourceSnapshot: proto.String("global/snapshots/nightly")})
	if got, want := img.GetSourceSnapshot(), "https://www.googleapis.com/compute/v1/projects/acme-images/global/snapshots/nightly"; got != want {
		t.Errorf("sourceSnapshot %q, want %q", got, want)
	}
}

func TestRetriedInsertWithTheSameRequestIDCreatesOnce(t *testing.T) {
	c := start(t, emulator.Options{})
	ctx := ctxT(t)
	id := uuid.NewString()
	var opNames []string
	for range 3 {
		op, err := c.images.Insert(ctx, &computepb.InsertImageRequest{Project: proj, RequestId: proto.String(id), ImageResource: rawImage("once")})
		if err != nil {
			t.Fatalf("retry: %v (a retried request must not see its own 409)", err)
		}
		if err := op.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		opNames = append(opNames, op.Name())
	}
	if opNames[0] != opNames[1] || opNames[1] != opNames[2] {
		t.Errorf("operation names %v, want the same one", opNames)
	}
	// A new requestId is a new request: the name is taken.
	_, err := c.images.Insert(ctx, &computepb.InsertImageRequest{Project: proj, RequestId: proto.String(uuid.NewString()), ImageResource: rawImage("once")})
	wantAPIErr(t, err, 409, "alreadyExists")

	_, err = c.images.Insert(ctx, &computepb.InsertImageRequest{Project: proj, RequestId: proto.String("00000000-0000-0000-0000-000000000000"), ImageResource: rawImage("zero")})
	wantAPIErr(t, err, 400, "invalid")
}

func TestFailedOperationSurfacesFromWaitAndChangesNothing(t *testing.T) {
	for _, spec := range []string{"images.insert=fail:1", "operations=fail:1"} {
		t.Run(spec, func(t *testing.T) {
			faults, err := emulator.ParseFaults(spec)
			if err != nil {
				t.Fatal(err)
			}
			c := start(t, emulator.Options{Faults: faults, Seed: 1})
			ctx := ctxT(t)
			op, err := c.images.Insert(ctx, &computepb.InsertImageRequest{Project: proj, ImageResource: rawImage("doomed")})
			if err != nil {
				t.Fatalf("insert: %v (the failure belongs to the operation)", err)
			}
			code, _, _ := apiErr(t, op.Wait(ctx))
			if code != 500 {
				t.Errorf("Wait error code %d, want 500", code)
			}
			if op.Proto().GetError() == nil || op.Proto().GetStatus() != computepb.Operation_DONE {
				t.Errorf("operation %v: want DONE with error", op.Proto())
			}
			_, err = c.images.Get(ctx, &computepb.GetImageRequest{Project: proj, Image: "doomed"})
			wantAPIErr(t, err, 404, "notFound")
		})
	}
}

func TestOperationIsRunningUntilItsLatencyPasses(t *testing.T) {
	clock := newFakeClock()
	c := start(t, emulator.Options{OpLatency: 10 * time.Second, Clock: clock.Now})
	ctx := ctxT(t)
	op, err := c.images.Insert(ctx, &computepb.InsertImageRequest{Project: proj, ImageResource: withFamily(rawImage("slow"), "web")})
	if err != nil {
		t.Fatal(err)
	}
	get := func() *computepb.Operation {
		got, err := c.ops.Get(ctx, &computepb.GetGlobalOperationRequest{Project: proj, Operation: op.Name()})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if s := get().GetStatus(); s != computepb.Operation_RUNNING {
		t.Fatalf("status %v right after insert, want RUNNING", s)
	}
	if s := c.mustGet(t, "slow").GetStatus(); s != "PENDING" {
		t.Errorf("image status %q while its operation runs, want PENDING", s)
	}
	_, err = c.images.GetFromFamily(ctx, &computepb.GetFromFamilyImageRequest{Project: proj, Family: "web"})
	wantAPIErr(t, err, 404, "notFound")

	clock.Advance(9 * time.Second)
	if s := get().GetStatus(); s != computepb.Operation_RUNNING {
		t.Fatalf("status %v before the latency passed, want RUNNING", s)
	}
	clock.Advance(time.Second)
	if s := get().GetStatus(); s != computepb.Operation_DONE {
		t.Fatalf("status %v after the latency, want DONE", s)
	}
	if s := c.mustGet(t, "slow").GetStatus(); s != "READY" {
		t.Errorf("image status %q after its operation, want READY", s)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestListPaginatesWithTheClientIterator(t *testing.T) {
	const n = 1200
	clock := newFakeClock()
	c := start(t, emulator.Options{Clock: clock.Now})
	for i := range n {
		clock.Advance(time.Second)
		img := &computepb.Image{Name: proto.String(imageName((i * 7) % n))}
		if err := c.env.Server.PutImage(proj, img); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxT(t)
	for _, tc := range []struct {
		name       string
		req        *computepb.ListImagesRequest
		wantPages  int
		firstThree []string
	}{
		{"default order and page size", &computepb.ListImagesRequest{Project: proj}, 3, []string{"img-0000", "img-0001", "img-0002"}},
		{"maxResults 100", &computepb.ListImagesRequest{Project: proj, MaxResults: proto.Uint32(100)}, 12, []string{"img-0000", "img-0001", "img-0002"}},
		{"newest first", &computepb.ListImagesRequest{Project: proj, OrderBy: proto.String("creationTimestamp desc"), MaxResults: proto.Uint32(500)},
			3, []string{imageName((n - 1) * 7 % n), imageName((n - 2) * 7 % n), imageName((n - 3) * 7 % n)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := c.images.List(ctx, tc.req)
			var got []*computepb.Image
			pages := map[string]bool{}
			for {
				img, err := it.Next()
				if errors.Is(err, iterator.Done) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				pages[it.PageInfo().Token] = true
				got = append(got, img)
			}
			if len(got) != n {
				t.Fatalf("%d images, want %d", len(got), n)
			}
			seen := map[string]bool{}
			for _, name := range names(got) {
				if seen[name] {
					t.Fatalf("%s listed twice", name)
				}
				seen[name] = true
			}
			if strings.Join(names(got[:3]), ",") != strings.Join(tc.firstThree, ",") {
				t.Errorf("first three %v, want %v", names(got[:3]), tc.firstThree)
			}
			if len(pages) != tc.wantPages {
				t.Errorf("%d pages, want %d", len(pages), tc.wantPages)
			}
		})
	}
	for _, bad := range []*computepb.ListImagesRequest{
		{Project: proj, OrderBy: proto.String("family")},
		{Project: proj, MaxResults: proto.Uint32(501)},
		{Project: proj, PageToken: proto.String("not-a-token")},
	} {
		_, err := c.images.List(ctx, bad).Next()
		wantAPIErr(t, err, 400, "invalid")
	}
}

func TestStateFileRoundTripsMutations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	c := start(t, emulator.Options{StateFile: path})
	c.mustInsert(t, labelled(withFamily(rawImage("web-v1"), "web"), "team", "web"))
	c.mustInsert(t, rawImage("web-v2"))
	if err := c.deprecate(t, "web-v1", &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}); err != nil {
		t.Fatal(err)
	}
	op, err := c.images.Delete(ctxT(t), &computepb.DeleteImageRequest{Project: proj, Image: "web-v2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".emulator-state-*")); len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}

	again := start(t, emulator.Options{StateFile: path})
	got := again.mustGet(t, "web-v1")
	if got.GetDeprecated().GetState() != "DEPRECATED" || got.GetLabels()["team"] != "web" || got.GetFamily() != "web" {
		t.Errorf("reloaded image %v lost state", got)
	}
	_, err = again.images.Get(ctxT(t), &computepb.GetImageRequest{Project: proj, Image: "web-v2"})
	wantAPIErr(t, err, 404, "notFound")
	// A new image in the reloaded emulator is newer than the old ones.
	v3 := again.mustInsert(t, withFamily(rawImage("web-v3"), "web"))
	if v3.GetCreationTimestamp() <= got.GetCreationTimestamp() {
		t.Errorf("new image %s not after reloaded %s", v3.GetCreationTimestamp(), got.GetCreationTimestamp())
	}
}

// A state file that cannot be written stops the emulator at start, naming
// the file, rather than failing every mutation later.
func TestStateFileThatCannotBeWrittenStopsTheStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "state.json")
	_, err := emulator.New(emulator.Options{StateFile: path})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("New with state file %s: %v, want an error naming the file", path, err)
	}
}

func TestListFiltersInBothDialects(t *testing.T) {
	c := start(t, emulator.Options{})
	c.mustInsert(t, labelled(withFamily(rawImage("web-v1"), "web"), "team", "web"))
	c.mustInsert(t, withFamily(rawImage("web-v2"), "web"))
	c.mustInsert(t, withFamily(rawImage("webapp-v1"), "webapp"))
	c.mustInsert(t, rawImage("api-v1"))
	if err := c.deprecate(t, "web-v1", &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ filter, want string }{
		{`family = web`, "web-v1,web-v2"},
		{`family eq ".*\bweb\b.*"`, "web-v1,web-v2"}, // what gcloud sends for --filter=family=web
		{`labels.team:*`, "web-v1"},
		{`(family = web) (deprecated.state != DEPRECATED)`, "web-v2"},
		{`name eq web.*-v1`, "web-v1,webapp-v1"},
		{`  `, "api-v1,web-v1,web-v2,webapp-v1"},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			got := names(drain(t, c.images.List(ctxT(t), &computepb.ListImagesRequest{Project: proj, Filter: proto.String(tc.filter)})))
			if strings.Join(got, ",") != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
	_, err := c.images.List(ctxT(t), &computepb.ListImagesRequest{Project: proj, Filter: proto.String(`family = (`)}).Next()
	msg := wantAPIErr(t, err, 400, "invalid")
	if want := "Invalid value for field 'filter': 'family = ('. Invalid list filter expression."; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
}

// Recorded Compute Engine traffic: an image made from a disk reports
// sourceType RAW and storageLocations ["us"], and no archiveSizeBytes.
func TestImageFromADiskHasNoArchiveSize(t *testing.T) {
	c := start(t, emulator.Options{})
	ctx := ctxT(t)
	disks, err := compute.NewDisksRESTClient(ctx, c.env.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer disks.Close()
	op, err := disks.Insert(ctx, &computepb.InsertDiskRequest{Project: proj, Zone: "us-central1-a",
		DiskResource: &computepb.Disk{Name: proto.String("build-disk"), SizeGb: proto.Int64(20)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		img         *computepb.Image
		wantArchive bool
	}{
		{"FromDisk", &computepb.Image{Name: proto.String("from-disk"), SourceDisk: proto.String("/compute/v1/projects/" + proj + "/zones/us-central1-a/disks/build-disk")}, false},
		{"FromTarball", rawImage("from-tarball"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := c.mustInsert(t, tc.img)
			if got := img.GetArchiveSizeBytes() != 0; got != tc.wantArchive {
				t.Errorf("archiveSizeBytes = %d, want it present: %v", img.GetArchiveSizeBytes(), tc.wantArchive)
			}
			if img.GetSourceType() != "RAW" || strings.Join(img.GetStorageLocations(), ",") != "us" {
				t.Errorf("sourceType %q storageLocations %v, want RAW [us]", img.GetSourceType(), img.GetStorageLocations())
			}
		})
	}
}
