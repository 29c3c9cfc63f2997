package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lineagegraph"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// lineageDocs is what docs/cli.md says of lineage beyond its help: the
// picture's parts, what is read, and an example.
const lineageDocs = "The picture (`internal/lineagegraph`, from the labels the release, `rollback`,\n" +
	"`revoke` and the promote builder write):\n" +
	"\n" +
	"- one lane per family (a Mermaid subgraph, a Graphviz cluster), parents'\n" +
	"  families before their children's; each lane holds the family's images oldest\n" +
	"  first, each with its state (`ACTIVE`, `DEPRECATED`, `OBSOLETE`, `DELETED`,\n" +
	"  and a status other than `READY`), the head marked `HEAD`;\n" +
	"- an arrow from each image's parent (`imagefamily-parent-image`) to it, and a\n" +
	"  dotted one labelled `rollback copy` (`imagefamily-rollback-of`) or `promoted`\n" +
	"  (`imagefamily-promoted-from`) from the image a copy was made of;\n" +
	"- an **outdated** head (as `imagefamily outdated` finds it: built on an image\n" +
	"  that is no longer its parent family's head) says what to rebuild on; a\n" +
	"  **revoked** image (`imagefamily-revoked-reason`) says why;\n" +
	"- a parent that is no longer there is drawn dashed in its family's lane as\n" +
	"  `gone (deleted)` (rotation purged it); one whose family is unknown or could\n" +
	"  not be read stands outside the lanes as `not read`.\n" +
	"\n" +
	"The project's images are listed once (every family of the project), then each\n" +
	"family in another project that their labels name as a parent's\n" +
	"(`imagefamily-parent-family`, `-parent-project`), and the families those name. A family of another project (Debian's `debian-cloud/debian-12`, say)\n" +
	"shows only the images built on and its head. A parent family that cannot be\n" +
	"read is warned about on stderr and drawn from its children's labels. The\n" +
	"output depends only on the images: the same families draw the same picture.\n" +
	"\n" +
	"`--format mermaid` (the default) is a Mermaid flowchart: GitLab and GitHub\n" +
	"render it in Markdown inside a `` ```mermaid `` fence (a merge request, an\n" +
	"issue, a CI job summary). `--format dot` is for Graphviz:\n" +
	"\n" +
	"```\n" +
	"imagefamily lineage --project acme-images --format dot | dot -Tsvg -o lineage.svg\n" +
	"```\n" +
	"\n" +
	"[lineage.svg](lineage.svg) is what `make demo` draws. Mermaid of a base, app\n" +
	"and product hierarchy with a revoked base image and an outdated product head\n" +
	"(abridged: the class definitions that colour the states follow):\n" +
	"\n" +
	"```mermaid\n" +
	"flowchart LR\n" +
	"  subgraph f1[\"acme-images/base\"]\n" +
	"    direction LR\n" +
	"    n1[\"base-v1<br/>OBSOLETE<br/>revoked: cve-2026-0001\"]\n" +
	"    n2[\"base-v2<br/>HEAD ACTIVE\"]\n" +
	"    n1 ~~~ n2\n" +
	"  end\n" +
	"  subgraph f2[\"acme-images/app\"]\n" +
	"    direction LR\n" +
	"    n3[\"app-v1<br/>DEPRECATED\"]\n" +
	"    n4[\"app-v2<br/>HEAD ACTIVE\"]\n" +
	"    n3 ~~~ n4\n" +
	"  end\n" +
	"  subgraph f3[\"acme-images/product\"]\n" +
	"    direction LR\n" +
	"    n5[\"product-v2<br/>HEAD ACTIVE<br/>outdated: rebuild on app-v2\"]\n" +
	"  end\n" +
	"  n1 --> n3\n" +
	"  n2 --> n4\n" +
	"  n3 --> n5\n" +
	"```\n" +
	"\n" +
	"Exit codes: 0 when drawn; 1 when the project's families could not be listed or\n" +
	"one of them read; 2 for usage errors (`--format \"table\": must be mermaid or\n" +
	"dot`).\n"

func newLineageCommand(e *env) *cobra.Command {
	var common commonFlags
	c := &cobra.Command{
		Use:   "lineage",
		Short: "draw the image hierarchy (Mermaid or DOT): lineage, heads, revoked",
		Long: `Draws the project's image hierarchy from the lineage labels: one lane per
family, its images oldest first with their states and the head marked, an
arrow from each parent image to what was built on it (dotted for rollback and
promoted copies), outdated heads (built on an image that is no longer its
family's head) and revoked images marked. Parent families in other projects
are read too and show only the images built on, and their head. Mermaid
renders in GitLab and GitHub Markdown (in a mermaid code block); DOT renders
with Graphviz.`,
		Example: `  imagefamily lineage --project acme-images > lineage.mmd
  imagefamily lineage --format dot | dot -Tsvg -o lineage.svg`,
		Args:        noArgs("lineage takes flags only"),
		Annotations: map[string]string{annotationDocs: lineageDocs},
	}
	fs := c.Flags()
	common.registerFormats(fs, lineagegraph.FormatNames[0], lineagegraph.FormatNames...)
	c.RunE = e.runE(func([]string) int {
		if err := common.check(e, fs); err != nil {
			return e.fail(err, exitUsage)
		}
		cl, err := common.client(e)
		if err != nil {
			return e.fail(err, exitUsage)
		}
		defer cl.Close()
		return drawLineage(e, cl, common)
	})
	return c
}

func drawLineage(e *env, c gce.Compute, common commonFlags) int {
	render := lineagegraph.Formats[common.format]
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
				e.warn("parent family %s: %s", f, textfmt.OneLine(err.Error()))
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
