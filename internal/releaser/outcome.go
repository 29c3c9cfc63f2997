package releaser

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/atomicfile"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// ReportFormatVersion is the report_file's format_version. It changes only
// when a field is removed or changes meaning; fields may be added. The
// format is docs/schemas/release-report.schema.json.
const ReportFormatVersion = 1

// Outcome is what a release did; its JSON form is the report_file:
//
//	{"format_version": 1, "project": "acme-images", "family": "app-nginx", "image": "debian-12-nginx-1-26-v20261126t064730",
//	 "self_link": "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/...",
//	 "built_image": "...", "built_family": "...", "renamed": false, "built_deleted": false,
//	 "parent": "projects/acme-images/global/images/base-...", "parent_family": "base-debian-12",
//	 "previous_head": "...", "head": "...", "raced": false,
//	 "released": true, "release_unconfirmed": false, "dry_run": false,
//	 "released_at": "2026-11-26T06:47:30.000Z", "labels": {...},
//	 "content_digest": "sha256-...", "unchanged": false,
//	 "plan": {"head": "...", "actions": {"deprecate": 1}, "untouched": 2},
//	 "rotation": <rotation report, as `imagefamily rotate --json` writes it> | null,
//	 "rotation_failed": false, "warnings": [], "error": "..."}
//
// error is absent unless the release failed (or, in a dry run, would fail).
// Times are RFC 3339 UTC with milliseconds (textfmt.Instant), the rotation's
// too.
type Outcome struct {
	Project    string `json:"project"`
	Family     string `json:"family"`
	Image      string `json:"image"`
	SelfLink   string `json:"self_link"`
	BuiltImage string `json:"built_image"`
	// Renamed: the image released is a copy of the built one under the
	// conventional name (rename = "copy").
	Renamed bool `json:"renamed"`
	// BuiltFamily is the family the built image was in when the release
	// read it ("" for none, or when it could not be read): a family the
	// builder put it in (googlecompute's image_family).
	BuiltFamily string `json:"built_family,omitempty"`
	// BuiltDeleted: the built image was deleted after its copy was released.
	BuiltDeleted bool   `json:"built_deleted"`
	Parent       string `json:"parent,omitempty"`
	ParentFamily string `json:"parent_family,omitempty"`
	// PreviousHead is what the family resolved to before the release; ""
	// for a first release (or when it could not be read).
	PreviousHead string `json:"previous_head"`
	// Head is what the family resolved to after the release; another image
	// than Image when Raced.
	Head  string `json:"head"`
	Raced bool   `json:"raced"`
	// Released: the family holds the image (the move succeeded, or it was
	// there already). A released image is never deleted by Packer.
	Released bool `json:"released"`
	// ReleaseUnconfirmed: the move reported an error and the image could not
	// be read back; it is kept as if released.
	ReleaseUnconfirmed bool       `json:"release_unconfirmed"`
	DryRun             bool       `json:"dry_run"`
	ReleasedAt         *time.Time `json:"released_at"`
	// Labels are the labels written (or, in a dry run, that would be).
	Labels map[string]string `json:"labels"`
	// ContentDigest is the content manifest's digest (lifecycle.ContentDigest),
	// "" without content_manifest.
	ContentDigest string `json:"content_digest,omitempty"`
	// Unchanged: the build repeats the family head's content (Head): the
	// family was not moved nor rotated, and the built image was deleted
	// (BuiltDeleted) unless a warning says why not.
	Unchanged      bool          `json:"unchanged"`
	Plan           *PlanSummary  `json:"plan"`
	Rotation       *apply.Report `json:"rotation"`
	RotationFailed bool          `json:"rotation_failed"`
	Warnings       []string      `json:"warnings"`
	Error          string        `json:"error,omitempty"`
}

// PlanSummary is a rotation plan in a few numbers.
type PlanSummary struct {
	Head string `json:"head"`
	// Actions counts the plan's actions by kind (deprecate, obsolete,
	// mark-deleted, purge, schedule).
	Actions map[string]int `json:"actions"`
	// Untouched counts the images the plan leaves alone.
	Untouched int `json:"untouched"`
}

// String is e.g. "head app-v3: deprecate 1, purge 1; 2 untouched".
func (p PlanSummary) String() string {
	head := p.Head
	if head == "" {
		head = "(none)"
	}
	kinds := make([]string, 0, len(p.Actions))
	for k := range p.Actions {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, p.Actions[k]))
	}
	actions := "no actions"
	if len(parts) > 0 {
		actions = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("head %s: %s; %d untouched", head, actions, p.Untouched)
}

func summarize(plan lifecycle.RotationPlan) *PlanSummary {
	s := &PlanSummary{Head: plan.Head, Actions: map[string]int{}}
	for _, e := range plan.Entries {
		if e.Action == lifecycle.ActionNone {
			s.Untouched++
			continue
		}
		s.Actions[string(e.Action)]++
	}
	return s
}

func newOutcome(req Request) *Outcome {
	return &Outcome{
		Project: req.Project, Family: req.Family, Image: req.Image, BuiltImage: req.Image,
		SelfLink: lifecycle.ImageRef{Project: req.Project, Name: req.Image}.SelfLink(),
		DryRun:   req.DryRun, Warnings: []string{},
	}
}

// MarshalJSON writes the outcome with its format_version first and its
// times as textfmt.Instant: one precision in the whole report.
func (o Outcome) MarshalJSON() ([]byte, error) {
	type plain Outcome // the same fields, without this method
	return json.Marshal(struct {
		FormatVersion int `json:"format_version"`
		plain
		ReleasedAt *textfmt.Instant `json:"released_at"`
	}{FormatVersion: ReportFormatVersion, plain: plain(o), ReleasedAt: textfmt.AtPtr(o.ReleasedAt)})
}

// WriteFile writes the outcome as indented JSON to path, creating its
// directory, through a temporary file so that a reader never sees half.
func (o *Outcome) WriteFile(path string) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o644)
}
