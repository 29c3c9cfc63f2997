package apply

import (
	"context"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
)

// Scans is the in-use scan of one run (gce.Compute.ScanImageUses over a fixed
// set of projects), shared by every family the run reads and every action it
// checks: one scan serves the whole run unless something needs a fresher one
// (a destructive action wants one no older than Options.ScanMaxAge). Reading
// the three aggregated listings once per family instead would cost, for 50
// families and 5,000 templates, 600 pages where one scan is 12.
//
// A failed scan is not kept: the next Get scans again.
type Scans struct {
	c        gce.Compute
	projects []string
	clock    func() time.Time

	mu      sync.Mutex
	uses    gce.ImageUses
	at      time.Time // when the kept scan started; zero for none
	running chan struct{}
	lastErr error
	count   int
}

// NewScans returns the scans of projects (ScanProjects: the image project
// first). clock is time.Now when nil.
func NewScans(c gce.Compute, projects []string, clock func() time.Time) *Scans {
	if clock == nil {
		clock = time.Now
	}
	return &Scans{c: c, projects: projects, clock: clock}
}

// Projects are the projects the scans read.
func (s *Scans) Projects() []string { return s.projects }

// Get returns a scan that started at most maxAge ago, scanning when there is
// none (a scan already running is waited for, not doubled), and when it
// started. maxAge < 0 takes any scan made so far.
func (s *Scans) Get(ctx context.Context, maxAge time.Duration) (gce.ImageUses, time.Time, error) {
	for {
		s.mu.Lock()
		if !s.at.IsZero() && (maxAge < 0 || !s.at.Before(s.clock().Add(-maxAge))) {
			uses, at := s.uses, s.at
			s.mu.Unlock()
			return uses, at, nil
		}
		if s.running != nil {
			running := s.running
			s.mu.Unlock()
			select {
			case <-running:
			case <-ctx.Done():
				return nil, time.Time{}, ctx.Err()
			}
			s.mu.Lock()
			err := s.lastErr
			s.mu.Unlock()
			if err != nil {
				return nil, time.Time{}, err
			}
			continue
		}
		running := make(chan struct{})
		s.running = running
		start := s.clock()
		s.count++
		s.mu.Unlock()

		uses, err := s.c.ScanImageUses(ctx, s.projects)

		s.mu.Lock()
		s.running, s.lastErr = nil, err
		if err == nil && start.After(s.at) {
			s.uses, s.at = uses, start
		}
		s.mu.Unlock()
		close(running)
		if err != nil {
			return nil, time.Time{}, err
		}
	}
}

// Start begins a scan in the background, for a Get that comes later to
// find it running or done: a command starts it before it waits for a lease
// or reads a family, which the scan does not depend on. The returned stop
// cancels the scan if it still runs and waits for it to end; the caller
// defers it before the client's Close, so no scan outlives its client.
func (s *Scans) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = s.Get(ctx, -1)
	}()
	return func() {
		cancel()
		<-done
	}
}

// Count is how many scans were started: the figure BENCHMARKS.md quotes.
func (s *Scans) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}
