package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

const revokeUsage = `usage: imagefamily revoke --project P IMAGE [--descendants] [--reason TEXT] [--force] [flags]

Makes IMAGE OBSOLETE now (new uses are rejected) and labels it
imagefamily-revoked-reason=<TEXT, sanitised>. Refuses to leave a family with no
ACTIVE image unless --force. With --descendants, also every image whose lineage
labels lead back to IMAGE (builds on it, promoted and rollback copies) through
any number of generations and families in the project.

flags:
  --descendants   also revoke every descendant of IMAGE
  --reason TEXT   why (written as a label value: lower case, "-" for other characters; default "unspecified")
  --force         revoke even when a family is left with no ACTIVE image
  --dry-run       print what would be revoked, change nothing
` + commonUsage

// revokeOutput is revoke's JSON output (docs/cli.md).
type revokeOutput struct {
	Project string         `json:"project"`
	Image   string         `json:"image"`
	Reason  string         `json:"reason"` // the label value written
	At      time.Time      `json:"at"`
	DryRun  bool           `json:"dry_run"`
	Forced  []string       `json:"families_left_without_active"`
	Results []revokeResult `json:"results"`
}

type revokeResult struct {
	Image      string             `json:"image"`
	Family     string             `json:"family"`
	Generation int                `json:"generation"` // 0 for IMAGE itself
	Relation   lifecycle.Relation `json:"relation,omitempty"`
	Parent     string             `json:"parent,omitempty"`
	From       lifecycle.State    `json:"from"`
	To         lifecycle.State    `json:"to"`
	Done       bool               `json:"done"`
	Error      string             `json:"error,omitempty"`
}

func cmdRevoke(e *env, args []string) int {
	var (
		common      commonFlags
		descendants bool
		reason      string
		force       bool
		dryRun      bool
	)
	fs := newFlagSet("revoke")
	common.register(fs)
	fs.Var(boolFlag{&descendants}, "descendants", "")
	fs.StringVar(&reason, "reason", "", "")
	fs.Var(boolFlag{&force}, "force", "")
	fs.Var(boolFlag{&dryRun}, "dry-run", "")
	pos, exit, done := e.parse(fs, args, revokeUsage)
	if done {
		return exit
	}
	if err := common.check(e); err != nil {
		return e.fail(err, exitUsage)
	}
	if len(pos) != 1 {
		return e.fail(usagef("revoke takes exactly one IMAGE, got %d arguments: imagefamily revoke --project P IMAGE", len(pos)), exitUsage)
	}
	ref, err := lifecycle.ParseImageRef(pos[0])
	if err != nil {
		return e.fail(usagef("IMAGE %q: %v", pos[0], err), exitUsage)
	}
	if ref.Family {
		return e.fail(usagef("IMAGE %q follows a family: name one image", pos[0]), exitUsage)
	}
	project := common.project
	if ref.Project != "" {
		project = ref.Project
	}
	label := lifecycle.SanitizeLabelValue(reason)
	if label == "" {
		label = "unspecified"
	}
	c, err := common.client(e)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	defer c.Close()

	root, err := c.GetImage(e.ctx, project, ref.Name)
	if errors.Is(err, gce.ErrNotFound) {
		return e.fail(usagef("IMAGE %q: no such image in project %s", pos[0], project), exitUsage)
	}
	if err != nil {
		return e.fail(err, exitPartial)
	}
	targets := []revokeResult{{Image: root.Name, Family: root.Family}}
	images := map[string]lifecycle.Image{root.Name: root}
	var listed []lifecycle.Image // the project's images, read once
	if descendants {
		if listed, err = c.ListImages(e.ctx, project, ""); err != nil {
			return e.fail(fmt.Errorf("listing the images of project %s: %w", project, err), exitPartial)
		}
		for _, d := range lifecycle.Descendants(listed, root.Ref()) {
			if _, seen := images[d.Image.Name]; seen || d.Image.Project != project {
				continue
			}
			images[d.Image.Name] = d.Image
			targets = append(targets, revokeResult{Image: d.Image.Name, Family: d.Image.Family, Generation: d.Generation,
				Relation: d.Relation, Parent: d.Parent.Name})
		}
	}

	now := clock().UTC()
	out := revokeOutput{Project: project, Image: root.Name, Reason: label, At: now, DryRun: dryRun, Forced: []string{}}

	// Families that would be left with no ACTIVE image, checked before
	// anything changes.
	orphaned, err := familiesLeftWithoutHead(e, c, project, targets, images, listed)
	if err != nil {
		return e.fail(err, exitPartial)
	}
	if len(orphaned) > 0 {
		if !force {
			return e.fail(usagef("revoking %s would leave family %s of project %s with no ACTIVE image: release or roll back to another image first, or pass --force",
				root.Name, orphaned[0], project), exitUsage)
		}
		out.Forced = orphaned
		for _, f := range orphaned {
			e.warn("--force: family %s of project %s is left with no ACTIVE image", f, project)
		}
	}

	plan := lifecycle.RotationPlan{Project: project, Now: now}
	for i, t := range targets {
		img := images[t.Image]
		entry := revokeEntry(img, label, now)
		targets[i].From, targets[i].To = entry.From, entry.To
		plan.Entries = append(plan.Entries, entry)
	}
	if !dryRun {
		rep := apply.Apply(e.ctx, c, project, plan, apply.Options{})
		for i, r := range rep.Results {
			targets[i].Done = r.Err == nil
			if r.Err != nil {
				targets[i].Error = oneLine(r.Err.Error())
			}
		}
	}
	out.Results = targets
	if common.format == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return e.fail(err, exitPartial)
		}
	} else {
		writeRevokeTable(e.stdout, out)
	}
	for _, t := range targets {
		if t.Error != "" {
			return exitPartial
		}
	}
	return exitOK
}

