package reliability

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// This file is the independent model: it reads the emulator's state
// directly, converts it to lifecycle snapshots with its own code (not
// internal/gce's), and checks the invariants of package reliability's
// documentation.

// image is one image as the invariants compare it.
type image struct {
	Name, Family, Status, Created        string
	State, Replacement                   string
	Deprecated, Obsolete, Deleted        string
	Labels                               map[string]string
	Fingerprint, SourceImage, Descr, Arc string
	ID                                   uint64
}

// world is the emulator's state of the test project.
type world struct {
	images    map[string]image
	templates []use // instance templates (global and regional)
	instances []use // instances, with the image their boot disk came from
}

type use struct {
	u   lifecycle.Use
	src string
}

// readWorld reads the emulator's state directly, bypassing every fault.
func readWorld(t testing.TB, e *emu) world {
	t.Helper()
	st, err := e.srv.SnapshotState()
	if err != nil {
		t.Fatal(err)
	}
	return worldOf(t, st)
}

func worldOf(t testing.TB, st emulator.State) world {
	t.Helper()
	w := world{images: map[string]image{}}
	ps := st.Projects[project]
	for _, raw := range ps.Images {
		var img computepb.Image
		if err := protojson.Unmarshal(raw, &img); err != nil {
			t.Fatal(err)
		}
		d := img.GetDeprecated()
		w.images[img.GetName()] = image{
			Name: img.GetName(), Family: img.GetFamily(), Status: img.GetStatus(), Created: img.GetCreationTimestamp(),
			State: d.GetState(), Replacement: d.GetReplacement(), Deprecated: d.GetDeprecated(), Obsolete: d.GetObsolete(), Deleted: d.GetDeleted(),
			Labels: img.GetLabels(), Fingerprint: img.GetLabelFingerprint(), SourceImage: img.GetSourceImage(),
			Descr: img.GetDescription(), Arc: img.GetArchitecture(), ID: img.GetId(),
		}
	}
	for _, list := range []struct {
		raws []jsonRaw
		kind lifecycle.UseKind
	}{{raws(ps.InstanceTemplates), lifecycle.UseInstanceTemplate}, {raws(ps.RegionInstanceTemplates), lifecycle.UseRegionInstanceTemplate}} {
		for _, raw := range list.raws {
			var tpl computepb.InstanceTemplate
			if err := protojson.Unmarshal(raw, &tpl); err != nil {
				t.Fatal(err)
			}
			for _, d := range tpl.GetProperties().GetDisks() {
				if src := d.GetInitializeParams().GetSourceImage(); src != "" {
					w.templates = append(w.templates, use{lifecycle.Use{Kind: list.kind, Project: project, Name: tpl.GetName()}, src})
				}
			}
		}
	}
	diskImage := map[string]string{}
	for _, raw := range ps.Disks {
		var d computepb.Disk
		if err := protojson.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		diskImage[lastSegments(d.GetSelfLink(), 2)] = d.GetSourceImage()
	}
	for _, raw := range ps.Instances {
		var in computepb.Instance
		if err := protojson.Unmarshal(raw, &in); err != nil {
			t.Fatal(err)
		}
		for _, d := range in.GetDisks() {
			if src := diskImage[lastSegments(d.GetSource(), 2)]; d.GetBoot() && src != "" {
				w.instances = append(w.instances, use{lifecycle.Use{Kind: lifecycle.UseInstance, Project: project, Name: in.GetName(), Zone: zone}, src})
			}
		}
	}
	return w
}

type jsonRaw = []byte

func raws[T ~[]byte](in []T) []jsonRaw {
	out := make([]jsonRaw, len(in))
	for i, r := range in {
		out[i] = r
	}
	return out
}

func lastSegments(s string, n int) string {
	parts := strings.Split(strings.TrimRight(s, "/"), "/")
	if len(parts) > n {
		parts = parts[len(parts)-n:]
	}
	return strings.Join(parts, "/")
}

func parseT(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil
	}
	return &t
}

// snapshot converts the world's view of family into a lifecycle.Snapshot.
func (w world) snapshot(t testing.TB, family string) lifecycle.Snapshot {
	t.Helper()
	s := lifecycle.Snapshot{Project: project, Family: family}
	for _, name := range slices.Sorted(maps.Keys(w.images)) {
		img := w.images[name]
		if img.Family != family {
			continue
		}
		li := lifecycle.Image{Name: img.Name, ID: img.ID, Project: project, Family: img.Family, Status: img.Status,
			Labels: maps.Clone(img.Labels), SelfLink: "https://www.googleapis.com/compute/v1/projects/" + project + "/global/images/" + img.Name}
		if c := parseT(img.Created); c != nil {
			li.CreatedAt = *c
		}
		li.Deprecation = lifecycle.Deprecation{State: lifecycle.State(img.State), Replacement: img.Replacement,
			Deprecated: parseT(img.Deprecated), Obsolete: parseT(img.Obsolete), Deleted: parseT(img.Deleted)}
		s.Images = append(s.Images, li)
	}
	for _, u := range append(slices.Clone(w.templates), w.instances...) {
		if err := s.AddUse(u.src, u.u); err != nil {
			t.Fatalf("model: use %v of %q: %v", u.u, u.src, err)
		}
	}
	return s
}

