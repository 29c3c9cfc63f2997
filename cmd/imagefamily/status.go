package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// statusReport is status's JSON output (docs/schemas/status.schema.json).
type statusReport struct {
	FormatVersion int                `json:"format_version"`
	Project       string             `json:"project"`
	Family        string             `json:"family"`
	At            textfmt.Instant    `json:"at"`
	Head          string             `json:"head"`
	Policy        apply.PolicyReport `json:"policy"`
	// Lease is the family's lease while a command of this project holds
	// it; null otherwise.
	Lease  *statusLease  `json:"lease"`
	Images []statusImage `json:"images"`
	// one is the image `status --family F IMAGE` shows alone.
	one bool
}

type statusLease struct {
	Holder  string          `json:"holder"`
	Expires textfmt.Instant `json:"expires"`
	Image   string          `json:"image"`
}

type statusImage struct {
	Name string `json:"name"`
	// State is the deprecation state, or ORPHANED for an image in no family
	// that an interrupted release was releasing into this family
	// (imagefamily-releasing-into): rotate deletes it once older than the
	// orphan grace.
	State      lifecycle.State  `json:"state"`
	Orphaned   bool             `json:"orphaned"`
	Age        string           `json:"age"`
	Status     string           `json:"status"`
	Created    textfmt.Instant  `json:"created"`
	Deprecated *textfmt.Instant `json:"deprecated"`
	Obsolete   *textfmt.Instant `json:"obsolete"`
	Deleted    *textfmt.Instant `json:"deleted"`
	Head       bool             `json:"head"`
	// ProtectedBy is head, keep_active, min_age, protected (the label) or
	// in_use; null when rotation may move the image.
	ProtectedBy *lifecycle.Why `json:"protected_by"`
	// Why and Reason are the rotation plan's entry for the image.
	Why    lifecycle.Why `json:"why"`
	Reason string        `json:"reason"`
	UsedBy []string      `json:"used_by"`
	Next   statusNext    `json:"next"`
	// ContentDigest is what the release recorded of the build's content
	// manifest (imagefamily-content-digest): a rebuild with the head's
	// digest releases nothing. "" when none was given.
	ContentDigest string `json:"content_digest"`
}

type statusNext struct {
	Action    lifecycle.Action `json:"action"`
	Due       *textfmt.Instant `json:"due"`
	Condition string           `json:"condition"`
}

// stateOrphaned is the STATE status shows for an orphan of an interrupted
// release.
const stateOrphaned lifecycle.State = "ORPHANED"

var protections = map[lifecycle.Why]bool{lifecycle.WhyHead: true, lifecycle.WhyKeepActive: true,
	lifecycle.WhyMinAge: true, lifecycle.WhyProtected: true, lifecycle.WhyInUse: true}

func newStatusCommand(e *env) *cobra.Command {
	var (
		common     commonFlags
		pf         policyFlags
		family     string
		atFlag     string
		allowEmpty bool
	)
	c := &cobra.Command{
		Use:   "status --family F [IMAGE]",
		Short: "every image of a family: state, protection, next step and when",
		Long: `Shows every image of the family, newest first: its state, age, what protects it
from rotation (head, keep_active, min_age, protected, in_use), and its next
step under the policy and when it falls due. --format wide adds the dates and
the reasons; naming one IMAGE shows every field of that image. Nothing is
changed. A family with no images exits 4 (a typo, most often) unless
--allow-empty.`,
		Example: `  imagefamily status --project acme-images --family web
  imagefamily status --family web --format wide
  imagefamily status --family web web-v20261126t064730`,
		Args: maxArgs(1, "status takes one IMAGE at most: imagefamily status --family F [IMAGE]"),
	}
	fs := c.Flags()
	fs.StringVar(&family, "family", "", "the image family `F` (required)")
	fs.StringVar(&atFlag, "at", "", "show the family as rotation would see it at `TIME` (RFC 3339)")
	registerAllowEmpty(fs, &allowEmpty)
	pf.register(fs)
	common.register(fs)
	c.RunE = e.runE(func(pos []string) int {
		if err := common.check(e, fs); err != nil {
			return e.fail(err, exitUsage)
		}
		if err := checkFamily(family); err != nil {
			return e.fail(err, exitUsage)
		}
		pol, inUse, err := pf.read()
		if err != nil {
			return e.fail(err, exitUsage)
		}
		at, err := parseAt(atFlag)
		if err != nil {
			return e.fail(err, exitUsage)
		}
		if at.IsZero() {
			at = clock().UTC()
		}
		cl, err := common.client(e)
		if err != nil {
			return e.fail(err, exitUsage)
		}
		defer cl.Close()

		s, err := apply.Gather(e.ctx, cl, common.project, family, inUse, pol.CheckInUse)
		if err != nil {
			return e.fail(err, exitPartial)
		}
		if len(s.Images) == 0 && !allowEmpty {
			return e.fail(emptyFamily(e, cl, common.project, family), exitEmpty)
		}
		rep := statusOf(s, pol, at)
		if len(pos) == 1 {
			name := pos[0]
			if ref, err := lifecycle.ParseImageRef(name); err == nil && !ref.Family {
				name = ref.Name
			}
			var found []statusImage
			var names []string
			for _, img := range rep.Images {
				names = append(names, img.Name)
				if img.Name == name {
					found = append(found, img)
				}
			}
			if len(found) == 0 {
				msg := fmt.Sprintf("IMAGE %q: not an image of family %s of project %s", pos[0], family, common.project)
				if near := closestNames(name, names, 3); len(near) > 0 {
					msg += "; did you mean " + orList(near) + "?"
				}
				return e.fail(codeError{exitEmpty, fmt.Errorf("%s", msg)}, exitEmpty)
			}
			rep.Images, rep.one = found, true
		}
		if err := e.write(common.format, rep); err != nil {
			return e.fail(err, exitPartial)
		}
		return exitOK
	})
	return c
}

