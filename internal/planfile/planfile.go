// Package planfile is the file a dry run writes with --out and `imagefamily
// apply` carries out: a plan to review (in a merge request, say) and apply
// later, like Terraform's plan -out. It holds the planned phases whole, each
// action with the preconditions it relies on, so that the applier carries out
// exactly what was reviewed and skips whatever changed since.
//
// The file's types are the domain's (internal/lifecycle) spelled for JSON:
// the domain stays free of a file format, and the format can keep its
// version while the domain changes. Times are written as textfmt.Stamp
// writes them. docs/schemas/plan.schema.json describes the file.
package planfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// FormatVersion is the version of the file this package writes and the
// only one it reads.
const FormatVersion = 1

// Plan is one command's plan.
type Plan struct {
	FormatVersion int `json:"format_version"`
	// Command is the command that made the plan: rotate, rollback or revoke.
	Command string `json:"command"`
	Project string `json:"project"`
	// PlannedAt is the time the plan was made for (the actions' dates are
	// relative to it).
	PlannedAt textfmt.Instant `json:"planned_at"`
	// Policy is the rotation policy a rotate plan was made with.
	Policy *Policy `json:"policy"`
	// InUseProjects are the projects scanned for users besides Project: the
	// applier scans them again before a destructive action.
	InUseProjects []string `json:"in_use_projects"`
	// Leases are the families whose lease the applier holds while it
	// carries out the plan.
	Leases []FamilyRef `json:"leases"`
	// Parts are carried out one after the other; a rotate plan has one per
	// family.
	Parts []Part `json:"parts"`
	// Rollback and Revoke say what those commands need besides the phases.
	Rollback *Rollback `json:"rollback,omitempty"`
	Revoke   *Revoke   `json:"revoke,omitempty"`
}

// Policy is lifecycle.Policy with its durations written as
// lifecycle.FormatDuration does.
type Policy struct {
	KeepActive    int    `json:"keep_active"`
	MinAge        string `json:"min_age"`
	ObsoleteAfter string `json:"obsolete_after"`
	DeleteAfter   string `json:"delete_after"`
	PurgeAfter    string `json:"purge_after"`
	OrphanGrace   string `json:"orphan_grace"`
	ProtectLabel  string `json:"protect_label"`
	CheckInUse    bool   `json:"check_in_use"`
}

// FamilyRef names a family of a project.
type FamilyRef struct {
	Project string `json:"project"`
	Family  string `json:"family"`
}

// Part is the plan of one family (or, for a revoke, of every family it
// reaches): its phases, as read when.
type Part struct {
	Project string `json:"project"`
	// Family is "" for a part that spans families (revoke).
	Family string `json:"family"`
	// Head is what the family resolved to when it was read.
	Head   string          `json:"head"`
	ReadAt textfmt.Instant `json:"read_at"`
	Phases []Phase         `json:"phases"`
}

// Rollback is what carrying out a rollback plan checks at its end.
type Rollback struct {
	Target       string `json:"target"`
	ExpectedHead string `json:"expected_head"`
	Block        bool   `json:"block"`
	ProtectLabel string `json:"protect_label"`
}

// Revoke is what a revoke plan was asked for.
type Revoke struct {
	Image  string `json:"image"`
	Reason string `json:"reason"`
	// LeftWithoutActive are the families --force let be left with no ACTIVE
	// image.
	LeftWithoutActive []string `json:"left_without_active"`
}

// Phase is a lifecycle.Phase.
type Phase struct {
	Name     string  `json:"name"`
	Required bool    `json:"required"`
	Entries  []Entry `json:"entries"`
}

// Entry is a lifecycle.Entry.
type Entry struct {
	Image       Image             `json:"image"`
	Action      lifecycle.Action  `json:"action"`
	Why         lifecycle.Why     `json:"why"`
	Reason      string            `json:"reason"`
	From        lifecycle.State   `json:"from"`
	To          lifecycle.State   `json:"to"`
	Deprecation Deprecation       `json:"deprecation"`
	Labels      map[string]string `json:"labels"`
	DropLabels  []string          `json:"drop_labels"`
	Copy        *CopySpec         `json:"copy"`
	MoveTo      string            `json:"move_to"`
	Expect      Preconditions     `json:"expect"`
	UsedBy      []Use             `json:"used_by"`
	Next        *textfmt.Instant  `json:"next"`
}

