package emulator

import (
	"math/rand"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Read lag (Options.ReadLag, --read-lag D).
//
// Compute Engine's reads lag its writes: recorded traffic showed the labels
// from before a setLabels on the first images.get after that setLabels
// operation was DONE, and a 404 for an instance template on the first
// instanceTemplates.get after its insert was DONE; later reads were current.
// A client that relies on reading its own writes passes against an emulator
// that always does, and flaps on Compute Engine.
//
// With a read lag D, each change to an image and each write to an instance
// template (global or regional) becomes visible to readers after a delay
// drawn uniformly from (0, D] from a source seeded by Options.Seed, on
// Options.Clock; until then reads see the resource as it was before (absent,
// for a new template). A new image is visible at once: the googlecompute
// builder reads each image it creates right after the insert's operation is
// DONE and crashes without it (v1.2.7), and it works against Compute
// Engine. A reader therefore sees every lagging resource as it was at most
// D ago.
// What lags:
//
//   - images.get (by name or id), images.list, images.getFromFamily and
//     imageFamilyViews.get, for changes (setLabels, deprecate, patch) and
//     deletions of images;
//   - instanceTemplates.get/list, regionInstanceTemplates.get/list and
//     instanceTemplates.aggregatedList.
//
// What does not: every mutation applies at once and validates against the
// current state (a setLabels with the fingerprint of stale labels gets 412,
// a second insert of a name gets 409, an image deleted a moment ago cannot
// be a source); operations are current (get, wait and list: a client
// polling an operation must see it DONE, or it hangs); and instances,
// disks, managed instance groups, zones and machine types are current.
type readLag struct {
	max time.Duration
	rng *rand.Rand
	// hist holds, for each lagging resource written in the last max, the
	// versions a reader may still see, oldest first. versions[0] is always
	// visible; versions[i] from its visibleAt on; the last is the current
	// value. A version's m is nil when the resource did not exist.
	hist map[resKey][]version
	// byScope lists the keys in hist by kind and project, so that a list
	// also finds resources deleted too recently for readers to know.
	byScope map[[2]string]map[string]bool
}

type version struct {
	m         proto.Message
	visibleAt time.Time
}

// lagSeedSalt keeps the lag's draws apart from the ids and faults that the
// same seed drives, so that turning lag on does not change them.
const lagSeedSalt = 0x6c61672d64726177

func newReadLag(d time.Duration, seed int64) *readLag {
	if d <= 0 {
		return nil
	}
	return &readLag{
		max:     d,
		rng:     rand.New(rand.NewSource(seed ^ lagSeedSalt)),
		hist:    map[resKey][]version{},
		byScope: map[[2]string]map[string]bool{},
	}
}

func lags(kind string) bool {
	return kind == kindImage || kind == kindTemplate || kind == kindRegionTemplate
}

// recordLocked makes the committed changes to lagging resources visible
// later: each after its own delay.
func (l *readLag) recordLocked(st *Store, changes []change) {
	now := st.clock()
	for _, c := range changes {
		if !lags(c.kind) || (c.kind == kindImage && c.before == nil) {
			continue
		}
		var cur proto.Message
		if m, ok := st.lookupLocked(c.resKey); ok {
			cur = m
		}
		delay := time.Duration(l.rng.Int63n(int64(l.max))) + 1
		h, ok := l.hist[c.resKey]
		if !ok {
			h = []version{{m: c.before}}
			scope := [2]string{c.kind, c.project}
			if l.byScope[scope] == nil {
				l.byScope[scope] = map[string]bool{}
			}
			l.byScope[scope][c.key] = true
		}
		l.hist[c.resKey] = append(h, version{m: cur, visibleAt: now.Add(delay)})
	}
}

// viewLocked returns what a reader at now sees of the resource under k, and
// whether the lag knows it at all (false: the current value is what
// readers see). A nil message means the reader sees no such resource.
func (l *readLag) viewLocked(k resKey, now time.Time) (proto.Message, bool) {
	h, ok := l.hist[k]
	if !ok {
		return nil, false
	}
	i := 0
	for j := 1; j < len(h); j++ {
		if !h[j].visibleAt.After(now) {
			i = j
		}
	}
	m := h[i].m
	if i == len(h)-1 {
		// The current value is visible: the lag has nothing left to hide.
		l.forgetLocked(k)
	} else if i > 0 {
		// Time only moves on: what is older than the version visible
		// now is never seen again.
		l.hist[k] = h[i:]
	}
	return m, true
}

// forgetLocked drops what the lag still hides of a resource: a fixture
// written over it is visible at once.
func (l *readLag) forgetLocked(k resKey) {
	delete(l.hist, k)
	scope := [2]string{k.kind, k.project}
	delete(l.byScope[scope], k.key)
	if len(l.byScope[scope]) == 0 {
		delete(l.byScope, scope)
	}
}

// readLocked returns a resource as a reader sees it now: its current value
// unless the read lag still hides a change.
func (st *Store) readLocked(k resKey) (proto.Message, bool) {
	if st.lag != nil {
		if m, known := st.lag.viewLocked(k, st.clock()); known {
			return m, m != nil
		}
	}
	return st.lookupLocked(k)
}

// visible returns the resources of one map as readers see them now: all of
// them without read lag; with it, each as readLocked returns it, including
// those deleted too recently to be gone for readers. The order is
// unspecified: lists sort.
func visible[M proto.Message](st *Store, project, kind string, m map[string]M) []M {
	out := make([]M, 0, len(m))
	if st.lag == nil {
		for _, v := range m {
			out = append(out, v)
		}
		return out
	}
	for key := range m {
		if v, ok := st.readLocked(resKey{kind, project, key}); ok {
			out = append(out, v.(M))
		}
	}
	for key := range st.lag.byScope[[2]string{kind, project}] {
		if _, current := m[key]; current {
			continue
		}
		if v, ok := st.readLocked(resKey{kind, project, key}); ok {
			out = append(out, v.(M))
		}
	}
	return out
}

// visibleKeyed is visible with each resource's key, for maps whose keys
// carry a scope (region/name) that readers filter on.
func visibleKeyed[M proto.Message](st *Store, project, kind string, m map[string]M) map[string]M {
	if st.lag == nil {
		return m
	}
	out := make(map[string]M, len(m))
	for key := range m {
		if v, ok := st.readLocked(resKey{kind, project, key}); ok {
			out[key] = v.(M)
		}
	}
	for key := range st.lag.byScope[[2]string{kind, project}] {
		if _, current := m[key]; current {
			continue
		}
		if v, ok := st.readLocked(resKey{kind, project, key}); ok {
			out[key] = v.(M)
		}
	}
	return out
}

// readImageLocked finds an image for a read, by name or numeric id, as
// readers see it now (read lag, then PENDING until its insert is done).
func (st *Store) readImageLocked(projectName, nameOrID string) (*project, *computepb.Image, error) {
	p := st.projects[projectName]
	if p != nil {
		if m, ok := st.readLocked(resKey{kindImage, projectName, nameOrID}); ok {
			return p, st.imageViewLocked(p, m.(*computepb.Image)), nil
		}
		if id, ok := numericID(nameOrID); ok {
			for _, img := range visible(st, projectName, kindImage, p.images) {
				if img.GetId() == id {
					return p, st.imageViewLocked(p, img), nil
				}
			}
		}
	}
	return p, nil, errNotFound(imagePath(projectName, nameOrID))
}
