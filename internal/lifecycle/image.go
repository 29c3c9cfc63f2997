package lifecycle

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"
)

// State is an image's deprecation state.
type State string

const (
	StateActive     State = "ACTIVE"
	StateDeprecated State = "DEPRECATED"
	StateObsolete   State = "OBSOLETE"
	StateDeleted    State = "DELETED"
)

// StatusReady is the only image status that families and rotation consider.
const StatusReady = "READY"

// Normal maps the absent state to ACTIVE, as Compute Engine does.
func (s State) Normal() State {
	if s == "" {
		return StateActive
	}
	return s
}

// Rank orders the states along the life cycle: ACTIVE 0, DEPRECATED 1,
// OBSOLETE 2, DELETED 3; -1 for a state Compute Engine does not define.
func (s State) Rank() int {
	switch s.Normal() {
	case StateActive:
		return 0
	case StateDeprecated:
		return 1
	case StateObsolete:
		return 2
	case StateDeleted:
		return 3
	}
	return -1
}

// Deprecation is an image's deprecation status. The dates are informational:
// Compute Engine never acts on them; the rotator does.
type Deprecation struct {
	State       State // "" means ACTIVE
	Replacement string
	Deprecated  *time.Time
	Obsolete    *time.Time
	Deleted     *time.Time
}

// Image is what the life cycle needs to know about a Compute Engine image.
type Image struct {
	Name        string
	ID          uint64
	Project     string
	Family      string
	CreatedAt   time.Time
	Status      string // READY, PENDING, FAILED, DELETING; "" is taken as READY
	Deprecation Deprecation
	Labels      map[string]string
	// LabelFingerprint is Compute Engine's fingerprint of Labels as read
	// ("" when unknown): a label write can start from it instead of reading
	// the image again.
	LabelFingerprint string
	SelfLink         string
	Architecture     string
	DiskSizeGB       int64
}

// State is the image's deprecation state, ACTIVE when absent.
func (i Image) State() State { return i.Deprecation.State.Normal() }

// Ready reports whether the image finished creation.
func (i Image) Ready() bool { return i.Status == "" || i.Status == StatusReady }

// Ref is the image's reference.
func (i Image) Ref() ImageRef { return ImageRef{Project: i.Project, Name: i.Name} }

// Clone copies the image deeply enough that changing the copy's labels or
// dates leaves the original alone.
func (i Image) Clone() Image {
	i.Labels = maps.Clone(i.Labels)
	i.Deprecation = i.Deprecation.clone()
	return i
}

func (d Deprecation) clone() Deprecation {
	d.Deprecated, d.Obsolete, d.Deleted = clonePtr(d.Deprecated), clonePtr(d.Obsolete), clonePtr(d.Deleted)
	return d
}

func clonePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// UseKind is what kind of resource uses an image.
type UseKind string

const (
	UseInstanceTemplate       UseKind = "instanceTemplate"
	UseRegionInstanceTemplate UseKind = "regionInstanceTemplate"
	UseInstance               UseKind = "instance"
	UseDisk                   UseKind = "disk"
)

// Use is one resource that refers to an image: an instance template (its
// boot disk's sourceImage), or an instance or disk (through the boot disk's
// sourceImage).
type Use struct {
	Kind    UseKind
	Project string
	Name    string
	Zone    string // instances and disks
	Region  string // regional instance templates
}

// String names the user for people: "instance template acme/web-tpl".
func (u Use) String() string {
	kind := map[UseKind]string{
		UseInstanceTemplate:       "instance template",
		UseRegionInstanceTemplate: "regional instance template",
		UseInstance:               "instance",
		UseDisk:                   "disk",
	}[u.Kind]
	if kind == "" {
		kind = string(u.Kind)
	}
	where := u.Project
	if u.Zone != "" {
		where += "/" + u.Zone
	}
	if u.Region != "" {
		where += "/" + u.Region
	}
	return kind + " " + where + "/" + u.Name
}

// Snapshot is one family's images and what uses them, read at one moment.
type Snapshot struct {
	Project string
	Family  string
	Images  []Image
	// Uses lists the users of each image, keyed by the image's reference
	// with the project filled in (AddUse does this).
	Uses map[ImageRef][]Use
	// FamilyUses are templates that follow family/Family: they pin the head,
	// whatever it is.
	FamilyUses []Use
	// HeadRead says HeadName is what Compute Engine's getFromFamily answered
	// when the snapshot was read ("" for nothing: 404). The head is then
	// taken from it, never recomputed: with equal creation times only
	// Compute Engine knows which image it returns. Without it (tests,
	// fixtures) Head computes the head from Images.
	HeadRead bool
	HeadName string
	// Orphans are images in no family that carry imagefamily-releasing-into
	// = Family: releases into the family that were interrupted.
	Orphans []Image
	// Gone are image references read when the snapshot was taken and found
	// not to exist (replacements of images in the family, deleted since).
	Gone map[ImageRef]bool
}