// Image is a lifecycle.Image; its id is a decimal string, as Compute Engine
// writes uint64s.
type Image struct {
	Name             string            `json:"name"`
	ID               string            `json:"id"`
	Project          string            `json:"project"`
	Family           string            `json:"family"`
	Created          textfmt.Instant   `json:"created"`
	Status           string            `json:"status"`
	Deprecation      Deprecation       `json:"deprecation"`
	Labels           map[string]string `json:"labels"`
	LabelFingerprint string            `json:"label_fingerprint"`
	SelfLink         string            `json:"self_link"`
	Architecture     string            `json:"architecture"`
	DiskSizeGB       int64             `json:"disk_size_gb"`
}

// Deprecation is a lifecycle.Deprecation.
type Deprecation struct {
	State       lifecycle.State  `json:"state"`
	Replacement string           `json:"replacement"`
	Deprecated  *textfmt.Instant `json:"deprecated"`
	Obsolete    *textfmt.Instant `json:"obsolete"`
	Deleted     *textfmt.Instant `json:"deleted"`
}

// Ref is a lifecycle.ImageRef.
type Ref struct {
	Project string `json:"project"`
	Name    string `json:"name"`
	Family  bool   `json:"family"`
}

// CopySpec is a lifecycle.CopySpec.
type CopySpec struct {
	Project          string            `json:"project"`
	Name             string            `json:"name"`
	Source           Ref               `json:"source"`
	Family           string            `json:"family"`
	Description      string            `json:"description"`
	Labels           map[string]string `json:"labels"`
	StorageLocations []string          `json:"storage_locations"`
	Architecture     string            `json:"architecture"`
	GuestOsFeatures  []string          `json:"guest_os_features"`
	Licenses         []string          `json:"licenses"`
}

// Preconditions is a lifecycle.Preconditions.
type Preconditions struct {
	Images []ImageExpect `json:"images"`
	Head   *HeadExpect   `json:"head"`
	Unused bool          `json:"unused"`
}

// ImageExpect is a lifecycle.ImageExpect: a label mapped to null must be
// absent.
type ImageExpect struct {
	Ref         Ref                `json:"ref"`
	ID          string             `json:"id"`
	Family      string             `json:"family"`
	Status      string             `json:"status"`
	Deprecation Deprecation        `json:"deprecation"`
	Labels      map[string]*string `json:"labels"`
}

// HeadExpect is a lifecycle.HeadExpect.
type HeadExpect struct {
	Project string `json:"project"`
	Family  string `json:"family"`
	Name    string `json:"name"`
}

// Use is a lifecycle.Use.
type Use struct {
	Kind    lifecycle.UseKind `json:"kind"`
	Project string            `json:"project"`
	Name    string            `json:"name"`
	Zone    string            `json:"zone"`
	Region  string            `json:"region"`
}

// Write writes p as indented JSON with a final newline, format_version set.
func Write(w io.Writer, p Plan) error {
	p.FormatVersion = FormatVersion
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// VersionError is a plan file of a format this build does not read.
type VersionError struct{ Got int }

func (e *VersionError) Error() string {
	if e.Got == 0 {
		return fmt.Sprintf("format_version is missing: not a plan file of imagefamily (this build reads format_version %d)", FormatVersion)
	}
	return fmt.Sprintf("format_version %d: this build of imagefamily reads plan files of format_version %d only; make the plan again with this build", e.Got, FormatVersion)
}

// Read reads a plan file, refusing one of another format_version and any
// field it does not know (a file of a newer format, or edited by hand).
func Read(r io.Reader) (Plan, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Plan{}, err
	}
	var head struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Plan{}, fmt.Errorf("not JSON: %w", err)
	}
	if head.FormatVersion != FormatVersion {
		return Plan{}, &VersionError{Got: head.FormatVersion}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("reading the plan: %w", err)
	}
	switch p.Command {
	case "rotate", "rollback", "revoke":
	default:
		return Plan{}, fmt.Errorf("command %q: a plan file is made by rotate, rollback or revoke", p.Command)
	}
	return p, nil
}