// statusOf is the status of snapshot s under pol at at.
func statusOf(s lifecycle.Snapshot, pol lifecycle.Policy, at time.Time) statusReport {
	plan := lifecycle.Plan(s, pol, at)
	rep := statusReport{FormatVersion: formatVersion, Project: s.Project, Family: s.Family, At: textfmt.At(at), Head: plan.Head,
		Policy: apply.PolicyReportOf(plan.Policy), Images: []statusImage{}}
	if l, ok := lifecycle.HeldByOther(lifecycle.LeasesOf(s.Images), "", clock()); ok {
		rep.Lease = &statusLease{Holder: l.Holder, Expires: textfmt.At(l.Expires), Image: l.Image.Name}
	}
	next := lifecycle.NextSteps(plan)
	for i, en := range plan.Entries {
		img := en.Image
		d := img.Deprecation
		si := statusImage{Name: img.Name, State: img.State(), Status: orDefault(img.Status, lifecycle.StatusReady),
			Created: textfmt.At(img.CreatedAt), Deprecated: textfmt.AtPtr(d.Deprecated), Obsolete: textfmt.AtPtr(d.Obsolete),
			Deleted: textfmt.AtPtr(d.Deleted), Head: img.Name == plan.Head, Why: en.Why, Reason: en.Reason, UsedBy: []string{},
			ContentDigest: img.Labels[lifecycle.LabelContentDigest],
			Next:          statusNext{Action: next[i].Action, Due: textfmt.AtPtr(next[i].Due), Condition: next[i].Condition}}
		si.Age = lifecycle.FormatDuration(at.Sub(img.CreatedAt).Truncate(time.Minute))
		if img.Family != s.Family {
			si.State, si.Orphaned = stateOrphaned, true
		}
		if protections[en.Why] {
			why := en.Why
			si.ProtectedBy = &why
		}
		for _, u := range en.UsedBy {
			si.UsedBy = append(si.UsedBy, u.String())
		}
		rep.Images = append(rep.Images, si)
	}
	return rep
}

func (r statusReport) table(w io.Writer, wide bool, width int) {
	p := r.Policy
	fit := headerWidth(width)
	fmt.Fprint(w, wrapIndented("", fmt.Sprintf("family %s of project %s at %s: head %s", r.Family, r.Project, textfmt.Time(r.At.Time), orDash(r.Head)), fit))
	fmt.Fprint(w, wrapIndented("policy: ", fmt.Sprintf("keep_active %d, min_age %s, obsolete_after %s, delete_after %s, purge_after %s, protect_label %s, check_in_use %t",
		p.KeepActive, p.MinAge, p.ObsoleteAfter, p.DeleteAfter, p.PurgeAfter, orDash(p.ProtectLabel), p.CheckInUse), fit))
	if l := r.Lease; l != nil {
		fmt.Fprint(w, wrapIndented("lease: ", fmt.Sprintf("held by %s until %s (label %s on %s)", l.Holder, textfmt.Time(l.Expires.Time), lifecycle.LabelLease, l.Image), fit))
	}
	if len(r.Images) == 0 {
		fmt.Fprintln(w, "no images")
		return
	}
	if r.one {
		r.Images[0].fields(w, r.At.Time, fit)
		return
	}
	n := len(r.Images)
	col := func(header string, drop int, cell func(statusImage) string) column {
		c := column{header: header, drop: drop, cells: make([]string, n)}
		for i, img := range r.Images {
			c.cells[i] = cell(img)
		}
		return c
	}
	cols := []column{
		col("IMAGE", 0, func(i statusImage) string { return i.Name }),
		col("STATE", 0, stateCell),
	}
	if wide {
		cols = append(cols,
			col("CREATED", 0, func(i statusImage) string { return textfmt.Time(i.Created.Time) }),
			col("DEPRECATED", 0, func(i statusImage) string { return timeOrDash(i.Deprecated) }),
			col("OBSOLETE", 0, func(i statusImage) string { return timeOrDash(i.Obsolete) }),
			col("DELETED", 0, func(i statusImage) string { return timeOrDash(i.Deleted) }),
			col("NEXT", 0, nextCell),
			col("DUE", 0, func(i statusImage) string { return timeOrDash(i.Next.Due) }),
			col("PROTECTED BY", 0, func(i statusImage) string { return protectedBy(i) }),
			col("WHEN", 0, func(i statusImage) string { return i.Next.Condition }))
		cols[len(cols)-1].text = true
		cols[len(cols)-2].text = true
	} else {
		cols = append(cols,
			col("AGE", 2, func(i statusImage) string { return shortAge(r.At.Sub(i.Created.Time)) }),
			col("KEPT", 0, func(i statusImage) string { return protectedWord(i) }),
			col("NEXT", 0, nextCell),
			col("DUE", 1, func(i statusImage) string { return dueCell(i.Next, r.At.Time) }))
	}
	writeTable(w, "", cols, tableWidth(wide, width))
}