// IsGone reports whether ref (any spelling; no project means the
// snapshot's) was read and found not to exist.
func (s Snapshot) IsGone(ref string) bool {
	r, err := ParseImageRef(ref)
	if err != nil || r.Family {
		return false
	}
	return s.Gone[r.WithDefaultProject(s.Project)]
}

// AddUse records that u refers to the image spelled source (any spelling
// ParseImageRef takes; a reference without a project means u's project). A
// reference to this snapshot's family goes to FamilyUses; one to another
// family is not this snapshot's concern and is dropped.
func (s *Snapshot) AddUse(source string, u Use) error {
	ref, err := ParseImageRef(source)
	if err != nil {
		return err
	}
	ref = ref.WithDefaultProject(u.Project)
	if ref.Family {
		if ref.Name == s.Family && ref.Project == s.Project {
			s.FamilyUses = append(s.FamilyUses, u)
		}
		return nil
	}
	if s.Uses == nil {
		s.Uses = map[ImageRef][]Use{}
	}
	s.Uses[ref] = append(s.Uses[ref], u)
	return nil
}

// UsesOf lists the users of an image, whether they name it or its numeric id.
func (s Snapshot) UsesOf(img Image) []Use {
	ref := s.refOf(img)
	uses := slices.Clone(s.Uses[ref])
	if img.ID != 0 {
		uses = append(uses, s.Uses[ImageRef{Project: ref.Project, Name: strconv.FormatUint(img.ID, 10)}]...)
	}
	return uses
}

// refOf is the image's reference with the snapshot's project as default.
func (s Snapshot) refOf(img Image) ImageRef {
	return img.Ref().WithDefaultProject(s.Project)
}

// inFamily reports whether the image belongs to the snapshot's family.
func (s Snapshot) inFamily(img Image) bool {
	return (s.Family == "" || img.Family == s.Family) &&
		(s.Project == "" || img.Project == "" || img.Project == s.Project)
}

// Head is the image getFromFamily returns: HeadName when the snapshot read
// it (HeadRead), else computed from Images (see Head). A head that
// getFromFamily named but the listing did not show (released between the two
// reads) comes back with only its name, project and family.
func (s Snapshot) Head() (Image, bool) {
	if s.HeadRead {
		if s.HeadName == "" {
			return Image{}, false
		}
		for _, img := range s.Images {
			if s.inFamily(img) && img.Name == s.HeadName {
				return img, true
			}
		}
		return Image{Name: s.HeadName, Project: s.Project, Family: s.Family}, true
	}
	var fam []Image
	for _, img := range s.Images {
		if s.inFamily(img) {
			fam = append(fam, img)
		}
	}
	return Head(fam, "")
}

// Find looks an image up by any reference spelling (or numeric id).
func (s Snapshot) Find(ref string) (Image, bool) {
	r, err := ParseImageRef(ref)
	if err != nil || r.Family {
		return Image{}, false
	}
	r = r.WithDefaultProject(s.Project)
	for _, img := range s.Images {
		ir := s.refOf(img)
		if ir == r || (img.ID != 0 && ir.Project == r.Project && strconv.FormatUint(img.ID, 10) == r.Name) {
			return img, true
		}
	}
	return Image{}, false
}

// Head computes what Compute Engine's getFromFamily returns for family (any
// family when empty): the newest image by creation time among READY images
// whose deprecation state is absent or ACTIVE. Equal creation times, which
// Compute Engine's millisecond timestamps make rare, are broken by the
// larger id and then the larger name so that the answer is deterministic.
func Head(images []Image, family string) (Image, bool) {
	var head Image
	found := false
	for _, img := range images {
		if family != "" && img.Family != family {
			continue
		}
		if !img.Ready() || img.State() != StateActive {
			continue
		}
		if !found || newer(img, head) {
			head, found = img, true
		}
	}
	return head, found
}

// newer orders images as getFromFamily does (see Head).
func newer(a, b Image) bool {
	return compareAge(a, b) > 0
}

func compareAge(a, b Image) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Project, b.Project))
}

// SortNewestFirst sorts images newest first, in Head's order.
func SortNewestFirst(images []Image) {
	slices.SortStableFunc(images, func(a, b Image) int { return compareAge(b, a) })
}

// Clone copies the snapshot deeply enough that changing the copy leaves the
// original alone.
func (s Snapshot) Clone() Snapshot {
	c := s
	c.Images = slices.Clone(s.Images)
	for i, img := range c.Images {
		c.Images[i] = img.Clone()
	}
	if s.Uses != nil {
		c.Uses = make(map[ImageRef][]Use, len(s.Uses))
		for k, v := range s.Uses {
			c.Uses[k] = slices.Clone(v)
		}
	}
	c.FamilyUses = slices.Clone(s.FamilyUses)
	c.Orphans = slices.Clone(s.Orphans)
	for i, img := range c.Orphans {
		c.Orphans[i] = img.Clone()
	}
	c.Gone = maps.Clone(s.Gone)
	return c
}
