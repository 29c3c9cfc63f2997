package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// picture is the applier's view of the images a plan acts on, kept fresh
// while it works so that no mutation is sent on a read older than maxAge:
//
//   - A family is re-listed in the background, page by page (pages of 500,
//     one request each), every `every` or back to back when a listing takes
//     longer, with one getFromFamily per listing for its head. Each image's
//     read time is when the request of its page was sent. An image a whole
//     listing did not show is absent from then on (deleted, or moved out).
//     Re-listing costs one request per 500 images per cycle; a GET per
//     image would double the requests of a rotation.
//   - An image expected outside any family (the built image of a release, an
//     orphan, a promotion's destination) is read with images.get when an
//     action needs it and the last read is too old.
//   - What the applier itself wrote is laid over the reads for ownHold: a
//     read may lag a write (Compute Engine served labels from before a DONE
//     setLabels), and a later step of the same plan must not take our own
//     change for someone else's.
type picture struct {
	c      gce.Compute
	clock  func() time.Time
	maxAge time.Duration
	every  time.Duration
	hold   time.Duration

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every update
	ctx     context.Context
	fams    map[famKey]*famView
	singles map[lifecycle.ImageRef]*singleView
	own     map[lifecycle.ImageRef]ownWrite
	// readers are the goroutines reading for the picture: Execute waits for
	// them before it returns, so that none outlives the client it reads
	// with.
	readers sync.WaitGroup
}

type famKey struct{ project, family string }

// seen is one image as last read.
type seen struct {
	img   lifecycle.Image
	found bool
	at    time.Time
}

type famView struct {
	images map[string]seen
	// listed is when the last complete listing (or the seed) started: an
	// image it did not show is absent as of then.
	listed   time.Time
	head     seen // img.Name only; found false for no head
	headRead bool
	started  bool
	err      error // the last refresh's error, nil once one succeeds
}

type singleView struct {
	seen
	busy bool
	err  error
}

type ownWrite struct {
	img   lifecycle.Image
	found bool
	until time.Time
}

func newPicture(c gce.Compute, clock func() time.Time, maxAge, every time.Duration) *picture {
	return &picture{c: c, clock: clock, maxAge: maxAge, every: every, hold: maxAge + time.Second,
		changed: make(chan struct{}), fams: map[famKey]*famView{}, singles: map[lifecycle.ImageRef]*singleView{},
		own: map[lifecycle.ImageRef]ownWrite{}}
}

// start makes the picture refresh itself until ctx ends.
func (p *picture) start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx = ctx
	for key, f := range p.fams {
		p.startFamilyLocked(key, f)
	}
}

// seed takes a snapshot read at `at` as the first picture of its family:
// the plan was made from it, so nothing needs reading again before its
// actions are checked while it is fresh.
//
// A snapshot of no family (Family "") holds images read one by one: they
// are re-read with images.get.
func (p *picture) seed(s lifecycle.Snapshot, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.Family == "" {
		for _, img := range s.Images {
			img = withProject(img, s.Project)
			p.singles[img.Ref()] = &singleView{seen: seen{img: img, found: true, at: at}}
		}
		p.broadcastLocked()
		return
	}
	f := p.familyLocked(famKey{s.Project, s.Family})
	f.listed = at
	for _, img := range s.Images {
		if img.Family == s.Family {
			img = withProject(img, s.Project)
			f.images[img.Name] = seen{img: img, found: true, at: at}
		}
	}
	if s.HeadRead {
		f.head, f.headRead = seen{img: lifecycle.Image{Name: s.HeadName}, found: s.HeadName != "", at: at}, true
	}
	for _, img := range s.Orphans {
		img = withProject(img, s.Project)
		p.singles[img.Ref()] = &singleView{seen: seen{img: img, found: true, at: at}}
	}
	p.broadcastLocked()
}

func withProject(img lifecycle.Image, project string) lifecycle.Image {
	if img.Project == "" {
		img.Project = project
	}
	return img
}

func (p *picture) familyLocked(key famKey) *famView {
	f, ok := p.fams[key]
	if !ok {
		f = &famView{images: map[string]seen{}}
		p.fams[key] = f
		if p.ctx != nil {
			p.startFamilyLocked(key, f)
		}
	}
	return f
}

func (p *picture) startFamilyLocked(key famKey, f *famView) {
	if f.started {
		return
	}
	f.started = true
	next := f.listed.Add(p.every)
	ctx := p.ctx
	p.readers.Go(func() { p.refresh(ctx, key, next) })
}

// wait waits for every read the picture started, once its context has
// ended.
func (p *picture) wait() { p.readers.Wait() }

