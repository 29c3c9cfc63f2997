package reliability

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// The oracle judges runs by the documented rules (README's life cycle,
// docs/cli.md, docs/concurrency.md), written here from those pages and
// Compute Engine's documented behaviour, independently of the planner under
// test (internal/lifecycle's Plan and PlanRollback): it says what a run MAY
// do, and the checks fail on anything else.
//
// Compute Engine's head (getFromFamily): the READY image of the family whose
// deprecation state is absent or ACTIVE with the latest creationTimestamp; of
// equal ones, the emulator's documented rule takes the greater name.

// gone is the after-state of an image a run deleted.
const gone = "GONE"

// verdict is what a run may do to one image.
type verdict struct {
	// protected says why the policy protects the image ("" when it does
	// not): it may not change at all.
	protected string
	// may are the states it may be in after one run, its own included;
	// gone when it may be deleted.
	may map[string]bool
}

func (v verdict) String() string {
	if v.protected != "" {
		return "protected (" + v.protected + ")"
	}
	return "may be " + strings.Join(slices.Sorted(maps.Keys(v.may)), " or ")
}

var stateRank = map[string]int{"ACTIVE": 0, "DEPRECATED": 1, "OBSOLETE": 2, "DELETED": 3}

func isReady(img image) bool { return img.Status == "" || img.Status == "READY" }

// newerImage orders images as getFromFamily does: the later creation time,
// then the greater name.
func newerImage(a, b image) int {
	ta, tb := parseT(a.Created), parseT(b.Created)
	if ta != nil && tb != nil && !ta.Equal(*tb) {
		return ta.Compare(*tb)
	}
	return cmp.Compare(a.Name, b.Name)
}

// members are the family's images, newest first.
func (w world) members(family string) []image {
	var out []image
	for _, img := range w.images {
		if img.Family == family {
			out = append(out, img)
		}
	}
	slices.SortFunc(out, func(a, b image) int { return newerImage(b, a) })
	return out
}

// oracleHead is what getFromFamily answers for the family.
func (w world) oracleHead(family string) (image, bool) {
	for _, img := range w.members(family) {
		if isReady(img) && orActive(img.State) == "ACTIVE" {
			return img, true
		}
	}
	return image{}, false
}