// head is what the family resolves to, by the model.
func (w world) head(t testing.TB, family string) (string, bool) {
	h, ok := w.snapshot(t, family).Head()
	return h.Name, ok
}

// protective are the reasons for which a plan keeps an image untouched
// whatever the time: the policy protects it.
var protective = map[lifecycle.Why]bool{
	lifecycle.WhyHead: true, lifecycle.WhyKeepActive: true, lifecycle.WhyMinAge: true, lifecycle.WhyProtected: true,
	lifecycle.WhyInUse: true, lifecycle.WhyNotReady: true, lifecycle.WhyNotInFamily: true, lifecycle.WhyUnknownState: true,
}

// violations collects invariant violations of one check.
type violations struct {
	t    testing.TB
	what string
	n    int
}

func (v *violations) add(format string, args ...any) {
	v.t.Helper()
	v.n++
	v.t.Errorf("INVARIANT VIOLATED (%s): %s", v.what, fmt.Sprintf(format, args...))
}

func (v *violations) done() { stats.checked(v.n) }

// sameExceptWriter compares two images, leaving out the label fingerprint,
// the labels the concurrent writer added after before was read, and the
// family's lease (bookkeeping of the commands on the family's head: it
// changes no image, and a killed run leaves it there until it expires).
func sameExceptWriter(a, b image) (string, bool) {
	strip := func(img image) image {
		img.Fingerprint = ""
		img.Labels = maps.Clone(img.Labels)
		maps.DeleteFunc(img.Labels, func(k, _ string) bool {
			return strings.HasPrefix(k, writerPrefix) || k == lifecycle.LabelLease
		})
		if len(img.Labels) == 0 {
			img.Labels = nil
		}
		return img
	}
	sa, sb := strip(a), strip(b)
	if fmt.Sprint(sa) == fmt.Sprint(sb) {
		return "", true
	}
	return fmt.Sprintf("%+v\n  became %+v", sa, sb), false
}

// checkCommon checks what holds for every run: states forward, dates never
// later, labels kept, images gone only when purgeable, the writer's labels
// there, a family with an ACTIVE image keeps one, and (created) the names of
// the images that appeared. Only the images in purge may disappear.
func checkCommon(v *violations, before, after world, purge map[string]bool, acked map[string]map[string]string, families []string) (created []string) {
	v.t.Helper()
	for name, b := range before.images {
		a, ok := after.images[name]
		if !ok {
			if !purge[name] || b.State != "DELETED" {
				v.add("%s disappeared; it was %s (deleted date %q), and the model planned no purge of it", name, orActive(b.State), b.Deleted)
			}
			continue
		}
		if rb, ra := lifecycle.State(b.State).Rank(), lifecycle.State(a.State).Rank(); ra < rb {
			v.add("%s moved backwards: %s -> %s", name, orActive(b.State), orActive(a.State))
		}
		for _, d := range []struct{ what, b, a string }{{"deprecated", b.Deprecated, a.Deprecated}, {"obsolete", b.Obsolete, a.Obsolete}, {"deleted", b.Deleted, a.Deleted}} {
			tb, ta := parseT(d.b), parseT(d.a)
			switch {
			case tb == nil:
			case ta == nil:
				v.add("%s lost its %s date %s", name, d.what, d.b)
			case ta.After(*tb):
				v.add("%s: %s date moved later: %s -> %s", name, d.what, d.b, d.a)
			}
		}
		for k, val := range b.Labels {
			got, ok := a.Labels[k]
			// The rotator re-stamps rotated-at; a re-run release re-stamps
			// released-at. Every other label keeps its value.
			if k == lifecycle.LabelLease {
				continue // bookkeeping: see sameExceptWriter
			}
			if !ok || (got != val && k != lifecycle.LabelRotatedAt && k != lifecycle.LabelReleasedAt) {
				v.add("%s: label %s=%q became %q (present: %v)", name, k, val, got, ok)
			}
		}
		if a.Family != b.Family && b.Family != "" {
			v.add("%s moved from family %q to %q", name, b.Family, a.Family)
		}
		if a.Created != b.Created || a.ID != b.ID {
			v.add("%s was replaced by another image of the same name", name)
		}
	}
	for name, labels := range acked {
		a, ok := after.images[name]
		if !ok {
			continue // purged: its labels went with it
		}
		for k, val := range labels {
			if a.Labels[k] != val {
				v.add("%s: label %s=%s written by another client during the run is gone (labels now %v)", name, k, val, a.Labels)
			}
		}
	}
	for _, fam := range families {
		if _, had := before.head(v.t, fam); had {
			if _, has := after.head(v.t, fam); !has {
				v.add("family %s had an ACTIVE image and has none now", fam)
			}
		}
	}
	for name := range after.images {
		if _, ok := before.images[name]; !ok {
			created = append(created, name)
		}
	}
	sort.Strings(created)
	return created
}

