package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Defaults of LeaseOptions.
const (
	DefaultLeaseTTL  = 5 * time.Minute
	DefaultLeaseWait = 6 * time.Minute // a crashed holder's lease runs out within it
	leasePoll        = 2 * time.Second
	maxLeaseFailures = 4
	releaseTimeout   = 30 * time.Second
)

// LeaseOptions tune AcquireLease.
type LeaseOptions struct {
	// Holder names the holder (lifecycle.LeaseHolder).
	Holder string
	// TTL is how long the lease lasts unless renewed: what a crashed holder
	// blocks the family for at most. Renewed every TTL/3 while held.
	// DefaultLeaseTTL when zero.
	TTL time.Duration
	// Wait bounds how long to wait while another command holds the lease; 0
	// refuses at once.
	Wait time.Duration
	// OnWait, when set, is told when AcquireLease starts waiting for a
	// holder: once per holder, not at every look.
	OnWait func(lifecycle.Lease)
	// Clock is time.Now when nil.
	Clock func() time.Time
	// Poll is how often the lease is looked at again while waiting; 2 s
	// when zero.
	Poll time.Duration
}

// HeldError is a lease that another command holds.
type HeldError struct {
	Project, Family string
	Lease           lifecycle.Lease
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("family %s of project %s is leased to %s until %s (label %s on %s): another imagefamily command is changing the family; run again once it is done, or remove the label if that command is known to have died",
		e.Family, e.Project, e.Lease.Holder, e.Lease.Expires.UTC().Format(time.RFC3339), lifecycle.LabelLease, e.Lease.Image.Name)
}

// ErrLeaseLost is the lease running out or being taken over while held.
var ErrLeaseLost = errors.New("lease lost")

// Lease is a command's hold on a family (see lifecycle/lease.go): the label
// imagefamily-lease on the family's head, written with the label
// fingerprint, renewed while held, taken off by Release.
type Lease struct {
	c               gce.Compute
	project, family string
	holder          string
	ttl             time.Duration
	clock           func() time.Time
	anchor          lifecycle.ImageRef // zero: the family had no image to hold it
	// anchorRead is the anchor as the verifying list returned it (labels
	// and fingerprint), for Release to write from without reading it
	// again; cleared by a renewal, whose write changes the fingerprint.
	anchorRead *lifecycle.Image

	mu      sync.Mutex
	expires time.Time
	lost    error
	stop    chan struct{}
	done    chan struct{}
}

type leaseTaken struct{ lease lifecycle.Lease }

func (leaseTaken) Error() string { return "lease taken" }

// AcquireLease takes the lease of a family, waiting up to opts.Wait while
// another command holds it:
//
//  1. list the family's images that carry a lease (one filtered list);
//     another holder's valid lease means waiting, or a HeldError;
//  2. write the lease on the head (getFromFamily) with the head's label
//     fingerprint: of two commands doing this at once, one gets 412, reads
//     the other's lease and waits;
//  3. list the leases again: another valid lease elsewhere (the head moved
//     between two commands' reads) means both back off and try again after
//     a random pause. Whoever looks second sees the first.
//
// A family with no image at all has nothing to hold the lease: the Lease
// returned then holds nothing (and Valid always passes).
func AcquireLease(ctx context.Context, c gce.Compute, project, family string, opts LeaseOptions) (*Lease, error) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultLeaseTTL
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Poll <= 0 {
		opts.Poll = leasePoll
	}
	l := &Lease{c: c, project: project, family: family, holder: opts.Holder, ttl: opts.TTL, clock: opts.Clock}
	deadline := opts.Clock().Add(opts.Wait)
	failures := 0
	waitingFor := ""
	for {
		leases, _, err := familyLeases(ctx, c, project, family)
		if err != nil {
			return nil, err
		}
		now := opts.Clock()
		if other, held := lifecycle.HeldByOther(leases, opts.Holder, now); held {
			if !now.Before(deadline) {
				return nil, &HeldError{Project: project, Family: family, Lease: other}
			}
			if opts.OnWait != nil && other.Holder != waitingFor {
				waitingFor = other.Holder
				opts.OnWait(other)
			}
			pause := min(opts.Poll, deadline.Sub(now), max(other.Expires.Sub(now), 0)+time.Second)
			if err := gce.Sleep(ctx, pause); err != nil {
				return nil, err
			}
			continue
		}
		anchor, ok, err := leaseAnchor(ctx, c, project, family)
		if err != nil {
			return nil, err
		}
		if !ok {
			return l, nil
		}
		expires := now.Add(opts.TTL)
		err = l.write(ctx, anchor, expires, now)
		var taken leaseTaken
		switch {
		case errors.As(err, &taken):
			continue // someone else got in first: step 1 sees it
		case err != nil && ctx.Err() == nil && failures < maxLeaseFailures && (gce.Retryable(err) || errors.Is(err, gce.ErrOperationFailed)):
			// gce's own retries ran out, or the write's operation failed:
			// nothing is held yet, so trying again is safe.
			failures++
			if err := gce.Sleep(ctx, opts.Poll); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("taking the lease of family %s of project %s: %w", family, project, err)
		}
		l.anchor, l.expires = anchor.Ref(), expires
		leases, leased, err := familyLeases(ctx, c, project, family)
		if err != nil {
			l.Release(ctx)
			return nil, err
		}
		l.anchorRead = ownAnchor(leased, l.anchor, opts.Holder)
		if _, held := lifecycle.HeldByOther(leases, opts.Holder, opts.Clock()); held {
			l.Release(ctx)
			l.anchor = lifecycle.ImageRef{}
			if err := gce.Sleep(ctx, time.Duration(rand.Int64N(int64(opts.Poll)))); err != nil {
				return nil, err
			}
			continue
		}
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.renew()
		return l, nil
	}
}

