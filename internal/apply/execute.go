package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Apply carries out a rotation plan (one phase: every action at once, in
// any order) and returns its report. See Execute.
func Apply(ctx context.Context, c gce.Compute, project string, plan lifecycle.RotationPlan, opts Options) Report {
	rep := newReport(plan, false)
	if rep.Project == "" {
		rep.Project = project
	}
	rep.Results = Execute(ctx, c, []lifecycle.Phase{{Name: "rotation", Entries: plan.Actions()}}, opts)
	return rep
}

// Execute carries out the actions of every phase, phase after phase, and
// returns an outcome per action in plan order. It never stops at the first
// failure within a phase; a Required phase that does not complete stops the
// plan there (the later actions are skipped, not sent). See the package
// documentation for pacing and quota errors.
//
// Before each mutation is sent, its preconditions (Entry.Expect) are checked
// against a picture read at most Options.MaxAge earlier; a destructive
// action relying on the image being unused also needs an in-use scan at most
// Options.ScanMaxAge old. An action whose preconditions no longer hold is
// skipped with the reason (lifecycle.ChangedError), never sent.
func Execute(ctx context.Context, c gce.Compute, phases []lifecycle.Phase, opts Options) []Result {
	opts = opts.withDefaults()
	pctx, stop := context.WithCancel(ctx)
	x := &executor{c: c, opts: opts, pic: newPicture(c, opts.Clock, opts.MaxAge), slots: newAIMD(opts.Parallelism, opts.OnParallelism)}
	defer x.pic.wait()
	defer stop()
	for _, sd := range opts.Seeds {
		x.pic.seed(sd.Snapshot, sd.At)
	}
	x.pic.start(pctx)

	results := []Result{}
	var stopped string // the phase that did not complete, once one did not
	for _, ph := range phases {
		actions := slices.DeleteFunc(slices.Clone(ph.Entries), func(e lifecycle.Entry) bool { return e.Action == lifecycle.ActionNone })
		if stopped != "" {
			for _, e := range actions {
				res := resultOf(e)
				res.Phase = ph.Name
				res.Outcome, res.Detail = OutcomeSkipped, "not started: "+stopped+" did not complete"
				results = append(results, res)
				x.progress(res)
			}
			continue
		}
		rs := x.phase(ctx, actions)
		for i := range rs {
			rs[i].Phase = ph.Name
		}
		results = append(results, rs...)
		if ph.Required && slices.ContainsFunc(rs, func(r Result) bool { return r.Outcome != OutcomeDone }) {
			stopped = orDefault(ph.Name, "an earlier step")
		}
	}
	return results
}

type executor struct {
	c     gce.Compute
	opts  Options
	pic   *picture
	slots *aimd
}

func (x *executor) progress(r Result) {
	if x.opts.Progress != nil {
		x.opts.Progress(r)
	}
}

// phase carries out actions at once, bounded as the package documentation
// says, and returns their outcomes in order.
func (x *executor) phase(ctx context.Context, actions []lifecycle.Entry) []Result {
	results := make([]Result, len(actions))
	type done struct {
		i   int
		err error
	}
	var (
		queue    = make([]int, len(actions))
		retries  = make([]int, len(actions))
		doneCh   = make(chan done)
		inflight = 0
		finished = 0
	)
	for i := range queue {
		queue[i] = i
	}
	// The images of the next Pending actions are read ahead, in batches.
	prefetched := 0
	prefetch := func(upTo int) {
		var refs []lifecycle.ImageRef
		for ; prefetched < min(upTo, len(actions)); prefetched++ {
			refs = append(refs, actions[prefetched].Expect.Refs()...)
		}
		if len(refs) > 0 {
			x.pic.prefetch(refs)
		}
	}
	// From shortly before its start to its end, pauses after quota errors
	// included, an action's images are expected: reads for others top them
	// up.
	expecting := make([]bool, len(actions))
	expect := func(i, delta int) {
		x.pic.expect(actions[i].Expect.Refs(), delta)
		expecting[i] = delta > 0
	}
	made := make([]*lifecycle.Image, len(actions))
	finish := func(i int, err error) {
		if expecting[i] {
			expect(i, -1)
		}
		res := resultOf(actions[i])
		res.QuotaRetries, res.Made = retries[i], made[i]
		res.Outcome, res.Detail, res.Err = classify(actions[i], err)
		results[i] = res
		finished++
		x.progress(res)
	}
	for finished < len(actions) {
		for inflight < x.opts.Pending && len(queue) > 0 {
			i := queue[0]
			queue = queue[1:]
			if i >= prefetched-x.opts.Pending/2 {
				prefetch(i + 2*x.opts.Pending)
			}
			if err := ctx.Err(); err != nil {
				finish(i, fmt.Errorf("not started: %w", err))
				continue
			}
			// The actions next in the queue will soon start: reads for
			// others top their images up too, so that each does not find its
			// read stale as it starts and cost a list of its own.
			if !expecting[i] {
				expect(i, 1)
			}
			for _, j := range queue[:min(len(queue), readBatch)] {
				if !expecting[j] {
					expect(j, 1)
				}
			}
			inflight++
			pause := time.Duration(0)
			if n := retries[i]; n > 0 {
				pause = min(maxQuotaPause, x.opts.QuotaPause<<min(n-1, 16))
			}
			go func(i int, pause time.Duration) {
				if pause > 0 {
					if err := gce.Sleep(ctx, pause); err != nil {
						doneCh <- done{i, fmt.Errorf("stopped waiting to retry after a quota error: %w", err)}
						return
					}
				}
				sent := new(atomic.Int64)
				actx := context.WithValue(ctx, sentUnderKey{}, sent)
				actx = gce.WithQuotaNotify(actx, func() { x.slots.throttledSince(int(sent.Load())) })
				actx = gce.WithRequestSlots(actx, x.slots)
				e := actions[i]
				err := x.carryOut(actx, &e)
				if e.Action == lifecycle.ActionCopy && err == nil {
					made[i] = x.madeCopy(e)
				}
				doneCh <- done{i, err}
			}(i, pause)
		}
		if inflight == 0 {
			break // everything left was finished as not started
		}
		d := <-doneCh
		inflight--
		// The slots already cut the limit for a quota error; the action goes
		// to the back of the queue unless it has had its retries.
		if errors.Is(d.err, gce.ErrQuota) && retries[d.i] < x.opts.QuotaRetries && ctx.Err() == nil {
			retries[d.i]++
			queue = append(queue, d.i)
			continue
		}
		finish(d.i, d.err)
	}
	return results
}

// errAlreadyGone marks a delete whose image was gone before it was sent, or
// whose delete was answered 404: what was asked is the case.
var errAlreadyGone = errors.New("already gone")

// classify turns an action's error into its outcome.
func classify(e lifecycle.Entry, err error) (Outcome, string, error) {
	var changed *lifecycle.ChangedError
	switch {
	case err == nil:
		return OutcomeDone, "", nil
	case errors.Is(err, errAlreadyGone),
		(e.Action == lifecycle.ActionPurge || e.Action == lifecycle.ActionDelete) && errors.Is(err, gce.ErrNotFound):
		return OutcomeDone, "already gone", nil
	case errors.As(err, &changed):
		return OutcomeSkipped, changed.Error(), nil
	}
	return OutcomeFailed, "", err
}

// carryOut waits for a fresh picture of what the action relies on, then
// sends its mutations, each re-checked right before it goes out.
func (x *executor) carryOut(ctx context.Context, e *lifecycle.Entry) error {
	// Waiting for fresh reads before taking a request slot keeps the slots
	// for requests; the check then runs again at the last moment.
	if err := x.check(ctx, *e); err != nil {
		return err
	}
	cctx := gce.WithPrecheck(ctx, func(ctx context.Context) error { return x.check(ctx, *e) })
	return x.send(cctx, e)
}

// madeCopy is the image a copy made, as the picture noted it.
func (x *executor) madeCopy(e lifecycle.Entry) *lifecycle.Image {
	x.pic.mu.Lock()
	defer x.pic.mu.Unlock()
	if w, ok := x.pic.own[e.Copy.Ref()]; ok && w.found {
		img := w.img.Clone()
		return &img
	}
	return nil
}

// check evaluates the action's preconditions on reads at most MaxAge old
// (and, for a destructive action relying on the image being unused, a scan
// at most ScanMaxAge old), waiting for fresher reads when needed.
func (x *executor) check(ctx context.Context, e lifecycle.Entry) error {
	// The reads are fresh when looked at; should the check itself take
	// long (a loaded machine), they may not be by its end: then it runs
	// again on fresher ones, so that the mutation goes out at most MaxAge
	// after the oldest read it relies on.
	for {
		oldest, err := x.checkOnce(ctx, e)
		if err != nil || oldest.IsZero() || !oldest.Before(x.opts.Clock().Add(-x.opts.MaxAge)) {
			return err
		}
	}
}

// checkOnce is one evaluation of check; it returns the time of the oldest
// read it relied on (zero for none).
func (x *executor) checkOnce(ctx context.Context, e lifecycle.Entry) (time.Time, error) {
	var oldest time.Time
	note := func(at time.Time) {
		if oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	for _, l := range x.opts.Leases {
		if err := l.Valid(); err != nil {
			return oldest, err
		}
	}
	pre := e.Expect
	for i, want := range pre.Images {
		img, found, at, err := x.pic.imageAt(ctx, want.Ref)
		if err != nil {
			return oldest, err
		}
		note(at)
		if i == 0 && !found && (e.Action == lifecycle.ActionPurge || e.Action == lifecycle.ActionDelete) {
			return oldest, errAlreadyGone // what the delete was to do is done
		}
		if err := want.Check(img, found); err != nil {
			return oldest, err
		}
	}
	if h := pre.Head; h != nil {
		name, found, at, err := x.pic.headAt(ctx, h.Project, h.Family)
		if err != nil {
			return oldest, err
		}
		note(at)
		if err := h.Check(name, found); err != nil {
			return oldest, err
		}
	}
	if pre.Unused && len(pre.Images) > 0 {
		if x.opts.Scans == nil {
			return oldest, fmt.Errorf("%s %s relies on the image being unused, and no in-use scan was given", e.Action, e.Image.Name)
		}
		maxAge := time.Duration(-1) // the scan the plan was made with will do
		if e.Action.Destructive() {
			maxAge = x.opts.ScanMaxAge
		}
		uses, _, err := x.opts.Scans.Get(ctx, maxAge)
		if err != nil {
			return oldest, fmt.Errorf("scanning for users of %s before %s: %w", e.Image.Name, e.Action, err)
		}
		want := pre.Images[0]
		if err := lifecycle.CheckUnused(want.Ref.Name, usersOf(uses, want.Ref, want.ID)); err != nil {
			return oldest, err
		}
	}
	return oldest, nil
}

// usersOf looks an image's users up in a scan: by name and by numeric id
// (the scan's keys have their project filled in). A lookup, not a pass over
// the scan: every check of every action asks.
func usersOf(uses gce.ImageUses, ref lifecycle.ImageRef, id uint64) []lifecycle.Use {
	out := slices.Clone(uses[lifecycle.ImageRef{Project: ref.Project, Name: ref.Name}])
	if id != 0 {
		out = append(out, uses[lifecycle.ImageRef{Project: ref.Project, Name: strconv.FormatUint(id, 10)}]...)
	}
	return out
}

// send carries out one action's mutations: labels first (the plan says
// why), then the deprecation status, the family move or the delete; a copy
// is one insert. Each mutation it sends is noted in the picture.
func (x *executor) send(ctx context.Context, e *lifecycle.Entry) error {
	img := e.Image
	if len(e.Expect.Images) > 0 && img.Project == "" {
		img.Project = e.Expect.Images[0].Ref.Project
	}
	if e.Action == lifecycle.ActionCopy {
		return x.copy(ctx, e)
	}
	if len(e.Labels) > 0 || len(e.DropLabels) > 0 {
		written, err := x.writeLabels(ctx, *e, img)
		if err != nil {
			return err
		}
		img.Labels = written
		x.noteWrite(*e, img, true)
		// What this action wrote is no change of the world it relies on.
		e.Expect = expectAfterLabels(e.Expect, written)
	}
	switch e.Action {
	case lifecycle.ActionLabel:
		return nil
	case lifecycle.ActionDeprecate, lifecycle.ActionObsolete, lifecycle.ActionMarkDeleted, lifecycle.ActionSchedule:
		if err := x.c.Deprecate(ctx, img.Project, img.Name, e.Deprecation); err != nil {
			return err
		}
		img.Deprecation = e.Deprecation
		x.noteWrite(*e, img, true)
		return nil
	case lifecycle.ActionMove:
		if err := x.c.SetFamily(ctx, img.Project, img.Name, e.MoveTo); err != nil {
			return err
		}
		img.Family = e.MoveTo
		x.noteWrite(*e, img, true)
		return nil
	case lifecycle.ActionPurge, lifecycle.ActionDelete:
		if err := x.c.DeleteImage(ctx, img.Project, img.Name); err != nil {
			return err
		}
		x.noteWrite(*e, img, false)
		return nil
	}
	return fmt.Errorf("action %q is not one the applier carries out", e.Action)
}

// writeLabels sets the action's labels over the labels as they are when
// written (read with the fingerprint: a label someone set since the plan
// survives), after checking again, on those very labels, the labels the
// action relies on.
func (x *executor) writeLabels(ctx context.Context, e lifecycle.Entry, img lifecycle.Image) (map[string]string, error) {
	var relied lifecycle.ImageExpect
	if len(e.Expect.Images) > 0 {
		relied = e.Expect.Images[0]
	}
	var written map[string]string
	// From the labels and fingerprint as listed: no images.get unless
	// someone changed the labels since the read.
	err := x.c.SetLabelsFrom(ctx, img, func(cur map[string]string) (map[string]string, error) {
		if err := relied.CheckLabels(cur, e.Labels); err != nil {
			return nil, err
		}
		out := maps.Clone(cur)
		if out == nil {
			out = map[string]string{}
		}
		maps.Copy(out, e.Labels)
		for _, k := range e.DropLabels {
			delete(out, k)
		}
		written = out
		return out, nil
	})
	return written, err
}

// copy creates the image of an ActionCopy.
func (x *executor) copy(ctx context.Context, e *lifecycle.Entry) error {
	cp := e.Copy
	if cp == nil {
		return fmt.Errorf("copy of %s: the plan names no image to create", e.Image.Name)
	}
	made, err := x.c.InsertImageFromImage(ctx, cp.Project, gce.ImageSpec{
		Name: cp.Name, SourceImage: cp.Source.String(), Family: cp.Family, Description: cp.Description,
		Labels: cp.Labels, StorageLocations: cp.StorageLocations, Architecture: cp.Architecture,
		GuestOsFeatures: cp.GuestOsFeatures, Licenses: cp.Licenses,
	})
	if err != nil {
		return err
	}
	x.pic.wrote(withProject(made, cp.Project), true)
	return nil
}

func (x *executor) noteWrite(e lifecycle.Entry, img lifecycle.Image, found bool) {
	if img.Project == "" && len(e.Expect.Images) > 0 {
		img.Project = e.Expect.Images[0].Ref.Project
	}
	x.pic.wrote(img, found)
}

// expectAfterLabels is pre with the label values this action just wrote:
// the next mutation of the same action must not take them for a change.
func expectAfterLabels(pre lifecycle.Preconditions, written map[string]string) lifecycle.Preconditions {
	if len(pre.Images) == 0 {
		return pre
	}
	imgs := slices.Clone(pre.Images)
	first := imgs[0]
	first.Labels = maps.Clone(first.Labels)
	for k := range first.Labels {
		if v, ok := written[k]; ok {
			first.Labels[k] = &v
		} else {
			first.Labels[k] = nil
		}
	}
	imgs[0] = first
	pre.Images = imgs
	return pre
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