// fields writes one image, every field on its own line.
func (i statusImage) fields(w io.Writer, at time.Time, width int) {
	kv := [][2]string{
		{"image", i.Name},
		{"state", string(i.State)},
		{"status", i.Status},
		{"head", strconv.FormatBool(i.Head)},
		{"created", textfmt.Time(i.Created.Time) + " (" + i.Age + " old)"},
		{"deprecated", timeOrDash(i.Deprecated)},
		{"obsolete", timeOrDash(i.Obsolete)},
		{"deleted", timeOrDash(i.Deleted)},
		{"protected by", orDash(string(deref(i.ProtectedBy)))},
		{"why", string(i.Why)},
		{"reason", textfmt.OneLine(i.Reason)},
		{"used by", orDash(strings.Join(i.UsedBy, ", "))},
		{"next", nextCell(i)},
		{"due", timeOrDash(i.Next.Due) + dueSuffix(i.Next, at)},
		{"when", i.Next.Condition},
		{"content", orDash(i.ContentDigest)},
	}
	for _, f := range kv {
		fmt.Fprint(w, wrapIndented(fmt.Sprintf("%-13s ", f[0]+":"), f[1], width))
	}
}

func dueSuffix(n statusNext, at time.Time) string {
	if n.Due == nil {
		return ""
	}
	return " (" + dueCell(n, at) + ")"
}

// headerWidth is what the lines above a table wrap at: the terminal's
// width, else 100.
func headerWidth(width int) int {
	if width <= 0 {
		return 100
	}
	return width
}

func stateCell(i statusImage) string {
	switch {
	case i.Status != lifecycle.StatusReady:
		return string(i.State) + "/" + i.Status
	}
	return string(i.State)
}

func nextCell(i statusImage) string {
	if i.Next.Action == lifecycle.ActionNone {
		return "-"
	}
	return string(i.Next.Action)
}

// dueCell says when the next step falls due, relative to at: "now", "5d",
// "23h"; "later" when it waits on an event (a release) rather than a date,
// "-" when there is no next step.
func dueCell(n statusNext, at time.Time) string {
	if n.Due == nil {
		if n.Action == lifecycle.ActionNone {
			return "-"
		}
		return "later"
	}
	return relative(n.Due, at)
}

// protectedWord is what keeps the image from rotation as one short word
// (the KEPT column): head, newest (keep_active), young (min_age), label
// (the protect label), in-use.
func protectedWord(i statusImage) string {
	if i.ProtectedBy == nil {
		return "-"
	}
	switch *i.ProtectedBy {
	case lifecycle.WhyProtected:
		return "label"
	case lifecycle.WhyKeepActive:
		return "newest"
	case lifecycle.WhyMinAge:
		return "young"
	case lifecycle.WhyInUse:
		return "in-use"
	}
	return string(*i.ProtectedBy)
}

// protectedBy says why rotation leaves the image alone, naming the label or
// the users where there are some.
func protectedBy(img statusImage) string {
	if img.ProtectedBy == nil {
		return "-"
	}
	switch *img.ProtectedBy {
	case lifecycle.WhyProtected, lifecycle.WhyInUse:
		return textfmt.OneLine(img.Reason)
	}
	return string(*img.ProtectedBy)
}

func (r statusReport) rows() [][]string {
	out := [][]string{{"image", "state", "status", "head", "created", "deprecated", "obsolete", "deleted",
		"protected_by", "why", "reason", "used_by", "next", "due", "condition", "content_digest"}}
	for _, i := range r.Images {
		pb := ""
		if i.ProtectedBy != nil {
			pb = string(*i.ProtectedBy)
		}
		out = append(out, []string{i.Name, string(i.State), i.Status, strconv.FormatBool(i.Head), stampI(&i.Created),
			stampI(i.Deprecated), stampI(i.Obsolete), stampI(i.Deleted), pb, string(i.Why), textfmt.OneLine(i.Reason),
			strings.Join(i.UsedBy, " "), string(i.Next.Action), stampI(i.Next.Due), i.Next.Condition, i.ContentDigest})
	}
	return out
}

func deref(w *lifecycle.Why) lifecycle.Why {
	if w == nil {
		return ""
	}
	return *w
}