// ownAnchor is the anchor as listed with the holder's lease on it, or nil.
func ownAnchor(leased []lifecycle.Image, anchor lifecycle.ImageRef, holder string) *lifecycle.Image {
	for _, img := range leased {
		if img.Ref() != anchor || img.LabelFingerprint == "" {
			continue
		}
		for _, l := range lifecycle.LeasesOf([]lifecycle.Image{img}) {
			if l.Holder == holder {
				c := img.Clone()
				return &c
			}
		}
	}
	return nil
}

// familyLeases lists the leases on the family's images (one filtered list,
// checked again here: the filter is a hint, the labels are the truth).
func familyLeases(ctx context.Context, c gce.Compute, project, family string) ([]lifecycle.Lease, []lifecycle.Image, error) {
	imgs, err := c.ListImages(ctx, project, fmt.Sprintf(`(family = "%s") (labels.%s:*)`, family, lifecycle.LabelLease))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the lease of family %s of project %s: %w", family, project, err)
	}
	var mine []lifecycle.Image
	for _, img := range imgs {
		if _, ok := img.Labels[lifecycle.LabelLease]; ok && img.Family == family {
			mine = append(mine, withProject(img, project))
		}
	}
	return lifecycle.LeasesOf(mine), mine, nil
}

func leaseAnchor(ctx context.Context, c gce.Compute, project, family string) (lifecycle.Image, bool, error) {
	head, err := c.GetFromFamily(ctx, project, family)
	if err == nil {
		return withProject(head, project), true, nil
	}
	if !errors.Is(err, gce.ErrNotFound) {
		return lifecycle.Image{}, false, fmt.Errorf("reading what family %s of project %s resolves to: %w", family, project, err)
	}
	images, err := c.ListFamily(ctx, project, family)
	if err != nil {
		return lifecycle.Image{}, false, fmt.Errorf("reading family %s of project %s: %w", family, project, err)
	}
	img, ok := lifecycle.LeaseAnchor(lifecycle.Snapshot{Project: project, Family: family, Images: images, HeadRead: true})
	return withProject(img, project), ok, nil
}

// write puts the lease on img, unless another holder's valid lease is there.
func (l *Lease) write(ctx context.Context, img lifecycle.Image, expires, now time.Time) error {
	value, err := lifecycle.LeaseValue(l.holder, expires)
	if err != nil {
		return err
	}
	return l.c.SetLabelsFrom(ctx, img, func(cur map[string]string) (map[string]string, error) {
		if v, ok := cur[lifecycle.LabelLease]; ok {
			leases := lifecycle.LeasesOf([]lifecycle.Image{{Name: img.Name, Project: img.Project, Labels: map[string]string{lifecycle.LabelLease: v}}})
			if other, held := lifecycle.HeldByOther(leases, l.holder, now); held {
				return nil, leaseTaken{other}
			}
		}
		out := maps.Clone(cur)
		out[lifecycle.LabelLease] = value
		return out, nil
	})
}

// renew writes a later expiry every TTL/3 until Release.
func (l *Lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		now := l.clock()
		expires := now.Add(l.ttl)
		ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
		err := l.write(ctx, lifecycle.Image{Project: l.anchor.Project, Name: l.anchor.Name}, expires, now)
		cancel()
		l.mu.Lock()
		var taken leaseTaken
		switch {
		case errors.As(err, &taken):
			l.lost = fmt.Errorf("%w: %s took over the lease of family %s", ErrLeaseLost, taken.lease.Holder, l.family)
		case err == nil:
			l.expires = expires
		}
		l.anchorRead = nil
		// Any other failure: try again at the next tick; Valid fails once
		// the expiry comes without a renewal.
		l.mu.Unlock()
	}
}

// Valid reports whether the lease still holds, with a margin for the
// request about to be sent.
func (l *Lease) Valid() error {
	if l == nil || l.anchor.Name == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	margin := min(l.ttl/10, 10*time.Second)
	if !l.clock().Before(l.expires.Add(-margin)) {
		return fmt.Errorf("%w: the lease of family %s ran out at %s without a renewal", ErrLeaseLost, l.family, l.expires.UTC().Format(time.RFC3339))
	}
	return nil
}

// Holder names the holder.
func (l *Lease) Holder() string { return l.holder }

// Release takes the lease off (only if it is still this holder's), even
// when ctx has ended: an interrupted command must not block the family
// until the expiry.
func (l *Lease) Release(ctx context.Context) {
	if l == nil || l.anchor.Name == "" {
		return
	}
	if l.stop != nil {
		close(l.stop)
		<-l.done
		l.stop = nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	from := lifecycle.Image{Project: l.anchor.Project, Name: l.anchor.Name}
	l.mu.Lock()
	if l.anchorRead != nil {
		// Its fingerprint as read: a change since (a 412) reads it again.
		from = *l.anchorRead
	}
	l.mu.Unlock()
	for failures := 0; ; failures++ {
		err := l.c.SetLabelsFrom(rctx, from, func(cur map[string]string) (map[string]string, error) {
			if v, ok := cur[lifecycle.LabelLease]; ok {
				if holder, _, err := lifecycle.ParseLease(v); err == nil && holder == l.holder {
					out := maps.Clone(cur)
					delete(out, lifecycle.LabelLease)
					return out, nil
				}
			}
			return cur, nil
		})
		// Left on a failure, the lease blocks the family until it expires.
		if err == nil || failures >= maxLeaseFailures || !(gce.Retryable(err) || errors.Is(err, gce.ErrOperationFailed)) ||
			gce.Sleep(rctx, leasePoll/4) != nil {
			return
		}
	}
}
