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

	project := common.project
	asked, err := familiesOf(e, c, project, "")
	if err != nil {
		return e.fail(fmt.Errorf("listing the families of project %s: %w", project, err), exitPartial)
	}
	// The project's families, then the parent families their images name,
	// and theirs, each once. One that cannot be read is warned about and
	// drawn from its children's labels.
	var snaps []lifecycle.Snapshot
	queue := make([]lifecycle.FamilyRef, 0, len(asked))
	seen := map[lifecycle.FamilyRef]bool{}
	for _, f := range asked {
		queue = append(queue, lifecycle.FamilyRef{Project: project, Family: f})
		seen[queue[len(queue)-1]] = true
	}
	for i := 0; i < len(queue); i++ {
		f := queue[i]
		images, err := c.ListFamily(e.ctx, f.Project, f.Family)
		if err != nil {
			if f.Project == project {
				return e.fail(fmt.Errorf("reading family %s of project %s: %w", f.Family, f.Project, err), exitPartial)
			}
			e.warn("parent family %s: %s", f, oneLine(err.Error()))
			continue
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