// PolicyOf spells a lifecycle.Policy for the file.
func PolicyOf(p lifecycle.Policy) *Policy {
	return &Policy{KeepActive: p.KeepActive, MinAge: lifecycle.FormatDuration(p.MinAge),
		ObsoleteAfter: lifecycle.FormatDuration(p.ObsoleteAfter), DeleteAfter: lifecycle.FormatDuration(p.DeleteAfter),
		PurgeAfter: lifecycle.FormatDuration(p.PurgeAfter), OrphanGrace: lifecycle.FormatDuration(p.OrphanGrace),
		ProtectLabel: p.ProtectLabel, CheckInUse: p.CheckInUse}
}

// Lifecycle reads the policy back, checked as the CLI checks its flags.
func (p Policy) Lifecycle() (lifecycle.Policy, error) {
	opts := lifecycle.PolicyOptions{KeepActive: &p.KeepActive, MinAge: &p.MinAge, ObsoleteAfter: &p.ObsoleteAfter,
		DeleteAfter: &p.DeleteAfter, PurgeAfter: &p.PurgeAfter, OrphanGrace: &p.OrphanGrace,
		ProtectLabel: &p.ProtectLabel, CheckInUse: &p.CheckInUse}
	return opts.Policy()
}

// PhasesOf spells phases for the file.
func PhasesOf(phases []lifecycle.Phase) []Phase {
	out := make([]Phase, 0, len(phases))
	for _, ph := range phases {
		p := Phase{Name: ph.Name, Required: ph.Required, Entries: make([]Entry, 0, len(ph.Entries))}
		for _, e := range ph.Entries {
			p.Entries = append(p.Entries, entryOf(e))
		}
		out = append(out, p)
	}
	return out
}

// Lifecycle reads the phases back.
func Lifecycle(phases []Phase) ([]lifecycle.Phase, error) {
	out := make([]lifecycle.Phase, 0, len(phases))
	for _, ph := range phases {
		p := lifecycle.Phase{Name: ph.Name, Required: ph.Required}
		if ph.Entries != nil {
			p.Entries = make([]lifecycle.Entry, 0, len(ph.Entries))
		}
		for _, e := range ph.Entries {
			le, err := e.lifecycle()
			if err != nil {
				return nil, fmt.Errorf("phase %q: %w", ph.Name, err)
			}
			p.Entries = append(p.Entries, le)
		}
		out = append(out, p)
	}
	return out, nil
}

func entryOf(e lifecycle.Entry) Entry {
	out := Entry{Image: imageOf(e.Image), Action: e.Action, Why: e.Why, Reason: e.Reason, From: e.From, To: e.To,
		Deprecation: deprecationOf(e.Deprecation), Labels: e.Labels, DropLabels: e.DropLabels, MoveTo: e.MoveTo,
		Expect: preconditionsOf(e.Expect), Next: textfmt.AtPtr(e.Next)}
	if e.Copy != nil {
		c := e.Copy
		out.Copy = &CopySpec{Project: c.Project, Name: c.Name, Source: refOf(c.Source), Family: c.Family,
			Description: c.Description, Labels: c.Labels, StorageLocations: c.StorageLocations,
			Architecture: c.Architecture, GuestOsFeatures: c.GuestOsFeatures, Licenses: c.Licenses}
	}
	if e.UsedBy != nil {
		out.UsedBy = make([]Use, 0, len(e.UsedBy))
		for _, u := range e.UsedBy {
			out.UsedBy = append(out.UsedBy, Use(u))
		}
	}
	return out
}

func (e Entry) lifecycle() (lifecycle.Entry, error) {
	img, err := e.Image.lifecycle()
	if err != nil {
		return lifecycle.Entry{}, err
	}
	pre, err := e.Expect.lifecycle()
	if err != nil {
		return lifecycle.Entry{}, fmt.Errorf("%s %s: %w", e.Action, e.Image.Name, err)
	}
	out := lifecycle.Entry{Image: img, Action: e.Action, Why: e.Why, Reason: e.Reason, From: e.From, To: e.To,
		Deprecation: e.Deprecation.lifecycle(), Labels: e.Labels, DropLabels: e.DropLabels, MoveTo: e.MoveTo,
		Expect: pre, Next: e.Next.Ptr()}
	if c := e.Copy; c != nil {
		out.Copy = &lifecycle.CopySpec{Project: c.Project, Name: c.Name, Source: c.Source.lifecycle(), Family: c.Family,
			Description: c.Description, Labels: c.Labels, StorageLocations: c.StorageLocations,
			Architecture: c.Architecture, GuestOsFeatures: c.GuestOsFeatures, Licenses: c.Licenses}
	}
	if e.UsedBy != nil {
		out.UsedBy = make([]lifecycle.Use, 0, len(e.UsedBy))
		for _, u := range e.UsedBy {
			out.UsedBy = append(out.UsedBy, lifecycle.Use(u))
		}
	}
	return out, nil
}