// revokeEntry is the step that revokes img: OBSOLETE now (earlier dates
// kept, a later obsolete date brought forward) and the reason label. An
// image already OBSOLETE or DELETED keeps its status and gets the label.
func revokeEntry(img lifecycle.Image, label string, now time.Time) lifecycle.Entry {
	d := img.Deprecation
	labels := maps.Clone(img.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[lifecycle.LabelRevokedReason] = label
	e := lifecycle.Entry{Image: img, From: img.State(), Labels: labels, Reason: "revoked: " + label}
	if img.State().Rank() >= lifecycle.StateObsolete.Rank() {
		e.Action, e.To, e.Deprecation = lifecycle.ActionSchedule, img.State(), d
		return e
	}
	e.Action, e.To = lifecycle.ActionObsolete, lifecycle.StateObsolete
	e.Deprecation = lifecycle.Deprecation{State: lifecycle.StateObsolete, Replacement: d.Replacement,
		Deprecated: earliest(d.Deprecated, now), Obsolete: earliest(d.Obsolete, now), Deleted: d.Deleted}
	return e
}

func earliest(have *time.Time, t time.Time) *time.Time {
	if have != nil && have.Before(t) {
		v := *have
		return &v
	}
	return &t
}

// familiesLeftWithoutHead lists the families that have an ACTIVE head now
// and would have none once the targets are OBSOLETE.
func familiesLeftWithoutHead(e *env, c gce.Compute, project string, targets []revokeResult, images map[string]lifecycle.Image, listed []lifecycle.Image) ([]string, error) {
	var families []string
	for _, t := range targets {
		if t.Family != "" && images[t.Image].State() == lifecycle.StateActive && !slices.Contains(families, t.Family) {
			families = append(families, t.Family)
		}
	}
	var out []string
	for _, f := range families {
		var members []lifecycle.Image
		if listed != nil {
			for _, img := range listed {
				if img.Family == f {
					members = append(members, img)
				}
			}
		} else {
			var err error
			if members, err = c.ListFamily(e.ctx, project, f); err != nil {
				return nil, fmt.Errorf("reading family %s of project %s: %w", f, project, err)
			}
		}
		if _, ok := lifecycle.Head(members, f); !ok {
			continue // no head now: revoking cannot make it worse
		}
		after := make([]lifecycle.Image, 0, len(members))
		for _, img := range members {
			if _, revoked := images[img.Name]; revoked {
				img = img.Clone()
				img.Deprecation.State = lifecycle.StateObsolete
			}
			after = append(after, img)
		}
		if _, ok := lifecycle.Head(after, f); !ok {
			out = append(out, f)
		}
	}
	return out, nil
}

func writeRevokeTable(w io.Writer, o revokeOutput) {
	mode := ""
	if o.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "revoke %s in project %s at %s, reason %s%s\n", o.Image, o.Project, o.At.Format(time.RFC3339), o.Reason, mode)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tFAMILY\tGENERATION\tLINEAGE\tFROM -> TO\tOUTCOME")
	for _, r := range o.Results {
		from := "-"
		if r.Generation > 0 {
			from = string(r.Relation) + " " + r.Parent
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s -> %s\t%s\n", r.Image, orDash(r.Family), r.Generation, from, r.From, r.To, outcome(o.DryRun, r.Done, r.Error))
	}
	_ = tw.Flush()
}
