package main

import (
	"fmt"
	"strings"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lineagegraph"
)

var lineageUsage = `usage: imagefamily lineage --project P [--format mermaid|dot] [flags]

Draws the project's image hierarchy from the lineage labels: one lane per
family, its images oldest first with their states and the head marked, an
arrow from each parent image to what was built on it (dotted for rollback and
promoted copies), outdated heads (built on an image that is no longer its
family's head) and revoked images marked. Parent families in other projects
are read too and show only the images built on, and their head. Mermaid
renders in GitLab and GitHub Markdown (inside a ` + "```mermaid" + ` fence); DOT
renders with Graphviz: imagefamily lineage --format dot | dot -Tsvg -o lineage.svg

flags:
  --format mermaid|dot               output format (default mermaid)
` + lineageConnectionUsage

// lineageConnectionUsage is the common flags but --format, which lineage
// takes with formats of its own.
var lineageConnectionUsage = strings.Replace(commonUsage, "  --format table|json                output format (default table)\n", "", 1)

func cmdLineage(e *env, args []string) int {
	var common commonFlags
	fs := newFlagSet("lineage")
	common.registerConnection(fs)
	format := "mermaid"
	fs.StringVar(&format, "format", format, "")
	pos, exit, done := e.parse(fs, args, lineageUsage)
	if done {
		return exit
	}
	if len(pos) > 0 {
		return e.fail(usagef("unexpected argument %q: lineage takes flags only", pos[0]), exitUsage)
	}
	render, ok := lineagegraph.Formats[format]
	if !ok {
		return e.fail(usagef("--format %q: must be %s", format, strings.Join(lineagegraph.FormatNames, " or ")), exitUsage)
	}
	if err := common.checkConnection(e); err != nil {
		return e.fail(err, exitUsage)
	}
	c, err := common.client(e)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	defer c.Close()

	// One listing of the project holds all its families; then the parent
	// families their images name in other projects, and theirs, each once.
	// One that cannot be read is warned about and drawn from its children's
	// labels.
	project := common.project
	all, err := c.ListImages(e.ctx, project, "")
	if err != nil {
		return e.fail(fmt.Errorf("listing the images of project %s: %w", project, err), exitPartial)
	}
	byFamily := map[string][]lifecycle.Image{}
	var queue []lifecycle.FamilyRef
	for _, img := range all {
		if img.Family == "" {
			continue
		}
		if _, ok := byFamily[img.Family]; !ok {
			queue = append(queue, lifecycle.FamilyRef{Project: project, Family: img.Family})
		}
		byFamily[img.Family] = append(byFamily[img.Family], img)
	}
	seen := map[lifecycle.FamilyRef]bool{}
	for _, f := range queue {
		seen[f] = true
	}
	var snaps []lifecycle.Snapshot
	for i := 0; i < len(queue); i++ {
		f := queue[i]
		images := byFamily[f.Family] // a family of the project with no image left: none
		if f.Project != project {
			if images, err = c.ListFamily(e.ctx, f.Project, f.Family); err != nil {
				e.warn("parent family %s: %s", f, oneLine(err.Error()))
				continue
			}
		}
		s := lifecycle.Snapshot{Project: f.Project, Family: f.Family, Images: images}
		snaps = append(snaps, s)
		for _, p := range lineagegraph.ParentFamilies(s) {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	if err := render(e.stdout, lineagegraph.Build(project, snaps)); err != nil {
		return e.fail(err, exitPartial)
	}
	return exitOK
}
