package emulator

import (
	"fmt"
	"math/rand"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// timestampLayout is how Compute Engine writes creationTimestamp and
// operation times: RFC 3339 with milliseconds.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Store holds every emulated resource. One mutex guards it all: the emulator
// serves one developer's tests and demos, where simplicity beats throughput.
type Store struct {
	mu       sync.Mutex
	clock    func() time.Time
	rng      *rand.Rand
	projects map[string]*project
	// requests maps a mutation's requestId to the operation it produced, so
	// a retried request returns the first operation and changes nothing.
	requests  map[string]*computepb.Operation
	stateFile string
	opLatency time.Duration
	undeprec  UndeprecateMode
	// injected counts the faults injected, by "method=kind" (spikes.go).
	injected map[string]int
}

// project is one emulated project. Projects spring into existence on first
// use: any project id is valid here.
type project struct {
	name   string
	images map[string]*computepb.Image
	// imageReadyAt is when an image's creating operation completes; until
	// then the image reads as PENDING.
	imageReadyAt map[string]time.Time
	// lastCreated makes creationTimestamp strictly increasing within the
	// project even inside one millisecond: families order by it.
	lastCreated time.Time

	disks             map[string]*computepb.Disk             // key: zone/name
	instances         map[string]*computepb.Instance         // key: zone/name
	templates         map[string]*computepb.InstanceTemplate // global, key: name
	regionalTemplates map[string]*computepb.InstanceTemplate // key: region/name
	// operations are keyed by scope ("global", "zones/Z", "regions/R") + "/" + name.
	operations map[string]*computepb.Operation
	opDoneAt   map[string]time.Time
	opOrder    []string
}

func newStore(opts Options) (*Store, error) {
	st := &Store{
		clock:     opts.Clock,
		rng:       rand.New(rand.NewSource(opts.Seed)),
		projects:  map[string]*project{},
		requests:  map[string]*computepb.Operation{},
		stateFile: opts.StateFile,
		opLatency: opts.OpLatency,
		undeprec:  opts.Undeprecate,
	}
	if opts.StateFile != "" {
		if err := st.loadFile(opts.StateFile); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// projectLocked returns the project, creating it on first use. Callers hold mu.
func (st *Store) projectLocked(name string) *project {
	p, ok := st.projects[name]
	if !ok {
		p = &project{
			name:              name,
			images:            map[string]*computepb.Image{},
			imageReadyAt:      map[string]time.Time{},
			disks:             map[string]*computepb.Disk{},
			instances:         map[string]*computepb.Instance{},
			templates:         map[string]*computepb.InstanceTemplate{},
			regionalTemplates: map[string]*computepb.InstanceTemplate{},
			operations:        map[string]*computepb.Operation{},
			opDoneAt:          map[string]time.Time{},
		}
		st.projects[name] = p
	}
	return p
}

// newID returns a resource id: a non-zero uint64, reproducible under a seed.
func (st *Store) newIDLocked() uint64 {
	for {
		if id := st.rng.Uint64() >> 1; id != 0 {
			return id
		}
	}
}

// creationTimeLocked returns the next creation time for the project: now, or
// one millisecond after the previous one when the clock has not moved on.
func (p *project) creationTimeLocked(now time.Time) time.Time {
	t := now.UTC().Truncate(time.Millisecond)
	if !t.After(p.lastCreated) {
		t = p.lastCreated.Add(time.Millisecond)
	}
	p.lastCreated = t
	return t
}

func formatTime(t time.Time) string { return t.UTC().Format(timestampLayout) }

// selfLink builds the canonical URL Compute Engine writes into selfLink.
func selfLink(project, path string) string {
	return fmt.Sprintf("https://www.googleapis.com/compute/v1/projects/%s/%s", project, path)
}

// Lock and Unlock let fixtures and tests in this package batch direct edits.
func (st *Store) lock()   { st.mu.Lock() }
func (st *Store) unlock() { st.mu.Unlock() }
