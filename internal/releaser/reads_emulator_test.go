package releaser_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
)

// callCounts counts the API calls the emulator answers, by method.
type callCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *callCounts) record(method string, _ int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[method]++
}

func (c *callCounts) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = map[string]int{}
	return out
}

// reads keeps the read methods of counts.
func reads(counts map[string]int) map[string]int {
	out := map[string]int{}
	for m, n := range counts {
		if strings.HasSuffix(m, ".get") || strings.HasSuffix(m, ".getFromFamily") || strings.HasSuffix(m, ".list") || strings.HasSuffix(m, ".aggregatedList") {
			out[m] = n
		}
	}
	return out
}

// TestAReleaseReadsEachThingOnce pins the reads one release makes, through
// the real client against the emulator: the built image and the parent
// (images.get), the head before the move (getFromFamily: previous_head), the
// family's lease (one filtered images.list before and one after writing it on
// the head, whose getFromFamily says which image that is; it is taken off
// with the fingerprint the second list returned, no images.get), the family after the move (one images.list, and
// getFromFamily: the head as Compute Engine says, never recomputed), which
// both verifies the head and plans the rotation, the orphans of interrupted
// releases into the family (one filtered images.list), and the scan for
// uses. A copy adds its read once made, and one to take its mark off. The labels are
// written from the image as read (its fingerprint), not read again; a copy
// is read once, when it is made.
func TestAReleaseReadsEachThingOnce(t *testing.T) {
	scan := map[string]int{"instanceTemplates.aggregatedList": 1, "instances.aggregatedList": 1, "disks.aggregatedList": 1}
	for _, tc := range []struct {
		name  string
		image string
		req   func(*releaser.Request)
		want  map[string]int
	}{
		{name: "release", image: built().Name,
			want: map[string]int{"images.get": 2, "images.getFromFamily": 3, "images.list": 4}},
		{name: "copy under the conventional name", image: "nginx-latest",
			req:  func(r *releaser.Request) { r.Rename = releaser.RenameCopy },
			want: map[string]int{"images.get": 4, "images.getFromFamily": 3, "images.list": 4}},
		// The family read before anything changes, so that a rotation that
		// cannot be read fails the build while the image is unreleased:
		// its listing, its head and its orphan search, once.
		{name: "fail_on_rotation_error", image: built().Name,
			req:  func(r *releaser.Request) { r.FailOnRotationError = true },
			want: map[string]int{"images.get": 2, "images.getFromFamily": 4, "images.list": 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counts := &callCounts{n: map[string]int{}}
			env := emulatortest.Start(t, emulator.Options{OnRequest: counts.record, Clock: func() time.Time { return now }})
			put := func(p string, img *computepb.Image) {
				t.Helper()
				if err := env.Server.PutImage(p, img); err != nil {
					t.Fatal(err)
				}
			}
			put("acme-base", &computepb.Image{Name: proto.String("base-v7"), Family: proto.String("base-debian-12")})
			for i, name := range []string{"app-v1", "app-v2"} {
				put(project, &computepb.Image{Name: proto.String(name), Family: proto.String(family),
					CreationTimestamp: proto.String(now.Add(-time.Duration(3-i) * 24 * time.Hour).Format(time.RFC3339))})
			}
			put(project, &computepb.Image{Name: proto.String(tc.image), Labels: map[string]string{"team": "web"},
				CreationTimestamp: proto.String(built().CreatedAt.Format(time.RFC3339))})
			c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.ComputeEndpoint()}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			counts.take()

			req := request()
			req.Image = tc.image
			if tc.req != nil {
				tc.req(&req)
			}
			rep := &recorder{}
			out, err := releaser.Run(context.Background(), c, req, rep)
			if err != nil || !out.Released || out.Head != out.Image || len(out.Warnings) != 0 {
				t.Fatalf("Run = %v: released %v head %q image %q warnings %q\n%s", err, out.Released, out.Head, out.Image, out.Warnings, rep.all())
			}
			want := maps.Clone(tc.want)
			maps.Copy(want, scan)
			if got := reads(counts.take()); !maps.Equal(got, want) {
				t.Errorf("reads by method = %v\nwant %v", got, want)
			}
			// The labels written without reading the image again are the
			// merge of its labels as read: nothing is lost.
			img, err := c.GetImage(context.Background(), project, out.Image)
			if err != nil {
				t.Fatal(err)
			}
			if img.Labels["team"] != "web" || img.Labels["owner"] != "web-team" || img.Labels[lifecycle.LabelParentFamily] != "base-debian-12" {
				t.Errorf("labels %v", img.Labels)
			}
		})
	}
}

