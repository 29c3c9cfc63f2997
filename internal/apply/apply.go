package apply

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Options tune Apply. The zero value is the default.
type Options struct {
	// Parallelism bounds the mutation requests in flight: a request holds
	// its slot until Compute Engine answers it with an operation, not while
	// the operation runs. 4 when zero or less; lowered on quota errors.
	Parallelism int
	// Pending bounds the actions in flight, whether their request is
	// waiting for a slot, being answered or their operation is running: the
	// operation waits held open at once. 8 × Parallelism when zero or less,
	// never below Parallelism.
	Pending int
	// Progress is called as each action completes (in completion order, one
	// call at a time); may be nil.
	Progress func(Result)
	// OnParallelism, when set, is called each time the allowed parallelism
	// changes (halved on a quota error, raised by one per answered request),
	// with the old and the new limit, so that a front end can show the
	// throttling as it happens. It must not block.
	OnParallelism func(from, to int)
	// QuotaRetries bounds how often one action is sent again after a quota
	// error that gce's own retries did not absorb; 8 when zero, none when
	// negative.
	QuotaRetries int
	// QuotaPause is the pause before an action is sent again after its first
	// quota error, doubled for each further one (capped at 30 s); 1 s when
	// zero.
	QuotaPause time.Duration

	// MaxAge bounds how old the read of an image may be when a mutation of
	// it is sent (its preconditions are checked on that read); 2 s when
	// zero.
	MaxAge time.Duration
	// ScanMaxAge bounds how old the in-use scan may be when a destructive
	// action (obsolete, mark-deleted, purge, delete) whose plan relies on
	// the image being unused is sent; 60 s when zero.
	ScanMaxAge time.Duration
	// Scans is the run's in-use scan (the one the plan was made with); a
	// plan that relies on images being unused needs it.
	Scans *Scans
	// Seeds are the snapshots the plan was made from and when they were
	// read: the picture starts from them.
	Seeds []Seed
	// Leases are the leases of the families the plan changes (one for a
	// rotation; several for a revoke with its descendants or a promotion
	// replacing an image): no mutation is sent once any of them is no longer
	// valid.
	Leases []*Lease
	// Clock is time.Now when nil.
	Clock func() time.Time
}

// Seed is a snapshot a plan was made from, read at At.
type Seed struct {
	Snapshot lifecycle.Snapshot
	At       time.Time
}

const (
	// DefaultParallelism is Options.Parallelism when it is zero or less.
	DefaultParallelism = 4
	// PendingPerSlot is the default Options.Pending per request slot: enough
	// open operation waits that the slots stay busy while operations run
	// up to seven times as long as a request takes to be answered.
	PendingPerSlot      = 8
	defaultQuotaRetries = 8
	defaultQuotaPause   = time.Second
	maxQuotaPause       = 30 * time.Second
	// DefaultMaxAge is Options.MaxAge when zero: the freshness bound.
	DefaultMaxAge = 2 * time.Second
	// DefaultScanMaxAge is Options.ScanMaxAge when zero.
	DefaultScanMaxAge = time.Minute
)

func (o Options) withDefaults() Options {
	if o.Parallelism <= 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.Pending <= 0 {
		o.Pending = PendingPerSlot * o.Parallelism
	}
	o.Pending = max(o.Pending, o.Parallelism)
	switch {
	case o.QuotaRetries == 0:
		o.QuotaRetries = defaultQuotaRetries
	case o.QuotaRetries < 0:
		o.QuotaRetries = 0
	}
	if o.QuotaPause <= 0 {
		o.QuotaPause = defaultQuotaPause
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.ScanMaxAge <= 0 {
		o.ScanMaxAge = DefaultScanMaxAge
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

// aimd is the request slots Apply hands to gce (gce.RequestSlots): at most
// cur requests in flight, cur halved on a quota error (never below 1) and
// raised by one for each request answered without one (never above max).
// Waiting requests get slots in the order they asked.
type aimd struct {
	mu       sync.Mutex
	max, cur int
	cuts     int // how often the limit was cut so far
	inUse    int
	waiters  []chan struct{}
	// onQueue, when set, is called (holding mu) as a request starts to
	// wait for a slot: tests wait on it instead of sleeping.
	onQueue func()
	// onChange is Options.OnParallelism (called holding mu).
	onChange func(from, to int)
}

func newAIMD(max int, onChange ...func(from, to int)) *aimd {
	a := &aimd{max: max, cur: max}
	if len(onChange) > 0 {
		a.onChange = onChange[0]
	}
	return a
}

func (a *aimd) cut() {
	a.set(max(1, a.cur/2))
	a.cuts++
}

func (a *aimd) grow() {
	a.set(min(a.max, a.cur+1))
	a.grant()
}

func (a *aimd) set(n int) {
	if n != a.cur && a.onChange != nil {
		a.onChange(a.cur, n)
	}
	a.cur = n
}

// throttledSince halves the limit for a quota error that gce absorbed in a
// request sent under epoch, unless the limit was cut since: everything in
// flight then was sent at the old rate, and one cut per round is enough
// (TCP cuts its window once per round trip). Halving for each of them would
// take a steady trickle of 429s to a parallelism of one or two.
func (a *aimd) throttledSince(epoch int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cuts == epoch {
		a.cut()
	}
}

// sentUnder is where Acquire notes the epoch a request was sent under, for
// the quota notifications of its absorbed retries.
type sentUnderKey struct{}

// Acquire implements gce.RequestSlots.
func (a *aimd) Acquire(ctx context.Context) error {
	a.mu.Lock()
	if a.inUse < a.cur && len(a.waiters) == 0 {
		a.inUse++
		a.noteEpoch(ctx)
		a.mu.Unlock()
		return nil
	}
	granted := make(chan struct{})
	a.waiters = append(a.waiters, granted)
	if a.onQueue != nil {
		a.onQueue()
	}
	a.mu.Unlock()
	select {
	case <-granted:
		a.mu.Lock()
		a.noteEpoch(ctx)
		a.mu.Unlock()
		return nil
	case <-ctx.Done():
		a.mu.Lock()
		defer a.mu.Unlock()
		if i := slices.Index(a.waiters, granted); i >= 0 {
			a.waiters = slices.Delete(a.waiters, i, i+1)
		} else { // granted just as ctx ended: pass it on
			a.inUse--
			a.grant()
		}
		return ctx.Err()
	}
}

// Release implements gce.RequestSlots: a quota error cuts the limit before
// the slot goes to anyone else, an answered request raises it.
func (a *aimd) Release(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inUse--
	switch {
	case errors.Is(err, gce.ErrQuota):
		a.cut()
	case err == nil:
		a.grow()
	}
	a.grant()
}

// grant hands free slots to the longest waiting requests. Callers hold mu.
func (a *aimd) grant() {
	for a.inUse < a.cur && len(a.waiters) > 0 {
		a.inUse++
		close(a.waiters[0])
		a.waiters = a.waiters[1:]
	}
}

func (a *aimd) noteEpoch(ctx context.Context) {
	if e, ok := ctx.Value(sentUnderKey{}).(*atomic.Int64); ok {
		e.Store(int64(a.cuts))
	}
}