// imageOf reads an image reference the way Compute Engine's clients write
// them (a URL with any host, a path, a bare name; .../family/F follows a
// family), with the reference's project or else def.
func imageOf(ref, def string) (project, name string, family bool) {
	if i := strings.Index(ref, "?"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(strings.Trim(ref, "/"), "/")
	project = def
	for i, p := range parts {
		if p == "projects" && i+1 < len(parts) {
			project = parts[i+1]
		}
	}
	n := len(parts)
	if n >= 2 && parts[n-2] == "family" {
		return project, parts[n-1], true
	}
	return project, parts[n-1], false
}

// users lists what refers to img: templates naming it (by name or id) and
// instances whose boot disk came from it; templates that follow its family
// use it when it is the head.
func (w world) users(img image, isHead bool) []string {
	var out []string
	for _, u := range append(slices.Clone(w.templates), w.instances...) {
		p, n, fam := imageOf(u.src, u.u.Project)
		if p != project {
			continue
		}
		if (!fam && (n == img.Name || n == fmt.Sprint(img.ID))) || (fam && isHead && n == img.Family) {
			out = append(out, u.u.String())
		}
	}
	return out
}

func protectValue(img image, pol lifecycle.Policy) (string, bool) {
	if pol.ProtectLabel == "" {
		return "", false
	}
	v, ok := img.Labels[pol.ProtectLabel]
	return v, ok && v != "false"
}

// due is when an image's next step falls due by the rules: its own date when
// it has one, else counted from its deprecated date (or from the run when it
// has none) with the policy's durations, a missing date of a state the image
// has already reached being the run's start at the latest. ok is false for a
// state with no next step.
func due(img image, pol lifecycle.Policy, start time.Time) (time.Time, string, bool) {
	base := start
	if d := parseT(img.Deprecated); d != nil {
		base = *d
	}
	date := func(s string, fallback time.Time) time.Time {
		if t := parseT(s); t != nil {
			return *t
		}
		return fallback
	}
	obsolete := date(img.Obsolete, base.Add(pol.ObsoleteAfter))
	deleted := date(img.Deleted, base.Add(pol.ObsoleteAfter+pol.DeleteAfter))
	switch orActive(img.State) {
	case "DEPRECATED":
		return obsolete, "OBSOLETE", true
	case "OBSOLETE":
		return deleted, "DELETED", true
	case "DELETED":
		if parseT(img.Deleted) == nil && deleted.After(start) {
			deleted = start // a DELETED image got there by the run at the latest
		}
		return deleted.Add(pol.PurgeAfter), gone, true
	}
	return time.Time{}, "", false
}

// rotation is what one rotation run of family, started at start and ended
// by end, may do to each image of the family and to each orphan of an
// interrupted release into it.
func (w world) rotation(family string, pol lifecycle.Policy, start, end time.Time) map[string]verdict {
	out := map[string]verdict{}
	head, hasHead := w.oracleHead(family)
	keep := max(pol.KeepActive, 1)
	kept := map[string]int{}
	n := 0
	for _, img := range w.members(family) {
		if isReady(img) && orActive(img.State) == "ACTIVE" {
			n++
			if n <= keep {
				kept[img.Name] = n
			}
		}
	}
	for _, img := range w.members(family) {
		st := orActive(img.State)
		isHead := hasHead && img.Name == head.Name
		v := verdict{may: map[string]bool{st: true}}
		created := parseT(img.Created)
		label, labelled := protectValue(img, pol)
		users := w.users(img, isHead)
		switch {
		case isHead:
			v.protected = "the family's head"
		case kept[img.Name] > 0:
			v.protected = fmt.Sprintf("ACTIVE image %d of the keep_active %d newest", kept[img.Name], keep)
		case created != nil && created.After(start.Add(-pol.MinAge)):
			v.protected = "younger than min_age"
		case labelled:
			v.protected = fmt.Sprintf("the protect label %s=%q", pol.ProtectLabel, label)
		case pol.CheckInUse && len(users) > 0:
			v.protected = "in use by " + strings.Join(users, ", ")
		case !isReady(img):
			v.protected = "not READY"
		case st == "ACTIVE":
			v.may["DEPRECATED"] = true
		default:
			if t, next, ok := due(img, pol, start); ok && !t.After(end) {
				v.may[next] = true
			}
		}
		if _, known := stateRank[st]; !known {
			v.protected = "a state Compute Engine does not define"
		}
		out[img.Name] = v
	}
	// Orphans: in no family, marked as being released into this one.
	grace := pol.OrphanGrace
	if grace <= 0 {
		grace = pol.MinAge
	}
	for _, img := range w.images {
		if img.Family != "" || img.Labels[lifecycle.LabelReleasingInto] != family {
			continue
		}
		v := verdict{may: map[string]bool{orActive(img.State): true}}
		_, labelled := protectValue(img, pol)
		created := parseT(img.Created)
		switch {
		case labelled:
			v.protected = "an orphan with the protect label"
		case pol.CheckInUse && len(w.users(img, false)) > 0:
			v.protected = "an orphan in use"
		case isReady(img) && created != nil && !created.After(end.Add(-grace)):
			v.may[gone] = true
		}
		out[img.Name] = v
	}
	return out
}

// rollback is what one `imagefamily rollback --to target` (any target: the
// newest ACTIVE image older than the head when "") may change: the ACTIVE
// images newer than the target, to DEPRECATED (OBSOLETE with block), each
// replaced by the target or its re-released copy; nothing else. With a
// newer image carrying the protect label (and no --force) it may change
// nothing. target is "" when the family has nothing to roll back to.
func (w world) rollback(family, to string, block bool, pol lifecycle.Policy) (target string, may map[string]string) {
	members := w.members(family)
	head, hasHead := w.oracleHead(family)
	var tgt image
	switch {
	case to != "":
		tgt = w.images[to]
	case hasHead:
		for _, img := range members {
			if isReady(img) && orActive(img.State) == "ACTIVE" && newerImage(head, img) > 0 && img.Labels[lifecycle.LabelRevokedReason] == "" {
				tgt = img
				break
			}
		}
	}
	if tgt.Name == "" {
		return "", nil
	}
	// A copy an earlier run of this rollback made is part of the target.
	floor := tgt
	for _, img := range members {
		if img.Labels[lifecycle.LabelRollbackOf] == tgt.Name && orActive(img.State) == "ACTIVE" && newerImage(img, floor) > 0 {
			floor = img
		}
	}
	into := "DEPRECATED"
	if block {
		into = "OBSOLETE"
	}
	may = map[string]string{}
	for _, img := range members {
		if orActive(img.State) != "ACTIVE" || img.Name == floor.Name || img.Labels[lifecycle.LabelRollbackOf] == tgt.Name {
			continue
		}
		if newerImage(img, tgt) > 0 {
			if _, labelled := protectValue(img, pol); labelled {
				return tgt.Name, map[string]string{} // refused: nothing may change
			}
			may[img.Name] = into
		}
	}
	return tgt.Name, may
}
