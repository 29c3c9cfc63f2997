package emulator_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

const proj = "acme-images"

// fakeClock is a clock a test moves by hand: frozen until Advance.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clients bundles the REST clients a conformance test uses.
type clients struct {
	env      *emulatortest.Env
	images   *compute.ImagesClient
	ops      *compute.GlobalOperationsClient
	families *compute.ImageFamilyViewsClient
}

func start(t *testing.T, opts emulator.Options) *clients {
	t.Helper()
	return clientsOf(t, emulatortest.Start(t, opts))
}

// clientsFor serves srv, which the test closes or not, and returns clients
// for it.
func clientsFor(t *testing.T, srv *emulator.Server) *clients {
	t.Helper()
	return clientsOf(t, emulatortest.Serve(t, srv))
}

func clientsOf(t *testing.T, env *emulatortest.Env) *clients {
	t.Helper()
	ctx := context.Background()
	ops, err := compute.NewGlobalOperationsRESTClient(ctx, env.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ops.Close() })
	fam, err := compute.NewImageFamilyViewsRESTClient(ctx, env.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fam.Close() })
	return &clients{env: env, images: env.Images(t), ops: ops, families: fam}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawImage is the smallest valid insert body.
func rawImage(name string) *computepb.Image {
	return &computepb.Image{
		Name:    proto.String(name),
		RawDisk: &computepb.RawDisk{Source: proto.String("https://storage.googleapis.com/acme/disk.tar.gz")},
	}
}

func withFamily(img *computepb.Image, family string) *computepb.Image {
	img.Family = proto.String(family)
	return img
}

// mustInsert inserts and waits, failing the test on any error.
func (c *clients) mustInsert(t *testing.T, img *computepb.Image) *computepb.Image {
	t.Helper()
	ctx := ctxT(t)
	op, err := c.images.Insert(ctx, &computepb.InsertImageRequest{Project: proj, ImageResource: img})
	if err != nil {
		t.Fatalf("insert %s: %v", img.GetName(), err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatalf("insert %s: wait: %v", img.GetName(), err)
	}
	got, err := c.images.Get(ctx, &computepb.GetImageRequest{Project: proj, Image: img.GetName()})
	if err != nil {
		t.Fatalf("get %s: %v", img.GetName(), err)
	}
	return got
}

func (c *clients) mustGet(t *testing.T, name string) *computepb.Image {
	t.Helper()
	got, err := c.images.Get(ctxT(t), &computepb.GetImageRequest{Project: proj, Image: name})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return got
}

// deprecate sends images.deprecate and waits.
func (c *clients) deprecate(t *testing.T, name string, st *computepb.DeprecationStatus) error {
	t.Helper()
	ctx := ctxT(t)
	op, err := c.images.Deprecate(ctx, &computepb.DeprecateImageRequest{Project: proj, Image: name, DeprecationStatusResource: st})
	if err != nil {
		return err
	}
	return op.Wait(ctx)
}

// drain reads an iterator of the Go client to its end (through every page),
// failing the test on an error.
func drain[T any](t *testing.T, it interface{ Next() (T, error) }) []T {
	t.Helper()
	var out []T
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
}

// apiErr extracts what a caller of the Go client branches on.
func apiErr(t *testing.T, err error) (code int, reason, message string) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want an API error")
	}
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("error %v (%T) is not a *googleapi.Error", err, err)
	}
	if len(gerr.Errors) == 0 {
		return gerr.Code, "", gerr.Message
	}
	return gerr.Code, gerr.Errors[0].Reason, gerr.Message
}

func wantAPIErr(t *testing.T, err error, code int, reason string) string {
	t.Helper()
	gotCode, gotReason, msg := apiErr(t, err)
	if gotCode != code || gotReason != reason {
		t.Fatalf("got %d %s (%s), want %d %s", gotCode, gotReason, msg, code, reason)
	}
	return msg
}

func names(imgs []*computepb.Image) []string {
	out := make([]string, len(imgs))
	for i, img := range imgs {
		out[i] = img.GetName()
	}
	return out
}

func imageName(i int) string { return fmt.Sprintf("img-%04d", i) }
