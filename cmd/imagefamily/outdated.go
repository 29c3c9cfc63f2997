package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

const outdatedUsage = `usage: imagefamily outdated --project P [--family F] [flags]

Checks each family head of the project (or just F) against its parent family,
read from its lineage labels (imagefamily-parent-image, -family, -project):
a head built on an image that is no longer its family's head is outdated, and
the parent family's head now is what to rebuild on. Parent families in other
projects are read too. Exit code 3 when any head is outdated.

flags:
  --family F    check only this family
` + commonUsage

// maxLineageHops bounds how far up parent families are followed.
const maxLineageHops = 32

// outdatedOutput is outdated's JSON output (docs/cli.md).
type outdatedOutput struct {
	Project  string         `json:"project"`
	Checked  []outdatedHead `json:"heads"`
	Outdated int            `json:"outdated"`
	// Unreadable lists parent families that could not be read.
	Unreadable []familyError `json:"unreadable"`
}

type outdatedHead struct {
	Project        string            `json:"project"`
	Family         string            `json:"family"`
	Head           string            `json:"head"`
	Parent         string            `json:"parent"`
	ParentProject  string            `json:"parent_project"`
	ParentFamily   string            `json:"parent_family"`
	Verdict        lifecycle.Verdict `json:"verdict"`
	RebuildOn      string            `json:"rebuild_on"`
	ParentOutdated bool              `json:"parent_outdated"`
	Reason         string            `json:"reason"`
}

type familyKey struct{ project, family string }

func cmdOutdated(e *env, args []string) int {
	var (
		common commonFlags
		family string
	)
	fs := newFlagSet("outdated")
	common.register(fs)
	fs.StringVar(&family, "family", "", "")
	pos, exit, done := e.parse(fs, args, outdatedUsage)
	if done {
		return exit
	}
	if len(pos) > 0 {
		return e.fail(usagef("unexpected argument %q: outdated takes flags only (--family F)", pos[0]), exitUsage)
	}
	if err := common.check(e); err != nil {
		return e.fail(err, exitUsage)
	}
	if family != "" {
		if err := checkFamily(family); err != nil {
			return e.fail(err, exitUsage)
		}
	}
	c, err := common.client(e)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	defer c.Close()

	project := common.project
	var asked []string
	if family != "" {
		asked = []string{family}
	} else if asked, err = familiesOf(e, c, project, ""); err != nil {
		return e.fail(fmt.Errorf("listing the families of project %s: %w", project, err), exitPartial)
	}
	snaps, unreadable, err := gatherLineage(e, c, project, asked)
	if err != nil {
		return e.fail(err, exitPartial)
	}
	out := outdatedOutput{Project: project, Checked: []outdatedHead{}, Unreadable: unreadable}
	wanted := map[familyKey]bool{}
	for _, f := range asked {
		wanted[familyKey{project, f}] = true
	}
	for _, h := range lifecycle.CheckLineage(snaps) {
		if !wanted[familyKey{h.Project, h.Family}] {
			continue // read as a parent only
		}
		oh := outdatedHead{Project: h.Project, Family: h.Family, Head: h.Head.Name, Parent: h.Parent.Name,
			ParentProject: h.Parent.Project, ParentFamily: h.ParentFamily, Verdict: h.Verdict,
			ParentOutdated: h.ParentOutdated, Reason: h.Reason}
		if h.RebuildOn != nil {
			oh.RebuildOn = h.RebuildOn.Name
		}
		if h.Verdict == lifecycle.VerdictOutdated {
			out.Outdated++
		}
		out.Checked = append(out.Checked, oh)
	}
	if common.format == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return e.fail(err, exitPartial)
		}
	} else {
		writeOutdatedTable(e.stdout, out)
	}
	for _, u := range out.Unreadable {
		e.warn("parent family %s: %s", u.Family, u.Error)
	}
	if out.Outdated > 0 {
		return exitFindings
	}
	return exitOK
}

// gatherLineage reads the asked families of project, then the parent
// families their heads name (in any project), and theirs, until no new family
// turns up. A parent family that cannot be read is reported, not fatal: its
// children's verdict is then "unknown". An asked family that cannot be read
// is an error.
func gatherLineage(e *env, c gce.Compute, project string, asked []string) ([]lifecycle.Snapshot, []familyError, error) {
	var (
		snaps      []lifecycle.Snapshot
		unreadable = []familyError{}
		seen       = map[familyKey]bool{}
		queue      []familyKey
	)
	for _, f := range asked {
		k := familyKey{project, f}
		if !seen[k] {
			seen[k] = true
			queue = append(queue, k)
		}
	}
	askedCount := len(queue)
	for hop := 0; len(queue) > 0 && hop <= maxLineageHops*askedCount; hop++ {
		k := queue[0]
		queue = queue[1:]
		images, err := c.ListFamily(e.ctx, k.project, k.family)
		if err != nil {
			if hop < askedCount {
				return nil, nil, fmt.Errorf("reading family %s of project %s: %w", k.family, k.project, err)
			}
			unreadable = append(unreadable, familyError{Family: k.project + "/" + k.family, Error: oneLine(err.Error())})
			continue
		}
		s := lifecycle.Snapshot{Project: k.project, Family: k.family, Images: images}
		snaps = append(snaps, s)
		head, ok := s.Head()
		if !ok {
			continue
		}
		lin := lifecycle.LineageOf(head.Labels)
		if lin.ParentImage == "" {
			continue
		}
		pk := familyKey{lin.ParentProject, lin.ParentFamily}
		if pk.project == "" {
			pk.project = k.project
		}
		if pk.family == "" {
			// No family label: the parent image itself says which.
			parent, err := c.GetImage(e.ctx, pk.project, lin.ParentImage)
			if err != nil || parent.Family == "" {
				continue
			}
			pk.family = parent.Family
		}
		if !seen[pk] {
			seen[pk] = true
			queue = append(queue, pk)
		}
	}
	return snaps, unreadable, nil
}

func writeOutdatedTable(w io.Writer, o outdatedOutput) {
	if len(o.Checked) == 0 {
		fmt.Fprintf(w, "project %s: no families\n", o.Project)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAMILY\tHEAD\tPARENT\tPARENT FAMILY\tVERDICT\tREBUILD ON\tREASON")
	for _, h := range o.Checked {
		pf := h.ParentFamily
		if pf != "" && h.ParentProject != "" && h.ParentProject != h.Project {
			pf = h.ParentProject + "/" + pf
		}
		rebuild := orDash(h.RebuildOn)
		if h.ParentOutdated {
			rebuild += " (itself outdated)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Family, orDash(h.Head), orDash(h.Parent), orDash(pf), h.Verdict, rebuild, oneLine(h.Reason))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d of %d %s outdated\n", o.Outdated, len(o.Checked), textfmt.Plural(len(o.Checked), "head", "heads"))
}
