package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/planfile"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// revokeOutput is revoke's JSON output (docs/cli.md).
type revokeOutput struct {
	FormatVersion int             `json:"format_version"`
	Project       string          `json:"project"`
	Image         string          `json:"image"`
	Reason        string          `json:"reason"` // the label value written
	At            textfmt.Instant `json:"at"`
	DryRun        bool            `json:"dry_run"`
	// Searched are the projects looked through for descendants.
	Searched []string       `json:"searched_projects"`
	Forced   []string       `json:"families_left_without_active"`
	Results  []revokeResult `json:"results"`
	Summary  outcomeCounts  `json:"summary"`
}

type revokeResult struct {
	Image      string             `json:"image"`
	Project    string             `json:"project"`
	Family     string             `json:"family"`
	Generation int                `json:"generation"` // 0 for IMAGE itself
	Relation   lifecycle.Relation `json:"relation,omitempty"`
	Parent     string             `json:"parent,omitempty"`
	From       lifecycle.State    `json:"from"`
	To         lifecycle.State    `json:"to"`
	Outcome    apply.Outcome      `json:"outcome"`
	Detail     string             `json:"detail,omitempty"`
	Done       bool               `json:"done"`
	Error      string             `json:"error,omitempty"`
}

// outcomeCounts counts a command's actions by outcome.
type outcomeCounts struct {
	Done    int `json:"done"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

func countOutcomes(results []apply.Result) outcomeCounts {
	return outcomeCounts{Done: apply.Count(results, apply.OutcomeDone), Skipped: apply.Count(results, apply.OutcomeSkipped),
		Failed: apply.Count(results, apply.OutcomeFailed)}
}

func newRevokeCommand(e *env) *cobra.Command {
	var (
		common      commonFlags
		lf          leaseFlags
		descendants bool
		search      string
		reason      string
		force       bool
		dryRun      bool
		outFile     string
	)
	c := &cobra.Command{
		Use:   "revoke IMAGE",
		Short: "make an image (and its descendants) OBSOLETE now, with a reason",
		Long: `Makes IMAGE OBSOLETE now (new uses are rejected) and labels it
imagefamily-revoked-reason=<TEXT, sanitised>. Refuses to leave a family with
no ACTIVE image unless --force. With --descendants, also every image whose
lineage labels lead back to IMAGE (builds on it, promoted and rollback copies)
through any number of generations and families, in IMAGE's project, in
--project when IMAGE names another, and in every project of --search-projects
(promoted copies live in other projects, and nothing in the image points to
them: name them).

Each image is checked right before it is revoked against a read at most 2 s
old: an image changed since it was read is skipped and reported. The lease of
every family it changes is held while it runs. --dry-run prints the plan;
--out FILE writes it for imagefamily apply.`,
		Example: `  imagefamily revoke --project acme-images web-v20261120t101500 --reason cve-2026-1234 --dry-run
  imagefamily revoke base-v3 --descendants --search-projects acme-prod,acme-dev`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("revoke takes exactly one IMAGE, got %d arguments: imagefamily revoke --project P IMAGE", len(args))
			}
			return nil
		},
	}
	fs := c.Flags()
	boolVar(fs, &descendants, "descendants", "also revoke every descendant of IMAGE")
	fs.StringVar(&search, "search-projects", "", "also look for descendants in these projects (`P,Q`; default: IMAGE's project, and --project when IMAGE names another)")
	fs.StringVar(&reason, "reason", "", "why, written as a label value: lower case, \"-\" for other characters (`TEXT`; default \"unspecified\")")
	boolVar(fs, &force, "force", "revoke even when a family is left with no ACTIVE image")
	boolVar(fs, &dryRun, "dry-run", "print what would be revoked, change nothing")
	fs.StringVar(&outFile, "out", "", "write the plan to `FILE` for imagefamily apply (implies --dry-run)")
	lf.register(fs)
	common.register(fs)
	c.RunE = e.runE(func(pos []string) int {
		if err := common.check(e, fs); err != nil {
			return e.fail(err, exitUsage)
		}
		if outFile != "" {
			dryRun = true
			if err := checkWritable("--out", outFile); err != nil {
				return e.fail(err, exitUsage)
			}
		}
		return revoke(e, common, lf, pos[0], descendants, search, reason, force, dryRun, outFile)
	})
	return c
}

func revoke(e *env, common commonFlags, lf leaseFlags, imageArg string, descendants bool, search, reason string, force, dryRun bool, outFile string) int {
	ref, err := lifecycle.ParseImageRef(imageArg)
	if err != nil {
		return e.fail(usagef("IMAGE %q: %v", imageArg, err), exitUsage)
	}
	if ref.Family {
		return e.fail(usagef("IMAGE %q follows a family: name one image", imageArg), exitUsage)
	}
	project := common.project
	if ref.Project != "" {
		project = ref.Project
	}
	others, err := projectList("--search-projects", search)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	// Revoking from the side of the copies (--project acme-prod and IMAGE
	// spelled acme-dev/app-v2) searches the project named too: it is where
	// that user's promoted copies are.
	if common.project != "" && common.project != project {
		others = append([]string{common.project}, others...)
	}
	searched := apply.ScanProjects(project, others)
	if !descendants && len(others) > 0 {
		return e.fail(usagef("--search-projects names where descendants are looked for: add --descendants"), exitUsage)
	}
	leaseOpts, err := lf.read()
	if err != nil {
		return e.fail(err, exitUsage)
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

	// Plan on a first read, take the leases of the families that plan
	// changes, then read and plan again: what another command of this
	// project did before it gave the lease up is then part of the picture.
	// A second plan that reaches further families takes their leases too.
	var (
		root   lifecycle.Image
		images []lifecycle.Image
		plan   lifecycle.RevokePlan
		readAt time.Time
		held   = map[lifecycle.FamilyRef]bool{}
		leases []*apply.Lease // every family's, checked before each mutation
	)
	leaseOpts.Holder = leaseHolder("revoke")
	for round := 0; ; round++ {
		root, err = c.GetImage(e.ctx, project, ref.Name)
		if errors.Is(err, gce.ErrNotFound) {
			return e.fail(usagef("IMAGE %q: no such image in project %s", imageArg, project), exitUsage)
		}
		if err != nil {
			return e.fail(err, exitPartial)
		}
		root.Project = project
		readAt = clock()
		if images, err = revokeImages(e, c, root, descendants, searched); err != nil {
			return e.fail(err, exitPartial)
		}
		plan = lifecycle.PlanRevoke(lifecycle.RevokeRequest{Root: root, Descendants: descendants, Images: images, Reason: label, Now: clock().UTC()})
		if dryRun {
			break
		}
		var missing []lifecycle.FamilyRef
		for _, f := range plan.Families() {
			if !held[f] {
				missing = append(missing, f)
			}
		}
		if round > 0 && len(missing) == 0 {
			break
		}
		if round >= 3 {
			return e.fail(fmt.Errorf("nothing was revoked: the families to revoke in kept changing while their leases were taken (%v): run again", missing), exitPartial)
		}
		for _, f := range missing { // Families is sorted: one order for every revoke
			lease, err := e.acquire(c, f.Project, f.Family, leaseOpts)
			if err != nil {
				return e.fail(fmt.Errorf("nothing was revoked: %w", err), leaseExit(err))
			}
			defer lease.Release(e.ctx)
			held[f] = true
			leases = append(leases, lease)
		}
	}
	now := plan.Now
	out := revokeOutput{FormatVersion: formatVersion, Project: project, Image: root.Name, Reason: label, At: textfmt.At(now), DryRun: dryRun, Forced: []string{}, Searched: []string{project}}
	if descendants {
		out.Searched = searched
	}
	for _, f := range plan.LeftWithoutHead {
		if !force {
			return e.fail(usagef("revoking %s would leave family %s of project %s with no ACTIVE image: release or roll back to another image first, or pass --force",
				root.Name, f.Family, f.Project), exitUsage)
		}
		out.Forced = append(out.Forced, f.String())
		e.warn("--force: family %s of project %s is left with no ACTIVE image", f.Family, f.Project)
	}

	var results []apply.Result
	if !dryRun {
		p := e.startProgress("revoke", len(plan.Targets), apply.DefaultParallelism)
		results = apply.Execute(e.ctx, c, plan.Phases(), apply.Options{Seeds: revokeSeeds(images, root, readAt), Leases: leases,
			Progress: p.result, OnParallelism: p.parallelismChanged})
		p.finish()
		out.Summary = countOutcomes(results)
	}
	for i, t := range plan.Targets {
		img := t.Entry.Image
		r := revokeResult{Image: img.Name, Project: img.Project, Family: img.Family, Generation: t.Generation, Relation: t.Relation,
			From: t.Entry.From, To: t.Entry.To, Outcome: apply.OutcomePlanned}
		if t.Generation > 0 {
			r.Parent = t.Parent.Name
			if t.Parent.Project != project {
				r.Parent = t.Parent.String()
			}
		}
		if results != nil {
			res := results[i]
			r.Outcome, r.Detail, r.Done = res.Outcome, res.Detail, res.Outcome == apply.OutcomeDone
			if res.Err != nil {
				r.Error = textfmt.OneLine(res.Err.Error())
			}
		}
		out.Results = append(out.Results, r)
	}
	if err := e.write(common.format, out); err != nil {
		return e.fail(err, exitPartial)
	}
	if outFile != "" {
		pf := planfile.Plan{Command: "revoke", Project: project, PlannedAt: textfmt.At(now), InUseProjects: []string{},
			Leases: []planfile.FamilyRef{}, Parts: []planfile.Part{{Project: project, ReadAt: textfmt.At(readAt), Phases: planfile.PhasesOf(plan.Phases())}},
			Revoke: &planfile.Revoke{Image: root.Name, Reason: label, LeftWithoutActive: out.Forced}}
		for _, f := range plan.Families() {
			pf.Leases = append(pf.Leases, planfile.FamilyRef{Project: f.Project, Family: f.Family})
		}
		if err := e.savePlan(outFile, pf); err != nil {
			return e.fail(err, exitPartial)
		}
	}
	total := len(out.Results)
	if dryRun {
		e.info("%s planned (dry run: nothing done)", textfmt.Count(total, "image"))
	} else {
		e.info("%s: %s", textfmt.Count(total, "image"), outcomeLine(out.Summary.Done, out.Summary.Skipped, out.Summary.Failed, total))
	}
	if out.Summary.Failed > 0 || out.Summary.Skipped > 0 {
		return exitPartial
	}
	return exitOK
}

// revokeImages reads what the revoke is planned on: every image of the
// searched projects for --descendants (one listing each), else the root's
// family.
func revokeImages(e *env, c gce.Compute, root lifecycle.Image, descendants bool, projects []string) ([]lifecycle.Image, error) {
	var out []lifecycle.Image
	if !descendants {
		if root.Family == "" {
			return []lifecycle.Image{root}, nil
		}
		imgs, err := c.ListFamily(e.ctx, root.Project, root.Family)
		if err != nil {
			return nil, fmt.Errorf("reading family %s of project %s: %w", root.Family, root.Project, err)
		}
		for i := range imgs {
			imgs[i].Project = root.Project
		}
		return imgs, nil
	}
	for _, p := range projects {
		imgs, err := c.ListImages(e.ctx, p, "")
		if err != nil {
			return nil, fmt.Errorf("listing the images of project %s: %w", p, err)
		}
		for i := range imgs {
			imgs[i].Project = p
		}
		out = append(out, imgs...)
	}
	return out, nil
}

// revokeSeeds are the images read, by project and family, as the picture's
// first reads.
func revokeSeeds(images []lifecycle.Image, root lifecycle.Image, at time.Time) []apply.Seed {
	by := map[lifecycle.FamilyRef][]lifecycle.Image{}
	for _, img := range append(slices.Clone(images), root) {
		k := lifecycle.FamilyRef{Project: img.Project, Family: img.Family}
		if !slices.ContainsFunc(by[k], func(i lifecycle.Image) bool { return i.Name == img.Name }) {
			by[k] = append(by[k], img)
		}
	}
	var out []apply.Seed
	for k, imgs := range by {
		out = append(out, apply.Seed{Snapshot: lifecycle.Snapshot{Project: k.Project, Family: k.Family, Images: imgs}, At: at})
	}
	return out
}

func (o revokeOutput) table(w io.Writer, wide bool, width int) {
	fit := headerWidth(width)
	mode := ""
	if o.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprint(w, wrapIndented("", fmt.Sprintf("revoke %s in project %s at %s, reason %s%s", o.Image, o.Project, textfmt.Time(o.At.Time), o.Reason, mode), fit))
	fmt.Fprint(w, wrapIndented("searched for descendants in: ", strings.Join(o.Searched, ", "), fit))
	if o.DryRun {
		fmt.Fprint(w, wrapIndented("", fmt.Sprintf("Plan: %d to obsolete (%s)", len(o.Results), textfmt.Count(max(0, len(o.Results)-1), "descendant")), fit))
	}
	n := len(o.Results)
	cols := []column{{header: "IMAGE", cells: make([]string, n)}, {header: "PROJECT", cells: make([]string, n), drop: 2},
		{header: "FAMILY", cells: make([]string, n)}, {header: "GEN", cells: make([]string, n)},
		{header: "FROM -> TO", cells: make([]string, n), short: make([]string, n), shortHeader: "TO"}}
	if wide {
		cols = append(cols, column{header: "LINEAGE", cells: make([]string, n), text: true})
	}
	if !o.DryRun {
		cols = append(cols, column{header: "OUTCOME", cells: make([]string, n), text: true})
	}
	for i, r := range o.Results {
		cols[0].cells[i], cols[1].cells[i], cols[2].cells[i] = r.Image, r.Project, orDash(r.Family)
		cols[3].cells[i], cols[4].cells[i] = fmt.Sprint(r.Generation), fmt.Sprintf("%s -> %s", r.From, r.To)
		cols[4].short[i] = string(r.To)
		k := 5
		if wide {
			lin := "-"
			if r.Generation > 0 {
				lin = string(r.Relation) + " " + r.Parent
			}
			cols[k].cells[i] = lin
			k++
		}
		if !o.DryRun {
			cols[k].cells[i] = shortOutcome(false, r.Outcome)
			if wide {
				cols[k].cells[i] = stepOutcome(false, r.Outcome, r.Detail, r.Error)
			}
		}
	}
	writeTable(w, "", cols, tableWidth(wide, width))
	if !wide && !o.DryRun {
		for _, r := range o.Results {
			if r.Outcome == apply.OutcomeFailed || r.Outcome == apply.OutcomeSkipped {
				fmt.Fprint(w, wrapIndented("  "+r.Image+": ", stepOutcome(false, r.Outcome, r.Detail, r.Error), fit))
			}
		}
	}
}

func (o revokeOutput) rows() [][]string {
	out := [][]string{{"image", "project", "family", "generation", "relation", "parent", "from", "to", "outcome", "detail", "error"}}
	for _, r := range o.Results {
		out = append(out, []string{r.Image, r.Project, r.Family, fmt.Sprint(r.Generation), string(r.Relation), r.Parent,
			string(r.From), string(r.To), string(r.Outcome), r.Detail, r.Error})
	}
	return out
}
