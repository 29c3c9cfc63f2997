package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
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
any number of generations and families, in IMAGE's project and every project
of --search-projects (promoted copies live in other projects: name them).

Each image is checked right before it is revoked against a read at most 2 s
old: an image changed since it was read is skipped and reported. The lease of
every family it changes is held while it runs.

flags:
  --descendants          also revoke every descendant of IMAGE
  --search-projects P,.. also look for descendants in these projects (default:
                         IMAGE's project only)
  --reason TEXT          why (written as a label value: lower case, "-" for other
                         characters; default "unspecified")
  --force                revoke even when a family is left with no ACTIVE image
  --dry-run              print what would be revoked, change nothing
` + leaseUsage + commonUsage

// revokeOutput is revoke's JSON output (docs/cli.md).
type revokeOutput struct {
	Project string    `json:"project"`
	Image   string    `json:"image"`
	Reason  string    `json:"reason"` // the label value written
	At      time.Time `json:"at"`
	DryRun  bool      `json:"dry_run"`
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

func cmdRevoke(e *env, args []string) int {
	var (
		common      commonFlags
		lf          leaseFlags
		descendants bool
		search      string
		reason      string
		force       bool
		dryRun      bool
	)
	fs := newFlagSet("revoke")
	common.register(fs)
	lf.register(fs)
	fs.Var(boolFlag{&descendants}, "descendants", "")
	fs.StringVar(&search, "search-projects", "", "")
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
	others, err := projectList("--search-projects", search)
	if err != nil {
		return e.fail(err, exitUsage)
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
	)
	leaseOpts.Holder = leaseHolder("revoke")
	for round := 0; ; round++ {
		root, err = c.GetImage(e.ctx, project, ref.Name)
		if errors.Is(err, gce.ErrNotFound) {
			return e.fail(usagef("IMAGE %q: no such image in project %s", pos[0], project), exitUsage)
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
				return e.fail(fmt.Errorf("nothing was revoked: %w", err), map[bool]int{true: exitBusy, false: exitPartial}[isBusy(err)])
			}
			defer lease.Release(e.ctx)
			held[f] = true
		}
	}
	now := plan.Now
	out := revokeOutput{Project: project, Image: root.Name, Reason: label, At: now, DryRun: dryRun, Forced: []string{}, Searched: []string{project}}
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
		results = apply.Execute(e.ctx, c, plan.Phases(), apply.Options{Seeds: revokeSeeds(images, root, readAt)})
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
				r.Error = oneLine(res.Err.Error())
			}
		}
		out.Results = append(out.Results, r)
	}
	if common.format == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return e.fail(err, exitPartial)
		}
	} else {
		writeRevokeTable(e.stdout, out)
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

func writeRevokeTable(w io.Writer, o revokeOutput) {
	mode := ""
	if o.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "revoke %s in project %s at %s, reason %s%s\n", o.Image, o.Project, o.At.Format(time.RFC3339), o.Reason, mode)
	fmt.Fprintf(w, "searched for descendants in: %s\n", strings.Join(o.Searched, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tPROJECT\tFAMILY\tGENERATION\tLINEAGE\tFROM -> TO\tOUTCOME")
	for _, r := range o.Results {
		from := "-"
		if r.Generation > 0 {
			from = string(r.Relation) + " " + r.Parent
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s -> %s\t%s\n", r.Image, r.Project, orDash(r.Family), r.Generation, from, r.From, r.To, stepOutcome(o.DryRun, r.Outcome, r.Detail, r.Error))
	}
	_ = tw.Flush()
}
