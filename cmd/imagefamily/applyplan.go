package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/planfile"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// applyOutput is apply's JSON output (docs/schemas/apply.schema.json): what
// became of each action of the plan.
type applyOutput struct {
	FormatVersion int             `json:"format_version"`
	Command       string          `json:"command"`
	Project       string          `json:"project"`
	PlannedAt     textfmt.Instant `json:"planned_at"`
	At            textfmt.Instant `json:"at"`
	Parts         []applyPart     `json:"parts"`
	// HeadAfter is what a rolled-back family resolves to afterwards.
	HeadAfter *string       `json:"head_after,omitempty"`
	Error     string        `json:"error,omitempty"`
	Summary   outcomeCounts `json:"summary"`
}

type applyPart struct {
	Project string `json:"project"`
	Family  string `json:"family"`
	// Head is what the family resolved to when the plan was made.
	Head    string         `json:"head"`
	Results []apply.Result `json:"results"`
}

func newApplyCommand(e *env) *cobra.Command {
	var (
		common      = commonFlags{noProject: true}
		lf          leaseFlags
		parallelism = apply.DefaultParallelism
	)
	c := &cobra.Command{
		Use:   "apply PLAN",
		Short: "carry out a plan written by rotate, rollback or revoke --out",
		Long: `Carries out exactly the plan in the file PLAN (written by rotate, rollback or
revoke with --dry-run --out PLAN), like terraform apply of a saved plan: no
action is added, none is planned again. Each action is sent only while the
preconditions recorded with it still hold (the image's state, labels and
family, the family's head, that nothing uses it), checked against a read at
most 2 s old; an action whose preconditions no longer hold is refused
(skipped, with what changed) and the exit code is 1. The lease of every family
the plan changes is held while it runs.`,
		Example: `  imagefamily rotate --project acme-images --family web --out plan.json
  imagefamily apply plan.json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("apply takes exactly one PLAN file, got %d arguments: imagefamily apply plan.json", len(args))
			}
			return nil
		},
	}
	fs := c.Flags()
	intVar(fs, &parallelism, "parallelism", "use 1 or more, e.g. 4", "`N` image requests in flight, lowered on quota errors")
	lf.register(fs)
	common.register(fs)
	c.RunE = e.runE(func(pos []string) int {
		if err := common.check(e, fs); err != nil {
			return e.fail(err, exitUsage)
		}
		if err := lifecycle.ValidateParallelism(parallelism); err != nil { // the plugin's rotation.parallelism rule
			return e.fail(usageError{spelled(err, flagName)}, exitUsage)
		}
		leaseOpts, err := lf.read()
		if err != nil {
			return e.fail(err, exitUsage)
		}
		f, err := os.Open(pos[0])
		if err != nil {
			return e.fail(usagef("PLAN %q: %v", pos[0], err), exitUsage)
		}
		plan, err := planfile.Read(f)
		_ = f.Close()
		if err != nil {
			return e.fail(usagef("PLAN %q: %v", pos[0], err), exitUsage)
		}
		if err := pluginconfigProject(plan.Project); err != nil {
			return e.fail(usagef("PLAN %q: %v", pos[0], err), exitUsage)
		}
		cl, err := common.client(e)
		if err != nil {
			return e.fail(err, exitUsage)
		}
		defer cl.Close()
		return applyPlan(e, cl, common.format, plan, leaseOpts, parallelism)
	})
	return c
}

func applyPlan(e *env, c gce.Compute, format string, plan planfile.Plan, leaseOpts apply.LeaseOptions, parallelism int) int {
	out := applyOutput{FormatVersion: formatVersion, Command: plan.Command, Project: plan.Project, PlannedAt: plan.PlannedAt,
		At: textfmt.At(clock()), Parts: []applyPart{}}
	type part struct {
		planfile.Part
		phases []lifecycle.Phase
	}
	var parts []part
	total, unused := 0, false
	for _, p := range plan.Parts {
		phases, err := planfile.Lifecycle(p.Phases)
		if err != nil {
			return e.fail(usagef("the plan's part for %s: %v", orDefault(p.Family, p.Project), err), exitUsage)
		}
		for _, ph := range phases {
			for _, en := range ph.Entries {
				if en.Action != lifecycle.ActionNone {
					total++
				}
				unused = unused || en.Expect.Unused
			}
		}
		parts = append(parts, part{p, phases})
	}
	// The leases of every family the plan changes, in one order for every
	// command (sorted), so that two appliers never wait on each other.
	leases := slices.Clone(plan.Leases)
	slices.SortFunc(leases, func(a, b planfile.FamilyRef) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Family, b.Family))
	})
	leaseOpts.Holder = leaseHolder("apply")
	held := map[planfile.FamilyRef]*apply.Lease{}
	for _, f := range leases {
		l, err := e.acquire(c, f.Project, f.Family, leaseOpts)
		if err != nil {
			return e.fail(fmt.Errorf("nothing was applied: %w", err), leaseExit(err))
		}
		defer l.Release(e.ctx)
		held[f] = l
	}
	var scans *apply.Scans
	if unused {
		scans = apply.NewScans(c, apply.ScanProjects(plan.Project, plan.InUseProjects), nil)
		stop := scans.Start(e.ctx)
		defer stop()
	}
	p := e.startProgress("apply", total, parallelism)
	for _, pt := range parts {
		opts := apply.Options{Parallelism: parallelism, Scans: scans, Progress: p.result, OnParallelism: p.parallelismChanged,
			Leases: []*apply.Lease{held[planfile.FamilyRef{Project: pt.Project, Family: pt.Family}]}}
		if plan.Command != "rotate" {
			opts.Parallelism = 1 // rollback and revoke go one request at a time, as the commands do
		}
		results := apply.Execute(e.ctx, c, pt.phases, opts)
		out.Parts = append(out.Parts, applyPart{Project: pt.Project, Family: pt.Family, Head: pt.Head, Results: results})
		out.Summary.Done += apply.Count(results, apply.OutcomeDone)
		out.Summary.Skipped += apply.Count(results, apply.OutcomeSkipped)
		out.Summary.Failed += apply.Count(results, apply.OutcomeFailed)
	}
	p.finish()
	code := exitOK
	if out.Summary.Failed > 0 || out.Summary.Skipped > 0 {
		code = exitPartial
	}
	if rb := plan.Rollback; rb != nil && len(plan.Parts) == 1 && code == exitOK {
		pt := plan.Parts[0]
		if out.HeadAfter, out.Error = checkHeadAfter(e, c, pt.Project, pt.Family, rb.ExpectedHead); out.Error != "" {
			code = exitPartial
		}
	}
	if err := e.write(format, out); err != nil {
		return e.fail(err, exitPartial)
	}
	if out.Error != "" {
		e.fail(errors.New(out.Error), code)
	}
	e.info("%s of %s planned %s: %s", textfmt.Count(total, "action"), plan.Command, textfmt.Time(plan.PlannedAt.Time),
		outcomeLine(out.Summary.Done, out.Summary.Skipped, out.Summary.Failed, total))
	return code
}

func (o applyOutput) table(w io.Writer, wide bool, width int) {
	fmt.Fprint(w, wrapIndented("", fmt.Sprintf("apply of a %s plan for project %s made at %s", o.Command, o.Project,
		textfmt.Time(o.PlannedAt.Time)), headerWidth(width)))
	for _, p := range o.Parts {
		fmt.Fprintln(w)
		rep := apply.Report{Project: p.Project, Family: orDefault(p.Family, "(several)"), At: o.At.Time, Results: p.Results, Head: p.Head}
		writeReportTable(w, rep, wide, width)
	}
	if o.HeadAfter != nil {
		fmt.Fprintf(w, "head after:   %s (getFromFamily)\n", orDash(*o.HeadAfter))
	}
}

func (o applyOutput) rows() [][]string {
	out := [][]string{{"project", "family", "image", "action", "from", "to", "outcome", "detail", "error"}}
	for _, p := range o.Parts {
		for _, r := range p.Results {
			errText := ""
			if r.Err != nil {
				errText = textfmt.OneLine(r.Err.Error())
			}
			out = append(out, []string{p.Project, p.Family, r.Image, string(r.Action), string(r.From), string(r.To), string(r.Outcome), r.Detail, errText})
		}
	}
	return out
}
