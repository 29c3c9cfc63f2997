package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// maxLineageHops bounds how far up parent families are followed.
const maxLineageHops = 32

// outdatedOutput is outdated's JSON output (docs/cli.md).
type outdatedOutput struct {
	FormatVersion int            `json:"format_version"`
	Project       string         `json:"project"`
	Checked       []outdatedHead `json:"heads"`
	Outdated      int            `json:"outdated"`
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

func newOutdatedCommand(e *env) *cobra.Command {
	var (
		common     commonFlags
		family     string
		allowEmpty bool
	)
	c := &cobra.Command{
		Use:   "outdated [--family F]",
		Short: "family heads built on a parent that is no longer its family's head",
		Long: `Checks each family head of the project (or just F) against its parent family,
read from its lineage labels (imagefamily-parent-image, -family, -project): a
head built on an image that is no longer its family's head is outdated, and the
parent family's head now is what to rebuild on. Parent families in other
projects are read too. Exit code 3 when any head is outdated.`,
		Example: `  imagefamily outdated --project acme-images
  imagefamily outdated --family web --format json`,
		Args: noArgs("outdated takes flags only (--family F)"),
	}
	fs := c.Flags()
	fs.StringVar(&family, "family", "", "check only this family `F`")
	registerAllowEmpty(fs, &allowEmpty)
	common.register(fs)
	c.RunE = e.runE(func([]string) int {
		if err := common.check(e, fs); err != nil {
			return e.fail(err, exitUsage)
		}
		if family != "" {
			if err := checkFamily(family); err != nil {
				return e.fail(err, exitUsage)
			}
		}
		cl, err := common.client(e)
		if err != nil {
			return e.fail(err, exitUsage)
		}
		defer cl.Close()
		return outdated(e, cl, common, family, allowEmpty)
	})
	return c
}

func outdated(e *env, c gce.Compute, common commonFlags, family string, allowEmpty bool) int {
	var err error
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
	if family != "" && !allowEmpty && len(snaps) > 0 && len(snaps[0].Images) == 0 {
		return e.fail(emptyFamily(e, c, project, family), exitEmpty)
	}
	out := outdatedOutput{FormatVersion: formatVersion, Project: project, Checked: []outdatedHead{}, Unreadable: unreadable}
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
	if err := e.write(common.format, out); err != nil {
		return e.fail(err, exitPartial)
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
			unreadable = append(unreadable, familyError{Family: k.project + "/" + k.family, Error: textfmt.OneLine(err.Error())})
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

func (o outdatedOutput) table(w io.Writer, wide bool, width int) {
	if len(o.Checked) == 0 {
		fmt.Fprintf(w, "project %s: no families\n", o.Project)
		return
	}
	n := len(o.Checked)
	cols := []column{{header: "FAMILY", cells: make([]string, n)}, {header: "HEAD", cells: make([]string, n)},
		{header: "VERDICT", cells: make([]string, n)}, {header: "REBUILD ON", cells: make([]string, n)}}
	if wide {
		cols = append(cols, column{header: "PARENT", cells: make([]string, n)}, column{header: "PARENT FAMILY", cells: make([]string, n)},
			column{header: "REASON", cells: make([]string, n), text: true})
	}
	for i, h := range o.Checked {
		rebuild := orDash(h.RebuildOn)
		if h.ParentOutdated {
			rebuild += " (itself outdated)"
		}
		cols[0].cells[i], cols[1].cells[i], cols[2].cells[i], cols[3].cells[i] = h.Family, orDash(h.Head), string(h.Verdict), rebuild
		if wide {
			pf := h.ParentFamily
			if pf != "" && h.ParentProject != "" && h.ParentProject != h.Project {
				pf = h.ParentProject + "/" + pf
			}
			cols[4].cells[i], cols[5].cells[i], cols[6].cells[i] = orDash(h.Parent), orDash(pf), textfmt.OneLine(h.Reason)
		}
	}
	writeTable(w, "", cols, tableWidth(wide, width))
	fmt.Fprintf(w, "%d of %d %s outdated\n", o.Outdated, len(o.Checked), textfmt.Plural(len(o.Checked), "head", "heads"))
}

func (o outdatedOutput) rows() [][]string {
	out := [][]string{{"project", "family", "head", "parent", "parent_project", "parent_family", "verdict", "rebuild_on", "parent_outdated", "reason"}}
	for _, h := range o.Checked {
		out = append(out, []string{h.Project, h.Family, h.Head, h.Parent, h.ParentProject, h.ParentFamily, string(h.Verdict),
			h.RebuildOn, fmt.Sprint(h.ParentOutdated), textfmt.OneLine(h.Reason)})
	}
	return out
}
