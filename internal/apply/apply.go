package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	// QuotaRetries bounds how often one action is sent again after a quota
	// error that gce's own retries did not absorb; 8 when zero, none when
	// negative.
	QuotaRetries int
	// QuotaPause is the pause before an action is sent again after its first
	// quota error, doubled for each further one (capped at 30 s); 1 s when
	// zero.
	QuotaPause time.Duration
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
}

func newAIMD(max int) *aimd { return &aimd{max: max, cur: max} }

func (a *aimd) cut() {
	a.cur = max(1, a.cur/2)
	a.cuts++
}

func (a *aimd) grow() {
	a.cur = min(a.max, a.cur+1)
	a.grant()
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

// Apply carries out every action of plan; it never stops at the first
// failure: each action's outcome is in the report, in plan order. See the
// package documentation for how requests, operations and quota errors are
// paced.
func Apply(ctx context.Context, c gce.Compute, project string, plan lifecycle.RotationPlan, opts Options) Report {
	opts = opts.withDefaults()
	rep := newReport(plan, false)
	if rep.Project == "" {
		rep.Project = project
	}
	actions := plan.Actions()
	rep.Results = make([]Result, len(actions))

	type done struct {
		i   int
		err error
	}
	var (
		slots    = newAIMD(opts.Parallelism)
		queue    = make([]int, len(actions))
		retries  = make([]int, len(actions))
		doneCh   = make(chan done)
		inflight = 0
		finished = 0
	)
	for i := range queue {
		queue[i] = i
	}
	finish := func(i int, err error) {
		res := resultOf(actions[i])
		res.QuotaRetries, res.Err = retries[i], err
		rep.Results[i] = res
		finished++
		if opts.Progress != nil {
			opts.Progress(res)
		}
	}
	for finished < len(actions) {
		for inflight < opts.Pending && len(queue) > 0 {
			i := queue[0]
			queue = queue[1:]
			if err := ctx.Err(); err != nil {
				finish(i, fmt.Errorf("not started: %w", err))
				continue
			}
			inflight++
			pause := time.Duration(0)
			if n := retries[i]; n > 0 {
				pause = min(maxQuotaPause, opts.QuotaPause<<min(n-1, 16))
			}
			go func(i int, pause time.Duration) {
				if pause > 0 {
					if err := sleep(ctx, pause); err != nil {
						doneCh <- done{i, fmt.Errorf("stopped waiting to retry after a quota error: %w", err)}
						return
					}
				}
				sent := new(atomic.Int64)
				actx := context.WithValue(ctx, sentUnderKey{}, sent)
				actx = gce.WithQuotaNotify(actx, func() { slots.throttledSince(int(sent.Load())) })
				actx = gce.WithRequestSlots(actx, slots)
				doneCh <- done{i, execute(actx, c, project, actions[i])}
			}(i, pause)
		}
		if inflight == 0 {
			break // everything left was finished as not started
		}
		d := <-doneCh
		inflight--
		// The slots already cut the limit for a quota error; the action goes
		// to the back of the queue unless it has had its retries.
		if errors.Is(d.err, gce.ErrQuota) && retries[d.i] < opts.QuotaRetries && ctx.Err() == nil {
			retries[d.i]++
			queue = append(queue, d.i)
			continue
		}
		finish(d.i, d.err)
	}
	return rep
}

// execute carries out one action: the label stamp first (the plan says
// why), then the deprecation status, or the delete for a purge.
func execute(ctx context.Context, c gce.Compute, project string, e lifecycle.Entry) error {
	img := e.Image
	if img.Project != "" {
		project = img.Project
	}
	if e.Labels != nil {
		// Only what the plan adds is written, over the labels as they are
		// now: a label someone set since the read survives.
		add := map[string]string{}
		for k, v := range e.Labels {
			if old, ok := img.Labels[k]; !ok || old != v {
				add[k] = v
			}
		}
		if len(add) > 0 {
			// From the labels and fingerprint as listed: no images.get
			// unless someone changed the labels since the read.
			img.Project = project
			err := c.SetLabelsFrom(ctx, img, func(cur map[string]string) (map[string]string, error) {
				out := maps.Clone(cur)
				if out == nil {
					out = map[string]string{}
				}
				maps.Copy(out, add)
				return out, nil
			})
			if err != nil {
				return err
			}
		}
	}
	switch e.Action {
	case lifecycle.ActionDeprecate, lifecycle.ActionObsolete, lifecycle.ActionMarkDeleted, lifecycle.ActionSchedule:
		return c.Deprecate(ctx, project, img.Name, e.Deprecation)
	case lifecycle.ActionPurge:
		return c.DeleteImage(ctx, project, img.Name)
	}
	return fmt.Errorf("action %q is not one the rotator carries out", e.Action)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
