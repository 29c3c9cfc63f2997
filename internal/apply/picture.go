package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// picture is the applier's view of the images a plan acts on, kept fresh so
// that no mutation is sent on a read older than maxAge:
//
//   - An image is read again when an action about to go out needs it and its
//     last read is too old, together with every other image waiting for the
//     same: one images.list per batch of up to readBatch names, filtered by
//     name (`name eq "(web-v1|web-v3|...)"`, the regex dialect, which matches
//     the whole field). With the applier's actions in flight asking at once,
//     a batch is full: re-checking a rotation costs about one list request
//     per hundred actions, whatever the family's size, where a GET per image
//     would double its requests and re-listing the whole family every second
//     would cost one request per 500 images a second (at 10,000 images,
//     twenty pages a cycle, slower than the freshness bound allows). An
//     image a batch did not return is gone.
//   - A family's head is read with getFromFamily when an action relying on
//     it needs a fresher answer than the last.
//   - Each read's time is when its request was sent.
//   - What the applier itself wrote is laid over the reads for a moment
//     (hold): a read may lag a write (Compute Engine served labels from
//     before a DONE setLabels), and a later step of the same plan must not
//     take our own change for someone else's.
type picture struct {
	c      gce.Compute
	clock  func() time.Time
	maxAge time.Duration
	hold   time.Duration

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every update
	ctx     context.Context
	images  map[lifecycle.ImageRef]*imageView
	heads   map[famKey]*headView
	// wanted are, per project, the images waiting for a read; reading says
	// a batch reader runs for the project.
	wanted  map[string][]string
	reading map[string]bool
	// soon counts, per image, the actions in flight that will check it: a
	// batch that is not full is topped up with those whose reads are
	// ageing, so that actions waiting for request slots (under a quota,
	// seconds) do not go stale one by one and cost a list each.
	soon map[lifecycle.ImageRef]int
	own  map[lifecycle.ImageRef]ownWrite
	// readers are the goroutines reading for the picture: Execute waits for
	// them before it returns, so that none outlives the client it reads
	// with.
	readers sync.WaitGroup
}

// readBatch bounds the names one filtered list asks for: filters of a few
// kilobytes at most (63-character names).
const readBatch = 100

type famKey struct{ project, family string }

// seen is one image as last read.
type seen struct {
	img   lifecycle.Image
	found bool
	at    time.Time
}

type imageView struct {
	seen
	wanted bool // a read is asked for
	err    error
}

type headView struct {
	name  string
	found bool
	at    time.Time
	busy  bool
	err   error
}

type ownWrite struct {
	img   lifecycle.Image
	found bool
	until time.Time
}

func newPicture(c gce.Compute, clock func() time.Time, maxAge time.Duration) *picture {
	return &picture{c: c, clock: clock, maxAge: maxAge, hold: maxAge + time.Second,
		changed: make(chan struct{}), images: map[lifecycle.ImageRef]*imageView{}, heads: map[famKey]*headView{},
		wanted: map[string][]string{}, reading: map[string]bool{}, soon: map[lifecycle.ImageRef]int{},
		own: map[lifecycle.ImageRef]ownWrite{}}
}

// start lets the picture read (for Execute, until ctx ends).
func (p *picture) start(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx = ctx
}

// wait waits for every read the picture started, once its context has
// ended.
func (p *picture) wait() { p.readers.Wait() }

// seed takes a snapshot read at `at` as the first picture of its images
// (and, when it read getFromFamily, of its head): the plan was made from it,
// so nothing needs reading again while it is fresh.
func (p *picture) seed(s lifecycle.Snapshot, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, img := range append(slices.Clone(s.Images), s.Orphans...) {
		img = withProject(img, s.Project)
		p.images[img.Ref()] = &imageView{seen: seen{img: img, found: true, at: at}}
	}
	if s.HeadRead && s.Family != "" {
		p.heads[famKey{s.Project, s.Family}] = &headView{name: s.HeadName, found: s.HeadName != "", at: at}
	}
	p.broadcastLocked()
}

func withProject(img lifecycle.Image, project string) lifecycle.Image {
	if img.Project == "" {
		img.Project = project
	}
	return img
}

func (p *picture) broadcastLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *picture) fresh(at time.Time) bool {
	return !at.IsZero() && !at.Before(p.clock().Add(-p.maxAge))
}

// ownLocked is what the applier itself wrote of ref, while that answers
// for it (the hold).
func (p *picture) ownLocked(ref lifecycle.ImageRef) (ownWrite, bool) {
	w, ok := p.own[ref]
	return w, ok && p.clock().Before(w.until)
}

// viewLocked is ref's view, made when it has none.
func (p *picture) viewLocked(ref lifecycle.ImageRef) *imageView {
	v, ok := p.images[ref]
	if !ok {
		v = &imageView{}
		p.images[ref] = v
	}
	return v
}

// ageingLocked reports whether ref should be read ahead: no write of ours
// answers for it and its last read, if any, is at least half the freshness
// bound old.
func (p *picture) ageingLocked(ref lifecycle.ImageRef, v *imageView) bool {
	if _, ok := p.ownLocked(ref); ok {
		return false // what we wrote answers (a copy just made)
	}
	return v.at.IsZero() || v.at.Before(p.clock().Add(-p.maxAge/2))
}

