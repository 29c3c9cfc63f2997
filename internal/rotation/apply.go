package rotation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Options tune Apply. The zero value is the default.
type Options struct {
	// Parallelism bounds the actions in flight; 4 when zero or less.
	Parallelism int
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
	defaultParallelism  = 4
	defaultQuotaRetries = 8
	defaultQuotaPause   = time.Second
	maxQuotaPause       = 30 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Parallelism <= 0 {
		o.Parallelism = defaultParallelism
	}
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

// aimd is the allowed parallelism: halved on a quota error (never below 1),
// one more per action completed without one (never above max). Quota errors
// that gce's retries absorbed arrive from the workers (throttledSince), so
// it is guarded by a mutex.
type aimd struct {
	mu       sync.Mutex
	max, cur int
	cuts     int // how often the limit was cut so far
}

func newAIMD(max int) *aimd { return &aimd{max: max, cur: max} }

func (a *aimd) limit() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cur
}

func (a *aimd) throttled() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cur = max(1, a.cur/2)
	a.cuts++
}

func (a *aimd) succeeded() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cur = min(a.max, a.cur+1)
}

// epoch names the current limit, for throttledSince.
func (a *aimd) epoch() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cuts
}

// throttledSince halves the limit for a quota error that gce absorbed in an
// action sent under epoch, unless the limit was cut since: everything in
// flight then was sent at the old rate, and one cut per round is enough
// (TCP cuts its window once per round trip). Halving for each of them would
// take a steady trickle of 429s to a parallelism of one or two.
func (a *aimd) throttledSince(epoch int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cuts == epoch {
		a.cur = max(1, a.cur/2)
		a.cuts++
	}
}

// Apply carries out every action of plan with bounded parallelism; it never
// stops at the first failure: each action's outcome is in the report, in plan
// order. See the package documentation for how quota errors lower the
// parallelism.
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
		lim      = newAIMD(opts.Parallelism)
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
		for inflight < lim.limit() && len(queue) > 0 {
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
			epoch := lim.epoch()
			go func(i int, pause time.Duration) {
				if pause > 0 {
					if err := sleep(ctx, pause); err != nil {
						doneCh <- done{i, fmt.Errorf("stopped waiting to retry after a quota error: %w", err)}
						return
					}
				}
				actx := gce.WithQuotaNotify(ctx, func() { lim.throttledSince(epoch) })
				doneCh <- done{i, execute(actx, c, project, actions[i])}
			}(i, pause)
		}
		if inflight == 0 {
			break // everything left was finished as not started
		}
		d := <-doneCh
		inflight--
		quota := errors.Is(d.err, gce.ErrQuota)
		switch {
		case quota:
			lim.throttled()
			if retries[d.i] < opts.QuotaRetries && ctx.Err() == nil {
				retries[d.i]++
				queue = append(queue, d.i)
				continue
			}
		case d.err == nil:
			lim.succeeded()
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
