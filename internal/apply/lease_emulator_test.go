package apply_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// getCounter counts the images.get calls the emulator answers.
type getCounter struct {
	mu   sync.Mutex
	gets int
}

func (g *getCounter) record(method string, _ int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if method == "images.get" {
		g.gets++
	}
}

func (g *getCounter) take() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.gets
	g.gets = 0
	return n
}

// TestReleasingALeaseWritesFromItsListedFingerprint pins what giving a lease
// back costs and keeps: the labels and fingerprint the lease's verifying
// list returned are written from, so no images.get is sent, unless someone
// changed the head's labels while the lease was held; then the stale
// fingerprint is refused (412), the head is read again, and the label the
// other writer set survives the release.
func TestReleasingALeaseWritesFromItsListedFingerprint(t *testing.T) {
	for _, tc := range []struct {
		name      string
		meanwhile map[string]string // labels someone writes on the head while the lease is held
		wantGets  int
	}{
		{name: "nothing changed: no read", wantGets: 0},
		{name: "labels changed meanwhile: read again, theirs kept", meanwhile: map[string]string{"imagefamily-protect": "true"}, wantGets: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counts := &getCounter{}
			env := emulatortest.Start(t, emulator.Options{OnRequest: counts.record})
			for i, name := range []string{"web-v1", "web-v2"} {
				err := env.Server.PutImage("p", &computepb.Image{Name: proto.String(name), Family: proto.String("web"),
					Labels:            map[string]string{"team": "web"},
					CreationTimestamp: proto.String(time.Date(2026, 11, 1+i, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))})
				if err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			c, err := gce.New(ctx, pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.ComputeEndpoint()}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })

			lease, err := apply.AcquireLease(ctx, c, "p", "web", apply.LeaseOptions{Holder: "rotate-1a2b3c4d", TTL: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.meanwhile) > 0 {
				err := c.SetLabelsFrom(ctx, lifecycle.Image{Project: "p", Name: "web-v2"}, func(cur map[string]string) (map[string]string, error) {
					for k, v := range tc.meanwhile {
						cur[k] = v
					}
					return cur, nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			counts.take()
			lease.Release(ctx)
			if got := counts.take(); got != tc.wantGets {
				t.Errorf("images.get calls giving the lease back = %d, want %d", got, tc.wantGets)
			}
			head, err := c.GetImage(ctx, "p", "web-v2")
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := head.Labels[lifecycle.LabelLease]; ok {
				t.Errorf("the head still carries the lease %q after Release", v)
			}
			want := map[string]string{"team": "web"}
			for k, v := range tc.meanwhile {
				want[k] = v
			}
			for k, v := range want {
				if head.Labels[k] != v {
					t.Errorf("label %s = %q after Release, want %q (labels %v)", k, head.Labels[k], v, head.Labels)
				}
			}
		})
	}
}

func TestWaitingForALeaseIsToldOncePerHolder(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	if err := env.Server.PutImage("p", &computepb.Image{Name: proto.String("web-v1"), Family: proto.String("web"),
		CreationTimestamp: proto.String(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := gce.New(ctx, pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.ComputeEndpoint()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	held, err := apply.AcquireLease(ctx, c, "p", "web", apply.LeaseOptions{Holder: "rotate-1a2b3c4d", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(ctx)
	// Several looks at the held lease before the wait runs out: the
	// waiter is told once, not at every look.
	var told []string
	_, err = apply.AcquireLease(ctx, c, "p", "web", apply.LeaseOptions{Holder: "release-5e6f7a8b", TTL: time.Minute,
		Wait: 60 * time.Millisecond, Poll: 10 * time.Millisecond, OnWait: func(l lifecycle.Lease) { told = append(told, l.Holder) }})
	var busy *apply.HeldError
	if !errors.As(err, &busy) {
		t.Fatalf("second AcquireLease = %v, want a HeldError", err)
	}
	if len(told) != 1 || told[0] != "rotate-1a2b3c4d" {
		t.Errorf("OnWait told %v, want the holder once", told)
	}
}