func imageOf(i lifecycle.Image) Image {
	return Image{Name: i.Name, ID: idOf(i.ID), Project: i.Project, Family: i.Family, Created: textfmt.At(i.CreatedAt),
		Status: i.Status, Deprecation: deprecationOf(i.Deprecation), Labels: i.Labels, LabelFingerprint: i.LabelFingerprint,
		SelfLink: i.SelfLink, Architecture: i.Architecture, DiskSizeGB: i.DiskSizeGB}
}

func (i Image) lifecycle() (lifecycle.Image, error) {
	id, err := parseID(i.ID)
	if err != nil {
		return lifecycle.Image{}, fmt.Errorf("image %s: %w", i.Name, err)
	}
	return lifecycle.Image{Name: i.Name, ID: id, Project: i.Project, Family: i.Family, CreatedAt: i.Created.Time,
		Status: i.Status, Deprecation: i.Deprecation.lifecycle(), Labels: i.Labels, LabelFingerprint: i.LabelFingerprint,
		SelfLink: i.SelfLink, Architecture: i.Architecture, DiskSizeGB: i.DiskSizeGB}, nil
}

func deprecationOf(d lifecycle.Deprecation) Deprecation {
	return Deprecation{State: d.State, Replacement: d.Replacement, Deprecated: textfmt.AtPtr(d.Deprecated),
		Obsolete: textfmt.AtPtr(d.Obsolete), Deleted: textfmt.AtPtr(d.Deleted)}
}

func (d Deprecation) lifecycle() lifecycle.Deprecation {
	return lifecycle.Deprecation{State: d.State, Replacement: d.Replacement, Deprecated: d.Deprecated.Ptr(),
		Obsolete: d.Obsolete.Ptr(), Deleted: d.Deleted.Ptr()}
}

func refOf(r lifecycle.ImageRef) Ref { return Ref{Project: r.Project, Name: r.Name, Family: r.Family} }

func (r Ref) lifecycle() lifecycle.ImageRef {
	return lifecycle.ImageRef{Project: r.Project, Name: r.Name, Family: r.Family}
}

func preconditionsOf(p lifecycle.Preconditions) Preconditions {
	out := Preconditions{Unused: p.Unused}
	if p.Images != nil {
		out.Images = make([]ImageExpect, 0, len(p.Images))
	}
	for _, x := range p.Images {
		out.Images = append(out.Images, ImageExpect{Ref: refOf(x.Ref), ID: idOf(x.ID), Family: x.Family, Status: x.Status,
			Deprecation: deprecationOf(x.Deprecation), Labels: x.Labels})
	}
	if h := p.Head; h != nil {
		out.Head = &HeadExpect{Project: h.Project, Family: h.Family, Name: h.Name}
	}
	return out
}

func (p Preconditions) lifecycle() (lifecycle.Preconditions, error) {
	out := lifecycle.Preconditions{Unused: p.Unused}
	if p.Images != nil {
		out.Images = make([]lifecycle.ImageExpect, 0, len(p.Images))
	}
	for _, x := range p.Images {
		id, err := parseID(x.ID)
		if err != nil {
			return out, fmt.Errorf("expected image %s: %w", x.Ref.Name, err)
		}
		out.Images = append(out.Images, lifecycle.ImageExpect{Ref: x.Ref.lifecycle(), ID: id, Family: x.Family,
			Status: x.Status, Deprecation: x.Deprecation.lifecycle(), Labels: x.Labels})
	}
	if h := p.Head; h != nil {
		out.Head = &lifecycle.HeadExpect{Project: h.Project, Family: h.Family, Name: h.Name}
	}
	return out, nil
}

// idOf writes an image id as Compute Engine does; 0 (unknown) as "".
func idOf(id uint64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatUint(id, 10)
}

func parseID(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("id %q is not a decimal image id", s)
	}
	return id, nil
}
