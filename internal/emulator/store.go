package emulator

import (
	"fmt"
	"math/rand"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
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
	opLatency time.Duration
	undeprec  UndeprecateMode
	// injected counts the faults injected, by "method=kind" (spikes.go).
	injected map[string]int

	// changes are the resources the mutation under way has written, in
	// the order first written; commitLocked hands them to the journal and
	// to the read lag, then clears them.
	changes []change
	changed map[resKey]bool
	// journal persists committed changes (journal.go); nil without a
	// state file.
	journal *journal
	// lag serves reads from the recent past (lag.go); nil without
	// Options.ReadLag.
	lag *readLag
	// quotas are the --quota token buckets (quota.go); nil without any.
	quotas *quotas
}

// Resource kinds, named as the state file and the journal name them.
const (
	kindImage          = "images"
	kindTemplate       = "instanceTemplates"
	kindRegionTemplate = "regionInstanceTemplates"
	kindInstance       = "instances"
	kindDisk           = "disks"
	kindIGM            = "instanceGroupManagers"
	kindRegionIGM      = "regionInstanceGroupManagers"
)

// resKey names one stored resource: its kind, project and key in its map
// (name; zone/name; region/name).
type resKey struct{ kind, project, key string }

// change is a resource a mutation wrote, with its value before the
// mutation's first write to it (nil: it did not exist).
type change struct {
	resKey
	before proto.Message
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

	disks             map[string]*computepb.Disk                 // key: zone/name
	instances         map[string]*computepb.Instance             // key: zone/name
	templates         map[string]*computepb.InstanceTemplate     // global, key: name
	regionalTemplates map[string]*computepb.InstanceTemplate     // key: region/name
	igms              map[string]*computepb.InstanceGroupManager // zonal, key: zone/name
	regionIGMs        map[string]*computepb.InstanceGroupManager // key: region/name
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
		opLatency: opts.OpLatency,
		undeprec:  opts.Undeprecate,
		changed:   map[resKey]bool{},
		lag:       newReadLag(opts.ReadLag, opts.Seed),
		quotas:    newQuotas(opts.Quotas),
	}
	if opts.StateFile != "" {
		j, err := openJournal(st, opts.StateFile)
		if err != nil {
			return nil, err
		}
		st.journal = j
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
			igms:              map[string]*computepb.InstanceGroupManager{},
			regionIGMs:        map[string]*computepb.InstanceGroupManager{},
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

// put stores v under key in m, one of p's resource maps of kind, and
// records the change. Every write to a resource map goes through put, drop
// or touched, so that the journal and the read lag see it.
func put[M proto.Message](st *Store, p *project, kind string, m map[string]M, key string, v M) {
	old, had := m[key]
	st.noteLocked(p, kind, key, old, had)
	m[key] = v
}

// drop deletes key from m, one of p's resource maps of kind, and records
// the change.
func drop[M proto.Message](st *Store, p *project, kind string, m map[string]M, key string) {
	old, had := m[key]
	if !had {
		return
	}
	st.noteLocked(p, kind, key, old, had)
	delete(m, key)
}

// touched records that the resource under key was changed in place.
// Only kinds that never lag (instances, disks, instance group managers)
// are changed in place; images and templates are replaced by put.
func touched[M proto.Message](st *Store, p *project, kind string, m map[string]M, key string) {
	old, had := m[key]
	st.noteLocked(p, kind, key, old, had)
}

func (st *Store) noteLocked(p *project, kind, key string, old proto.Message, had bool) {
	k := resKey{kind, p.name, key}
	if st.changed[k] {
		return
	}
	st.changed[k] = true
	var before proto.Message
	if had {
		before = old
	}
	st.changes = append(st.changes, change{resKey: k, before: before})
}

// commitLocked ends a mutation that went through: its changes go to the
// read lag and to the journal. The changes are in memory already; an error
// says only that they could not be persisted.
func (st *Store) commitLocked() error {
	changes := st.changes
	st.discardLocked()
	if len(changes) == 0 {
		return nil
	}
	if st.lag != nil {
		st.lag.recordLocked(st, changes)
	}
	if st.journal != nil {
		return st.journal.appendLocked(changes)
	}
	return nil
}

// commitFixtureLocked commits a fixture (LoadState, PutImage): persisted
// like a mutation, but visible at once whatever the read lag, since it is
// the world a test starts from rather than a write a client made.
func (st *Store) commitFixtureLocked() error {
	changes := st.changes
	st.discardLocked()
	if st.lag != nil {
		for _, c := range changes {
			st.lag.forgetLocked(c.resKey)
		}
	}
	if st.journal != nil && len(changes) > 0 {
		return st.journal.appendLocked(changes)
	}
	return nil
}

// discardLocked forgets the changes recorded since the last commit: the
// mutation was refused or only tried (dryRun), and changed nothing.
func (st *Store) discardLocked() {
	st.changes = nil
	clear(st.changed)
}

// lookupLocked returns the current value of a stored resource.
func (st *Store) lookupLocked(k resKey) (proto.Message, bool) {
	p := st.projects[k.project]
	if p == nil {
		return nil, false
	}
	switch k.kind {
	case kindImage:
		return found(p.images, k.key)
	case kindTemplate:
		return found(p.templates, k.key)
	case kindRegionTemplate:
		return found(p.regionalTemplates, k.key)
	case kindInstance:
		return found(p.instances, k.key)
	case kindDisk:
		return found(p.disks, k.key)
	case kindIGM:
		return found(p.igms, k.key)
	case kindRegionIGM:
		return found(p.regionIGMs, k.key)
	}
	return nil, false
}

func found[M proto.Message](m map[string]M, key string) (proto.Message, bool) {
	v, ok := m[key]
	if !ok {
		return nil, false
	}
	return v, true
}

// Lock and Unlock let fixtures and tests in this package batch direct edits.
func (st *Store) lock()   { st.mu.Lock() }
func (st *Store) unlock() { st.mu.Unlock() }