// TestAnUnchangedBuildDeletesOnlyWhileTheHeadItRepeatsIsTheHead runs the
// delete of a build that repeats the head's content through the real client
// and applier against the emulator: it goes out when nothing changed, and is
// skipped, the image kept and the build not failed, when another image
// became the head between the release's read and the delete.
func TestAnUnchangedBuildDeletesOnlyWhileTheHeadItRepeatsIsTheHead(t *testing.T) {
	digest := lifecycle.ContentDigest([]byte("nginx 1.26.0-1\n"))
	for _, tc := range []struct {
		name       string
		race       bool // a newer image is released into the family right after the release read the head
		wantGone   bool
		wantWarned string
	}{
		{name: "nothing changed meanwhile: deleted", wantGone: true},
		{name: "the family moved meanwhile: kept", race: true, wantWarned: "was left alone: changed since planned (family app-nginx resolves to app-v3 now, planned with app-v2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				once sync.Once
				env  *emulatortest.Env
			)
			onRequest := func(method string, _ int) {
				if tc.race && method == "images.getFromFamily" {
					once.Do(func() {
						if err := env.Server.PutImage(project, &computepb.Image{Name: proto.String("app-v3"), Family: proto.String(family),
							CreationTimestamp: proto.String(now.Add(-time.Minute).Format(time.RFC3339))}); err != nil {
							t.Error(err)
						}
					})
				}
			}
			env = emulatortest.Start(t, emulator.Options{OnRequest: onRequest, Clock: func() time.Time { return now }})
			put := func(p string, img *computepb.Image) {
				t.Helper()
				if err := env.Server.PutImage(p, img); err != nil {
					t.Fatal(err)
				}
			}
			put("acme-base", &computepb.Image{Name: proto.String("base-v7"), Family: proto.String("base-debian-12")})
			put(project, &computepb.Image{Name: proto.String("app-v2"), Family: proto.String(family), Labels: headLineage(digest),
				CreationTimestamp: proto.String(now.Add(-24 * time.Hour).Format(time.RFC3339))})
			put(project, &computepb.Image{Name: proto.String(built().Name), Labels: map[string]string{"team": "web"},
				CreationTimestamp: proto.String(built().CreatedAt.Format(time.RFC3339))})
			c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.ComputeEndpoint()}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })

			req := request()
			req.ContentDigest = digest
			rep := &recorder{}
			out, err := releaser.Run(context.Background(), c, req, rep)
			if err != nil || !out.Unchanged || out.Released {
				t.Fatalf("Run = %v: unchanged %v released %v\n%s", err, out.Unchanged, out.Released, rep.all())
			}
			_, gerr := c.GetImage(context.Background(), project, built().Name)
			if gone := errors.Is(gerr, gce.ErrNotFound); gone != tc.wantGone || out.BuiltDeleted != tc.wantGone {
				t.Errorf("built image gone %v (reported %v), want %v: %v\n%s", gone, out.BuiltDeleted, tc.wantGone, gerr, rep.all())
			}
			if warned := strings.Join(rep.errs, "\n"); !strings.Contains(warned, tc.wantWarned) || (tc.wantWarned == "" && warned != "") {
				t.Errorf("warnings %q, want %q", warned, tc.wantWarned)
			}
		})
	}
}
