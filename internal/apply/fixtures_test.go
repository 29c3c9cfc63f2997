package apply

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

var now = time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)

const day = 24 * time.Hour

// family makes n ACTIVE images web-v1 (oldest) .. web-vN, one a day, the
// newest two days before now.
func family(project string, n int) []lifecycle.Image {
	var out []lifecycle.Image
	for i := 1; i <= n; i++ {
		out = append(out, lifecycle.Image{
			Name: fmt.Sprintf("web-v%d", i), ID: uint64(100 + i), Project: project, Family: "web",
			CreatedAt: now.Add(-time.Duration(n-i+2) * day), Status: lifecycle.StatusReady,
		})
	}
	return out
}

func at(t time.Time) *time.Time { return &t }

// asRequest makes a test wrapper of Compute the request: it holds a slot of
// the pacing Apply put in ctx, as gce's client does around a request, and
// returns the context for the Compute underneath, which must not take
// another.
func asRequest(ctx context.Context) (context.Context, func(error), error) {
	release, err := gce.HoldRequestSlot(ctx)
	if err != nil {
		return ctx, nil, err
	}
	return gce.WithRequestSlots(ctx, nil), release, nil
}

// throttling wraps a Compute: Deprecate answers with a quota error for the
// first quotaFirst calls per image, fails for the images in fail, and tracks
// how many Deprecate requests are in flight at once.
type throttling struct {
	gce.Compute
	quotaFirst int
	// quotaCalls answers the first quotaCalls calls (of any image) with a
	// quota error.
	quotaCalls int
	fail       map[string]error
	hold       time.Duration

	mu          sync.Mutex
	calls       map[string]int
	inflight    int
	maxInflight int
	// afterQuota is the most calls in flight at once after the first quota
	// error was returned.
	afterQuota int
	quotaSeen  bool
	// started is how many calls were in flight as each call started,
	// itself included, in start order.
	started []int
	total   int
}

func (t *throttling) Deprecate(ctx context.Context, project, image string, d lifecycle.Deprecation) (err error) {
	ctx, release, err := asRequest(ctx)
	if err != nil {
		return err
	}
	defer func() { release(err) }()
	t.mu.Lock()
	if t.calls == nil {
		t.calls = map[string]int{}
	}
	t.calls[image]++
	n := t.calls[image]
	t.inflight++
	t.total++
	global := t.total
	t.started = append(t.started, t.inflight)
	t.maxInflight = max(t.maxInflight, t.inflight)
	if t.quotaSeen {
		t.afterQuota = max(t.afterQuota, t.inflight)
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.inflight--
		t.mu.Unlock()
	}()
	time.Sleep(t.hold)
	if n <= t.quotaFirst || global <= t.quotaCalls {
		t.mu.Lock()
		t.quotaSeen = true
		t.mu.Unlock()
		return &gce.Error{Kind: gce.ErrQuota, Method: "images.deprecate", Resource: image, Code: 429, Message: "Rate Limit Exceeded", Attempts: 6}
	}
	if err, ok := t.fail[image]; ok {
		return err
	}
	return t.Compute.Deprecate(ctx, project, image, d)
}

// The aimd methods below are what tests read and drive the limit with;
// Apply goes through Acquire, Release and throttledSince.

func (a *aimd) limit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

// throttled is a quota error the retries did not absorb (Release with
// ErrQuota, without the slot).
func (a *aimd) throttled() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cut()
}

// succeeded is a request answered without one (Release with nil, without
// the slot).
func (a *aimd) succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.grow()
}

// epoch names the current limit, as Acquire notes it for throttledSince.
func (a *aimd) epoch() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cuts
}
