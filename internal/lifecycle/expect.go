package lifecycle

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// A plan is a claim about the world at the moment it was read, and people,
// gcloud, Terraform and other runs act while it is carried out. Every planned
// action therefore carries Preconditions: the facts, as read, that the
// decision relied on. The applier re-reads (family listings, getFromFamily,
// the in-use scan) and sends an action only while its preconditions hold
// against a picture read at most a couple of seconds earlier; an action whose
// preconditions no longer hold is skipped and reported as such, never sent.

// Preconditions are what one action relies on.
type Preconditions struct {
	// Images are the images the action relies on, as read: the image acted
	// on first (when there is one), then any other (a rollback relies on its
	// target staying ACTIVE).
	Images []ImageExpect
	// Head, when set, is what the family's getFromFamily must answer.
	Head *HeadExpect
	// Unused: the in-use scan must show no user of the image acted on. The
	// applier asks for a scan no older than its bound for destructive
	// actions (Action.Destructive).
	Unused bool
}

// Refs are the images the preconditions read, in order.
func (p Preconditions) Refs() []ImageRef {
	refs := make([]ImageRef, len(p.Images))
	for i, want := range p.Images {
		refs[i] = want.Ref
	}
	return refs
}

// ImageExpect is one image as the plan read it. Every field is compared;
// labels only for the keys listed.
type ImageExpect struct {
	Ref ImageRef
	// ID is the image's numeric id: a new image under the same name (deleted
	// and made again) is another image. 0 is not compared.
	ID uint64
	// Family is the family the image must be in; "" means in no family.
	Family string
	// Status is the image's status as read ("" is READY).
	Status string
	// Deprecation is the deprecation status as read: state, replacement and
	// the three dates.
	Deprecation Deprecation
	// Labels are the label keys the decision read, with their values as
	// read; a key mapped to nil must be absent.
	Labels map[string]*string
}

// HeadExpect is what a family resolves to: Name, or nothing when "".
type HeadExpect struct {
	Project string
	Family  string
	Name    string
}

// ChangedError says which precondition no longer holds. The applier reports
// the action as skipped with it; it is not a failure.
type ChangedError struct {
	What string
}

func (e *ChangedError) Error() string { return "changed since planned (" + e.What + ")" }

func changed(format string, args ...any) error {
	return &ChangedError{What: fmt.Sprintf(format, args...)}
}

// ExpectImage is img as read, relying on the given label keys.
func ExpectImage(img Image, labelKeys ...string) ImageExpect {
	x := ImageExpect{Ref: img.Ref(), ID: img.ID, Family: img.Family, Status: img.Status,
		Deprecation: img.Deprecation.clone(), Labels: map[string]*string{}}
	for _, k := range labelKeys {
		if k == "" {
			continue
		}
		if v, ok := img.Labels[k]; ok {
			x.Labels[k] = &v
		} else {
			x.Labels[k] = nil
		}
	}
	return x
}

// Check compares the image as read now (found false: it is not where the
// plan read it: deleted, or moved out of the family listing) with the
// expectation.
func (x ImageExpect) Check(now Image, found bool) error {
	name := x.Ref.Name
	switch {
	case !found && x.Family != "":
		return changed("%s is no longer in family %s", name, x.Family)
	case !found:
		return changed("%s no longer exists", name)
	case x.ID != 0 && now.ID != 0 && now.ID != x.ID:
		return changed("%s is another image now: id %d, planned on id %d", name, now.ID, x.ID)
	case now.Family != x.Family:
		return changed("%s is in family %s now, planned in %s", name, orNone(now.Family), orNone(x.Family))
	case normalStatus(now.Status) != normalStatus(x.Status):
		return changed("%s is %s now, planned while %s", name, normalStatus(now.Status), normalStatus(x.Status))
	}
	if err := x.checkDeprecation(now.Deprecation); err != nil {
		return err
	}
	return x.CheckLabels(now.Labels, nil)
}

// CheckLabels compares the labels the expectation relies on with labels (as
// read with their fingerprint, right before a label write), leaving out the
// keys in ours: the write sets them itself.
func (x ImageExpect) CheckLabels(labels map[string]string, ours map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(x.Labels)) {
		if _, mine := ours[k]; mine {
			continue
		}
		if err := x.checkLabel(k, labels); err != nil {
			return err
		}
	}
	return nil
}

func (x ImageExpect) checkLabel(k string, labels map[string]string) error {
	name, want := x.Ref.Name, x.Labels[k]
	got, ok := labels[k]
	switch {
	case want == nil && ok:
		return changed("%s now has label %s=%q", name, k, got)
	case want != nil && !ok:
		return changed("%s lost label %s=%q", name, k, *want)
	case want != nil && got != *want:
		return changed("%s: label %s is %q now, planned with %q", name, k, got, *want)
	}
	return nil
}

func (x ImageExpect) checkDeprecation(now Deprecation) error {
	want, name := x.Deprecation, x.Ref.Name
	if now.State.Normal() != want.State.Normal() {
		return changed("%s is %s now, planned while %s", name, now.State.Normal(), want.State.Normal())
	}
	if !sameImageRef(now.Replacement, want.Replacement, x.Ref.Project) {
		return changed("%s: its replacement is %s now, planned with %s", name, orNone(now.Replacement), orNone(want.Replacement))
	}
	for _, d := range []struct {
		what      string
		now, want *time.Time
	}{{"deprecated", now.Deprecated, want.Deprecated}, {"obsolete", now.Obsolete, want.Obsolete}, {"deleted", now.Deleted, want.Deleted}} {
		if !sameTime(d.now, d.want) {
			return changed("%s: its %s date is %s now, planned with %s", name, d.what, stampOrNone(d.now), stampOrNone(d.want))
		}
	}
	return nil
}

// Check compares what the family resolves to now (found false: nothing)
// with the expectation.
func (h HeadExpect) Check(name string, found bool) error {
	if !found {
		name = ""
	}
	if name == h.Name {
		return nil
	}
	return changed("family %s resolves to %s now, planned with %s", h.Family, orNone(name), orNone(h.Name))
}

// CheckUnused reports a user of the image found by a scan made after the plan.
func CheckUnused(name string, uses []Use) error {
	if len(uses) == 0 {
		return nil
	}
	return changed("%s is in use now, by %s", name, usesString(uses))
}

func sameImageRef(a, b, project string) bool {
	if a == b {
		return true
	}
	if a == "" || b == "" {
		return false
	}
	ra, ea := ParseImageRef(a)
	rb, eb := ParseImageRef(b)
	if ea != nil || eb != nil {
		return false
	}
	return ra.WithDefaultProject(project) == rb.WithDefaultProject(project)
}

func sameTime(a, b *time.Time) bool {
	switch {
	case a == nil || b == nil:
		return a == nil && b == nil
	default:
		return a.Equal(*b)
	}
}

func normalStatus(s string) string {
	if s == "" {
		return StatusReady
	}
	return s
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return s
}

func stampOrNone(t *time.Time) string {
	if t == nil {
		return "(none)"
	}
	return textfmt.Time(*t)
}