func (p *picture) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// refresh re-reads a family until ctx ends: getFromFamily, then the listing
// page by page, one cycle every p.every (back to back when a cycle takes
// longer).
func (p *picture) refresh(ctx context.Context, key famKey, next time.Time) {
	for {
		if wait := next.Sub(p.clock()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		start := p.clock()
		next = start.Add(p.every)
		if err := p.cycle(ctx, key, start); err != nil && ctx.Err() == nil {
			p.mu.Lock()
			p.fams[key].err = err
			p.broadcastLocked()
			p.mu.Unlock()
		}
	}
}

func (p *picture) cycle(ctx context.Context, key famKey, start time.Time) error {
	head, err := p.c.GetFromFamily(ctx, key.project, key.family)
	found := err == nil
	if err != nil && !errors.Is(err, gce.ErrNotFound) {
		return fmt.Errorf("re-reading what family %s of project %s resolves to: %w", key.family, key.project, err)
	}
	p.mu.Lock()
	f := p.fams[key]
	f.head, f.headRead = seen{img: lifecycle.Image{Name: head.Name}, found: found, at: start}, true
	p.broadcastLocked()
	p.mu.Unlock()

	listed := map[string]bool{}
	sent := p.clock()
	err = p.c.ListFamilyPages(ctx, key.project, key.family, func(page []lifecycle.Image) error {
		p.mu.Lock()
		for _, img := range page {
			img = withProject(img, key.project)
			f.images[img.Name] = seen{img: img, found: true, at: sent}
			listed[img.Name] = true
		}
		p.broadcastLocked()
		p.mu.Unlock()
		sent = p.clock() // the next page's request goes out now
		return nil
	})
	if err != nil {
		return fmt.Errorf("re-reading family %s of project %s: %w", key.family, key.project, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, s := range f.images {
		if !listed[name] && s.at.Before(start) {
			f.images[name] = seen{img: s.img, found: false, at: start}
		}
	}
	f.listed, f.err = start, nil
	p.broadcastLocked()
	return nil
}

// imageAt returns ref as read at most maxAge ago, waiting for a refresh when
// needed: from family's listing, or (family "") by images.get. found is
// false when the image is not there (deleted, or not in the family).
//
// at is when the read it returns was sent (for the applier's own write: when
// it was noted).
func (p *picture) imageAt(ctx context.Context, ref lifecycle.ImageRef, family string) (lifecycle.Image, bool, time.Time, error) {
	for {
		p.mu.Lock()
		if w, ok := p.own[ref]; ok && p.clock().Before(w.until) {
			found := w.found && (family == "" || w.img.Family == family)
			p.mu.Unlock()
			return w.img, found, w.until.Add(-p.hold), nil
		}
		var (
			s     seen
			fresh bool
			err   error
		)
		if family != "" {
			f := p.familyLocked(famKey{ref.Project, family})
			s, fresh, err = p.familyImageLocked(f, ref.Name)
		} else {
			s, fresh, err = p.singleLocked(ctx, ref)
		}
		changed := p.changed
		p.mu.Unlock()
		switch {
		case fresh:
			return s.img, s.found, s.at, nil
		case err != nil:
			return lifecycle.Image{}, false, time.Time{}, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return lifecycle.Image{}, false, time.Time{}, ctx.Err()
		}
	}
}

func (p *picture) fresh(at time.Time) bool {
	return !at.IsZero() && !at.Before(p.clock().Add(-p.maxAge))
}

func (p *picture) familyImageLocked(f *famView, name string) (seen, bool, error) {
	s, ok := f.images[name]
	if !ok {
		s = seen{found: false, at: f.listed}
	}
	if p.fresh(s.at) {
		return s, true, nil
	}
	if f.err != nil {
		return s, false, f.err
	}
	return s, false, nil
}

// singleLocked returns ref's last images.get, starting one when it is too
// old.
func (p *picture) singleLocked(ctx context.Context, ref lifecycle.ImageRef) (seen, bool, error) {
	v, ok := p.singles[ref]
	if !ok {
		v = &singleView{}
		p.singles[ref] = v
	}
	if p.fresh(v.at) {
		return v.seen, true, nil
	}
	if v.err != nil {
		err := v.err
		v.err = nil // the next call tries again
		return v.seen, false, err
	}
	if !v.busy {
		v.busy = true
		if p.ctx != nil {
			ctx = p.ctx // the read serves every waiter, not only this one
		}
		p.readers.Go(func() {
			sent := p.clock()
			img, err := p.c.GetImage(ctx, ref.Project, ref.Name)
			p.mu.Lock()
			defer p.mu.Unlock()
			v.busy = false
			switch {
			case err == nil:
				v.seen = seen{img: withProject(img, ref.Project), found: true, at: sent}
			case errors.Is(err, gce.ErrNotFound):
				v.seen = seen{found: false, at: sent}
			default:
				v.err = fmt.Errorf("re-reading image %s: %w", ref, err)
			}
			p.broadcastLocked()
		})
	}
	return v.seen, false, nil
}

// headAt returns what family resolves to, as read at most maxAge ago.
//
// at is when its read was sent.
func (p *picture) headAt(ctx context.Context, project, family string) (string, bool, time.Time, error) {
	for {
		p.mu.Lock()
		f := p.familyLocked(famKey{project, family})
		h, read, err := f.head, f.headRead, f.err
		changed := p.changed
		p.mu.Unlock()
		switch {
		case read && p.fresh(h.at):
			return h.img.Name, h.found, h.at, nil
		case err != nil:
			return "", false, time.Time{}, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return "", false, time.Time{}, ctx.Err()
		}
	}
}

// wrote lays what the applier itself wrote over the reads of img for the
// hold time: img as it is after the write (found false: deleted).
func (p *picture) wrote(img lifecycle.Image, found bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.own[img.Ref()] = ownWrite{img: img, found: found, until: p.clock().Add(p.hold)}
	p.broadcastLocked()
}
