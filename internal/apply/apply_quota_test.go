package apply

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// absorbing is a Compute whose first calls each meet a quota error that its
// retries absorb (reported through gce.NotifyQuota, as gce's client does)
// before they succeed.
type absorbing struct {
	gce.Compute
	absorbed int // the first this many calls meet one
	hold     time.Duration

	mu       sync.Mutex
	total    int
	inflight int
	started  []int // in flight as each call started, itself included
}

func (a *absorbing) Deprecate(ctx context.Context, project, image string, d lifecycle.Deprecation) (err error) {
	ctx, release, err := asRequest(ctx)
	if err != nil {
		return err
	}
	defer func() { release(err) }()
	a.mu.Lock()
	a.total++
	n := a.total
	a.inflight++
	a.started = append(a.started, a.inflight)
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.inflight--
		a.mu.Unlock()
	}()
	if n <= a.absorbed {
		gce.NotifyQuota(ctx)
	}
	time.Sleep(a.hold)
	return a.Compute.Deprecate(ctx, project, image, d)
}

func TestApplySlowsDownOnQuotaErrorsTheRetriesAbsorbed(t *testing.T) {
	fake := gcetest.New(family("p", 26)...)
	// The whole first wave (8 calls) meets 429s that gce's retries absorb:
	// one cut for the round (8 → 4, not 8 → 4 → 2 → 1), then each success
	// adds one. Without the signal the 9th call would start as soon as the
	// first finished, with 8 in flight.
	c := &absorbing{Compute: fake, absorbed: 8, hold: 20 * time.Millisecond}
	rep := Apply(context.Background(), c, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(c, Options{Parallelism: 8}))
	if rep.Failed() != 0 || rep.Done() != 24 {
		t.Fatalf("done %d failed %d: %v", rep.Done(), rep.Failed(), rep.Err())
	}
	for _, r := range rep.Results {
		if r.QuotaRetries != 0 {
			t.Errorf("%s re-sent %d times: the retries absorbed its quota error", r.Image, r.QuotaRetries)
		}
	}
	if got := c.started[8]; got >= 8 {
		t.Errorf("the 9th call started with %d in flight; want fewer than 8 after the throttled round", got)
	}
	peak := 0
	for _, n := range c.started[8:] {
		peak = max(peak, n)
	}
	// Each answered request adds a slot back (TestAIMDHalvesOnQuotaAndGrowsByOne
	// pins the arithmetic); how many of them overlap here depends on the
	// scheduler, so only the growth past the halved limit is asserted.
	if peak <= 4 || peak > 8 {
		t.Errorf("in flight after the throttled round peaked at %d; want it grown past the halved 4, at most Parallelism 8", peak)
	}
}

func TestAIMDCutsOncePerRoundForAbsorbedQuotaErrors(t *testing.T) {
	a := newAIMD(16)
	e := a.epoch()
	for range 5 { // five actions sent in the same round report 429s
		a.throttledSince(e)
	}
	if a.limit() != 8 {
		t.Fatalf("limit %d after five signals from one round, want 8", a.limit())
	}
	e2 := a.epoch()
	a.throttledSince(e) // a late signal from the old round
	a.throttledSince(e2)
	if a.limit() != 4 {
		t.Fatalf("limit %d, want 4: one more cut for the new round only", a.limit())
	}
	a.throttled() // a quota error the retries did not absorb always cuts
	if a.limit() != 2 || a.epoch() == e2 {
		t.Fatalf("limit %d epoch %d, want 2 and a new epoch", a.limit(), a.epoch())
	}
}