// imageAt returns ref as read at most maxAge ago, asking for a read when
// needed. found is false when the image does not exist. at is when the read
// it returns was sent (for the applier's own write: when it was noted).
func (p *picture) imageAt(ctx context.Context, ref lifecycle.ImageRef) (lifecycle.Image, bool, time.Time, error) {
	for {
		p.mu.Lock()
		if w, ok := p.ownLocked(ref); ok {
			p.mu.Unlock()
			return w.img, w.found, w.until.Add(-p.hold), nil
		}
		v := p.viewLocked(ref)
		if p.fresh(v.at) {
			s := v.seen
			p.mu.Unlock()
			return s.img, s.found, s.at, nil
		}
		if v.err != nil {
			err := v.err
			v.err = nil // the next call asks again
			p.mu.Unlock()
			return lifecycle.Image{}, false, time.Time{}, err
		}
		p.wantLocked(ref, v)
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return lifecycle.Image{}, false, time.Time{}, ctx.Err()
		}
	}
}

// prefetch asks for reads of the images actions about to start will check,
// unless a read of them is at most half the freshness bound old: they are
// then read in full batches ahead of time, not one action at a time while
// it waits.
func (p *picture) prefetch(refs []lifecycle.ImageRef) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ref := range refs {
		if v := p.viewLocked(ref); p.ageingLocked(ref, v) {
			p.wantLocked(ref, v)
		}
	}
}

// expect notes that an action now in flight will check refs (delta 1) or
// no longer will (delta -1).
func (p *picture) expect(refs []lifecycle.ImageRef, delta int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ref := range refs {
		if p.soon[ref] += delta; p.soon[ref] <= 0 {
			delete(p.soon, ref)
		}
	}
}

// topUpLocked adds to a batch of project's images, up to readBatch, those
// that actions in flight will check and whose last read is at least half the
// freshness bound old, oldest first; they are marked wanted until the batch
// is read.
func (p *picture) topUpLocked(project string, batch []string) []string {
	if len(batch) >= readBatch {
		return batch
	}
	type candidate struct {
		name string
		v    *imageView
	}
	var more []candidate
	for ref := range p.soon {
		if v := p.images[ref]; ref.Project == project && v != nil && !v.wanted && p.ageingLocked(ref, v) {
			more = append(more, candidate{ref.Name, v})
		}
	}
	slices.SortFunc(more, func(a, b candidate) int {
		if c := a.v.at.Compare(b.v.at); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	for _, c := range more[:min(len(more), readBatch-len(batch))] {
		c.v.wanted = true
		batch = append(batch, c.name)
	}
	return batch
}

// wantLocked asks for a read of ref, starting the project's batch reader
// when none runs.
func (p *picture) wantLocked(ref lifecycle.ImageRef, v *imageView) {
	if v.wanted {
		return
	}
	v.wanted = true
	p.wanted[ref.Project] = append(p.wanted[ref.Project], ref.Name)
	if p.reading[ref.Project] || p.ctx == nil {
		return
	}
	p.reading[ref.Project] = true
	ctx, project := p.ctx, ref.Project
	p.readers.Go(func() { p.readBatches(ctx, project) })
}

// readBatches reads the images asked for in project, a batch at a time,
// until none is waiting.
func (p *picture) readBatches(ctx context.Context, project string) {
	for {
		p.mu.Lock()
		names := p.wanted[project]
		if len(names) == 0 || ctx.Err() != nil {
			p.reading[project] = false
			p.mu.Unlock()
			return
		}
		n := min(len(names), readBatch)
		batch := p.topUpLocked(project, slices.Clone(names[:n]))
		p.wanted[project] = names[n:]
		p.mu.Unlock()

		sent := p.clock()
		imgs, err := p.c.ListImages(ctx, project, nameFilter(batch))

		p.mu.Lock()
		got := map[string]lifecycle.Image{}
		for _, img := range imgs {
			got[img.Name] = withProject(img, project)
		}
		for _, name := range batch {
			v := p.images[lifecycle.ImageRef{Project: project, Name: name}]
			v.wanted = false
			switch img, ok := got[name]; {
			case err != nil:
				v.err = fmt.Errorf("re-reading image %s before acting on it: %w", name, err)
			case ok:
				v.seen = seen{img: img, found: true, at: sent}
			default:
				v.seen = seen{found: false, at: sent}
			}
		}
		p.broadcastLocked()
		p.mu.Unlock()
	}
}

// nameFilter selects exactly the named images. Image names are
// [a-z]([-a-z0-9]*[a-z0-9])?: nothing to escape in the regex.
func nameFilter(names []string) string {
	return fmt.Sprintf(`name eq "(%s)"`, strings.Join(names, "|"))
}

// headAt returns what family resolves to, as read at most maxAge ago. at is
// when its read was sent.
func (p *picture) headAt(ctx context.Context, project, family string) (string, bool, time.Time, error) {
	key := famKey{project, family}
	for {
		p.mu.Lock()
		h, ok := p.heads[key]
		if !ok {
			h = &headView{}
			p.heads[key] = h
		}
		if p.fresh(h.at) {
			name, found, at := h.name, h.found, h.at
			p.mu.Unlock()
			return name, found, at, nil
		}
		if h.err != nil {
			err := h.err
			h.err = nil
			p.mu.Unlock()
			return "", false, time.Time{}, err
		}
		if !h.busy && p.ctx != nil {
			h.busy = true
			rctx := p.ctx
			p.readers.Go(func() {
				sent := p.clock()
				img, err := p.c.GetFromFamily(rctx, project, family)
				p.mu.Lock()
				defer p.mu.Unlock()
				h.busy = false
				switch {
				case err == nil:
					h.name, h.found, h.at = img.Name, true, sent
				case errors.Is(err, gce.ErrNotFound):
					h.name, h.found, h.at = "", false, sent
				default:
					h.err = fmt.Errorf("re-reading what family %s of project %s resolves to: %w", family, project, err)
				}
				p.broadcastLocked()
			})
		}
		changed := p.changed
		p.mu.Unlock()
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