func orActive(s string) string {
	if s == "" {
		return "ACTIVE"
	}
	return s
}

// checkRotation checks one rotation run (one or more families) against the
// model: lifecycle.Plan on the fault-free snapshot read before the run, at
// the run's start, says what the policy protects.
func checkRotation(t testing.TB, what string, before, after world, pol lifecycle.Policy, start, end time.Time, acked map[string]map[string]string, families []string) {
	t.Helper()
	v := &violations{t: t, what: what}
	defer v.done()
	rotated, purge := map[string]bool{}, map[string]bool{}
	for _, fam := range families {
		plan := lifecycle.Plan(before.snapshot(t, fam), pol, start)
		for _, e := range plan.Entries {
			name := e.Image.Name
			rotated[name] = true
			a, ok := after.images[name]
			switch {
			case e.Action == lifecycle.ActionNone:
				kind := "left alone"
				if protective[e.Why] {
					kind = "protected"
				}
				if !ok {
					v.add("%s is %s (%s: %s) but was deleted", name, kind, e.Why, e.Reason)
				} else if diff, same := sameExceptWriter(before.images[name], a); !same {
					v.add("%s is %s (%s: %s) but changed: %s", name, kind, e.Why, e.Reason, diff)
				}
			case e.Action == lifecycle.ActionPurge:
				purge[name] = true
				if diff, same := sameExceptWriter(before.images[name], a); ok && !same {
					v.add("%s was to be purged, and changed instead: %s", name, diff)
				}
			case !ok:
				v.add("%s was deleted; the plan was %s", name, e.Action)
			case orActive(a.State) != orActive(before.images[name].State) && orActive(a.State) != string(e.To):
				v.add("%s became %s; the plan was %s %s -> %s", name, orActive(a.State), e.Action, e.From, e.To)
			}
		}
		hb, _ := before.head(t, fam)
		if ha, _ := after.head(t, fam); ha != hb {
			v.add("rotation moved the head of family %s from %q to %q", fam, hb, ha)
		}
	}
	for name, b := range before.images {
		if rotated[name] {
			continue
		}
		if a, ok := after.images[name]; !ok {
			v.add("%s, outside the rotated families, was deleted", name)
		} else if diff, same := sameExceptWriter(b, a); !same {
			v.add("%s, outside the rotated families, changed: %s", name, diff)
		}
	}
	if created := checkCommon(v, before, after, purge, acked, families); len(created) > 0 {
		v.add("rotation created images %v", created)
	}
}

// normalize writes the world as a comparable text: every date a run wrote
// (within [from, to] plus 0, obsolete_after or obsolete_after+delete_after)
// becomes "now+K", every imagefamily-rotated-at within the window "now",
// and the writer's labels, fingerprints, ids and creation times of images
// the runs created are left out. Two runs from the same fixture at different
// times normalize alike when they did the same thing.
func normalize(w world, pol lifecycle.Policy, from, to time.Time) string {
	from, to = from.Add(-time.Second), to.Add(time.Second)
	offsets := []struct {
		name string
		d    time.Duration
	}{{"now", 0}, {"now+obsolete_after", pol.ObsoleteAfter}, {"now+obsolete_after+delete_after", pol.ObsoleteAfter + pol.DeleteAfter}}
	date := func(s string) string {
		t := parseT(s)
		if t == nil {
			return s
		}
		for _, o := range offsets {
			if !t.Before(from.Add(o.d)) && !t.After(to.Add(o.d)) {
				return o.name
			}
		}
		return s
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(w.images)) {
		img := w.images[name]
		labels := maps.Clone(img.Labels)
		maps.DeleteFunc(labels, func(k, _ string) bool { return strings.HasPrefix(k, writerPrefix) || k == lifecycle.LabelLease })
		for _, k := range []string{lifecycle.LabelRotatedAt, lifecycle.LabelReleasedAt} {
			if v, ok := labels[k]; ok {
				if lt, err := lifecycle.ParseLabelTimestamp(v); err == nil && !lt.Before(from.Truncate(time.Second)) && !lt.After(to) {
					labels[k] = "now"
				}
			}
		}
		created := img.Created
		if c := parseT(created); c != nil && !c.Before(from) {
			created = "now"
		}
		fmt.Fprintf(&b, "%s family=%s status=%s created=%s state=%s replacement=%s deprecated=%s obsolete=%s deleted=%s labels=%v\n",
			name, img.Family, img.Status, created, orActive(img.State), img.Replacement,
			date(img.Deprecated), date(img.Obsolete), date(img.Deleted), labels)
	}
	return b.String()
}

// diffLines shows the lines of a and b that differ.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	inB := map[string]bool{}
	for _, l := range bl {
		inB[l] = true
	}
	inA := map[string]bool{}
	for _, l := range al {
		inA[l] = true
	}
	var out strings.Builder
	for _, l := range al {
		if !inB[l] {
			out.WriteString("- " + l + "\n")
		}
	}
	for _, l := range bl {
		if !inA[l] {
			out.WriteString("+ " + l + "\n")
		}
	}
	return out.String()
}
