package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/planfile"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// rollbackOutput is rollback's JSON output (docs/cli.md).
type rollbackOutput struct {
	FormatVersion int             `json:"format_version"`
	Project       string          `json:"project"`
	Family        string          `json:"family"`
	At            textfmt.Instant `json:"at"`
	DryRun        bool            `json:"dry_run"`
	Block         bool            `json:"block"`
	HeadBefore    string          `json:"head_before"`
	Target        string          `json:"target"`
	TargetState   lifecycle.State `json:"target_state"`
	Rerelease     *rerelease      `json:"rerelease"`
	Steps         []rollbackStep  `json:"steps"`
	ExpectedHead  string          `json:"expected_head"`
	HeadAfter     *string         `json:"head_after"`
	Warnings      []string        `json:"warnings"`
	Error         string          `json:"error,omitempty"`
}

type rerelease struct {
	Name    string            `json:"name"`
	Source  string            `json:"source"`
	Labels  map[string]string `json:"labels"`
	Outcome apply.Outcome     `json:"outcome"`
	Detail  string            `json:"detail,omitempty"`
	Error   string            `json:"error,omitempty"`
	Done    bool              `json:"done"`
}

type rollbackStep struct {
	Image       string           `json:"image"`
	Action      lifecycle.Action `json:"action"`
	From        lifecycle.State  `json:"from"`
	To          lifecycle.State  `json:"to"`
	Replacement string           `json:"replacement"`
	Outcome     apply.Outcome    `json:"outcome"`
	Detail      string           `json:"detail,omitempty"`
	Done        bool             `json:"done"`
	Error       string           `json:"error,omitempty"`
}

func newRollbackCommand(e *env) *cobra.Command {
	var (
		common       commonFlags
		lf           leaseFlags
		family       string
		to           string
		block        bool
		force        bool
		protectLabel = lifecycle.DefaultProtectLabel
		dryRun       bool
		outFile      string
	)
	c := &cobra.Command{
		Use:   "rollback --family F [--to IMAGE]",
		Short: "move a family back to an older image (never un-deprecates)",
		Long: `Moves the family back to IMAGE (default: the newest ACTIVE image older than the
head) without ever un-deprecating anything: every ACTIVE image newer than the
target is deprecated with the target as replacement (OBSOLETE with --block, so
that nothing new starts from it). A target that is no longer ACTIVE is
re-released: copied into the family as <target>-rb<yyyymmddthhmmss>, labelled
imagefamily-rollback-of=<target>. The new head is checked with getFromFamily.

An image newer than the target that carries the protect label is not
deprecated unless --force. Each step is checked right before it is sent
against a read at most 2 s old: a newer image changed meanwhile is skipped,
and no step is sent unless the target (or its copy) is still a READY, ACTIVE
image of the family. The family's lease is held while it runs. --dry-run
prints the plan; --out FILE writes it for imagefamily apply.`,
		Example: `  imagefamily rollback --project acme-images --family web --dry-run
  imagefamily rollback --family web --to web-v20261120t101500 --block`,
		Args: noArgs("name the target with --to IMAGE"),
	}
	fs := c.Flags()
	fs.StringVar(&family, "family", "", "the image family `F` (required)")
	fs.StringVar(&to, "to", "", "the `IMAGE` to roll back to (any spelling of an image reference)")
	boolVar(fs, &block, "block", "make the newer images OBSOLETE instead of DEPRECATED")
	boolVar(fs, &force, "force", "deprecate newer images even when they carry the protect label")
	fs.StringVar(&protectLabel, "protect-label", protectLabel, "the protect label `KEY` (\"\" for none)")
	boolVar(fs, &dryRun, "dry-run", "print the plan, change nothing")
	fs.StringVar(&outFile, "out", "", "write the plan to `FILE` for imagefamily apply (implies --dry-run)")
	lf.register(fs)
	common.register(fs)
	c.RunE = e.runE(func([]string) int {
		if err := common.check(e, fs); err != nil {
			return e.fail(err, exitUsage)
		}
		if err := checkFamily(family); err != nil {
			return e.fail(err, exitUsage)
		}
		if to != "" {
			if _, err := lifecycle.ParseImageRef(to); err != nil {
				return e.fail(usagef("--to %q: %v", to, err), exitUsage)
			}
		}
		if protectLabel != "" {
			if err := lifecycle.ValidateLabelKey(protectLabel); err != nil {
				return e.fail(usagef("--protect-label %q: %v", protectLabel, err), exitUsage)
			}
		}
		leaseOpts, err := lf.read()
		if err != nil {
			return e.fail(err, exitUsage)
		}
		if outFile != "" {
			dryRun = true
			if err := checkWritable("--out", outFile); err != nil {
				return e.fail(err, exitUsage)
			}
		}
		cl, err := common.client(e)
		if err != nil {
			return e.fail(err, exitUsage)
		}
		defer cl.Close()
		return rollback(e, cl, common, family, to, block, force, protectLabel, dryRun, outFile, leaseOpts)
	})
	return c
}

func rollback(e *env, c gce.Compute, common commonFlags, family, to string, block, force bool, protectLabel string, dryRun bool,
	outFile string, leaseOpts apply.LeaseOptions) int {
	project := common.project
	var (
		lease *apply.Lease
		err   error
	)
	if !dryRun {
		leaseOpts.Holder = leaseHolder("rollback")
		if lease, err = e.acquire(c, project, family, leaseOpts); err != nil {
			return e.fail(err, leaseExit(err))
		}
		defer lease.Release(e.ctx)
	}
	s, readAt, err := apply.Reader{C: c}.Family(e.ctx, project, family)
	if err != nil {
		return e.fail(err, exitPartial)
	}
	if len(s.Images) == 0 {
		return e.fail(emptyFamily(e, c, project, family), exitEmpty)
	}
	// Users only feed warnings: a rollback is urgent, so a scan that fails
	// (no permission to list instances) must not stop it.
	if uses, err := c.ScanImageUses(e.ctx, []string{project}); err != nil {
		e.warn("cannot tell what uses the family's images (%v): no warnings about users", err)
	} else if err := uses.AddTo(&s); err != nil {
		e.warn("reading what uses the family's images: %v", err)
	}
	now := clock().UTC()
	plan, err := lifecycle.PlanRollback(s, to, block, now)
	if err != nil {
		flagName := "--family " + family
		if to != "" {
			flagName = "--to " + to
		}
		return e.fail(usagef("%s: %s", flagName, err), exitUsage)
	}
	if plan.Rerelease != nil {
		if plan, err = plan.Named(rollbackCopyName(plan.Target.Name, now)); err != nil {
			return e.fail(err, exitPartial)
		}
	}
	if plan, err = plan.Guard(protectLabel, force); err != nil {
		return e.fail(usagef("--family %s: refused: %v: pass --force to do it anyway", family, err), exitUsage)
	}

	out := rollbackOutput{FormatVersion: formatVersion, Project: project, Family: family, At: textfmt.At(now), DryRun: dryRun, Block: block, HeadBefore: plan.Head,
		Target: plan.Target.Name, TargetState: plan.Target.State(), ExpectedHead: plan.NewHead(),
		Steps: []rollbackStep{}, Warnings: append([]string{}, plan.Warnings...)}
	if r := plan.Rerelease; r != nil {
		out.Rerelease = &rerelease{Name: r.Name, Source: r.Source.Name, Labels: r.Labels, Outcome: apply.OutcomePlanned}
	}
	for _, st := range plan.Steps {
		out.Steps = append(out.Steps, rollbackStep{Image: st.Image.Name, Action: st.Action, From: st.Image.State(),
			To: st.Deprecation.State, Replacement: st.Deprecation.Replacement, Outcome: apply.OutcomePlanned})
	}

	code := exitOK
	if !dryRun {
		total := len(plan.Steps)
		if plan.Rerelease != nil {
			total++
		}
		p := e.startProgress("rollback "+family, total, 1)
		code = carryOutRollback(e, c, plan, protectLabel, apply.Options{Parallelism: 1, Leases: []*apply.Lease{lease},
			Seeds: []apply.Seed{{Snapshot: s, At: readAt}}, Progress: p.result, OnParallelism: p.parallelismChanged}, &out)
		p.finish()
	}
	if err := e.write(common.format, out); err != nil {
		return e.fail(err, exitPartial)
	}
	if outFile != "" {
		pf := planfile.Plan{Command: "rollback", Project: project, PlannedAt: textfmt.At(now), InUseProjects: []string{},
			Leases: []planfile.FamilyRef{{Project: project, Family: family}},
			Parts: []planfile.Part{{Project: project, Family: family, Head: plan.Head, ReadAt: textfmt.At(readAt),
				Phases: planfile.PhasesOf(plan.Phases(protectLabel))}},
			Rollback: &planfile.Rollback{Target: plan.Target.Name, ExpectedHead: plan.NewHead(), Block: block, ProtectLabel: protectLabel}}
		if err := e.savePlan(outFile, pf); err != nil {
			return e.fail(err, exitPartial)
		}
	}
	if out.Error != "" {
		e.fail(errors.New(out.Error), code)
	}
	e.info("%s", out.summary())
	return code
}

// summary is the line on stderr: each step counted once, by its outcome.
func (o rollbackOutput) summary() string {
	var done, skipped, failed, total int
	count := func(oc apply.Outcome) {
		total++
		switch oc {
		case apply.OutcomeDone:
			done++
		case apply.OutcomeSkipped:
			skipped++
		case apply.OutcomeFailed:
			failed++
		}
	}
	if r := o.Rerelease; r != nil {
		count(r.Outcome)
	}
	for _, st := range o.Steps {
		count(st.Outcome)
	}
	if o.DryRun {
		return fmt.Sprintf("family %s, %s planned (dry run: nothing done)", o.Family, textfmt.Count(total, "step"))
	}
	return fmt.Sprintf("family %s, %s: %s", o.Family, textfmt.Count(total, "step"), outcomeLine(done, skipped, failed, total))
}

// carryOutRollback carries the plan's phases out (the copy first, if any;
// then the steps, newest first, one request at a time), then checks what
// the family resolves to. A copy that is not made stops there: deprecating
// the newer images without it could leave the family with no head.
func carryOutRollback(e *env, c gce.Compute, plan lifecycle.RollbackPlan, protectLabel string, opts apply.Options, out *rollbackOutput) int {
	code := exitOK
	if r := plan.Rerelease; r != nil && r.Existing {
		out.Rerelease.Done, out.Rerelease.Outcome = true, apply.OutcomeDone // made by an earlier run of this rollback
	}
	results := apply.Execute(e.ctx, c, plan.Phases(protectLabel), opts)
	steps := 0
	for _, res := range results {
		errText := ""
		if res.Err != nil {
			errText = textfmt.OneLine(res.Err.Error())
		}
		switch {
		case res.Action == lifecycle.ActionCopy:
			out.Rerelease.Outcome, out.Rerelease.Detail, out.Rerelease.Error = res.Outcome, res.Detail, errText
			out.Rerelease.Done = res.Outcome == apply.OutcomeDone
			if !out.Rerelease.Done {
				out.Error = fmt.Sprintf("re-releasing %s as %s did not complete, nothing else was changed: %s", plan.Rerelease.Source.Name, plan.Rerelease.Name, orDefault(errText, res.Detail))
				return exitPartial
			}
		default:
			st := &out.Steps[steps]
			steps++
			st.Outcome, st.Detail, st.Error, st.Done = res.Outcome, res.Detail, errText, res.Outcome == apply.OutcomeDone
			if !st.Done {
				code = exitPartial
			}
		}
	}
	if out.HeadAfter, out.Error = checkHeadAfter(e, c, plan.Project, plan.Family, plan.NewHead()); out.Error != "" {
		return exitPartial
	}
	if code != exitOK {
		out.Error = "some steps were not done (see above); the family resolves to the expected head"
	}
	return code
}

// checkHeadAfter reads what the family resolves to once a rollback is done
// and says what is wrong when it is not want: the head as read (nil when it
// could not be read; "" for none) and the error for the output ("" when it
// is want).
func checkHeadAfter(e *env, c gce.Compute, project, family, want string) (*string, string) {
	head, err := headAfter(e, c, project, family, want)
	switch {
	case errors.Is(err, gce.ErrNotFound):
		none := ""
		return &none, fmt.Sprintf("family %s resolves to nothing after the rollback; expected %s", family, want)
	case err != nil:
		return nil, fmt.Sprintf("checking the new head of family %s: %v", family, err)
	case head.Name != want:
		return &head.Name, fmt.Sprintf("family %s resolves to %s after the rollback; expected %s", family, head.Name, want)
	}
	return &head.Name, ""
}

// headAfter reads what the family resolves to once the rollback is done. A
// read may lag the writes before it (Compute Engine's do, for a moment), so
// an answer other than the expected head is read again a few times, a
// second apart, before it stands.
func headAfter(e *env, c gce.Compute, project, family, want string) (lifecycle.Image, error) {
	var (
		head lifecycle.Image
		err  error
	)
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			if gce.Sleep(e.ctx, headRecheckEvery) != nil {
				return head, err
			}
		}
		head, err = c.GetFromFamily(e.ctx, project, family)
		if err == nil && head.Name == want {
			return head, nil
		}
		if err != nil && !errors.Is(err, gce.ErrNotFound) {
			return head, err
		}
	}
	return head, err
}

// headRecheckEvery is the pause before the new head is read again; tests
// make it 0, as the emulator's reads do not lag unless asked to.
var headRecheckEvery = time.Second

var rollbackSuffix = regexp.MustCompile(`-rb[0-9]{8}t[0-9]{6}$`)

// rollbackCopyName names the re-released copy of target:
// <target>-rb<yyyymmddthhmmss>, the target cut to fit 63 characters and
// any earlier -rb suffix dropped (a copy of a copy is named after the
// original).
func rollbackCopyName(target string, now time.Time) string {
	suffix := "-rb" + lifecycle.FormatTimestamp(now)
	base := rollbackSuffix.ReplaceAllString(target, "")
	if max := lifecycle.MaxNameLength - len(suffix); len(base) > max {
		base = base[:max]
	}
	return strings.TrimRight(base, "-") + suffix
}

func (o rollbackOutput) table(w io.Writer, wide bool, width int) {
	fit := headerWidth(width)
	mode := ""
	if o.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprint(w, wrapIndented("", fmt.Sprintf("rollback of family %s in project %s at %s%s", o.Family, o.Project, textfmt.Time(o.At.Time), mode), fit))
	fmt.Fprintf(w, "head before:  %s\n", orDash(o.HeadBefore))
	fmt.Fprintf(w, "target:       %s (%s)\n", o.Target, o.TargetState)
	if o.DryRun {
		counts, order := map[string]int{}, []string{}
		add := func(a string) {
			if counts[a] == 0 {
				order = append(order, a)
			}
			counts[a]++
		}
		if o.Rerelease != nil {
			add("copy")
		}
		for _, st := range o.Steps {
			add(string(st.Action))
		}
		var parts []string
		for _, a := range order {
			parts = append(parts, fmt.Sprintf("%d to %s", counts[a], a))
		}
		if len(parts) == 0 {
			parts = []string{"nothing to do"}
		}
		fmt.Fprint(w, wrapIndented("", "Plan: "+strings.Join(parts, ", "), fit))
	}
	type row struct{ image, action, fromTo, to, outcome, detail string }
	var rows []row
	if r := o.Rerelease; r != nil {
		rows = append(rows, row{r.Name, "copy of " + r.Source, "- -> ACTIVE", "ACTIVE", shortOutcome(o.DryRun, r.Outcome), stepOutcome(o.DryRun, r.Outcome, r.Detail, r.Error)})
	}
	for _, st := range o.Steps {
		rows = append(rows, row{st.Image, string(st.Action), fmt.Sprintf("%s -> %s", st.From, st.To), string(st.To), shortOutcome(o.DryRun, st.Outcome), stepOutcome(o.DryRun, st.Outcome, st.Detail, st.Error)})
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "no steps")
	} else {
		n := len(rows)
		cols := []column{{header: "STEP", cells: make([]string, n)}, {header: "IMAGE", cells: make([]string, n)},
			{header: "ACTION", cells: make([]string, n)}, {header: "FROM -> TO", cells: make([]string, n), short: make([]string, n), shortHeader: "TO"}}
		if !o.DryRun {
			cols = append(cols, column{header: "OUTCOME", cells: make([]string, n), text: true})
		}
		for i, r := range rows {
			cols[0].cells[i], cols[1].cells[i], cols[2].cells[i], cols[3].cells[i] = fmt.Sprint(i+1), r.image, r.action, r.fromTo
			cols[3].short[i] = r.to
			if !o.DryRun {
				cols[4].cells[i] = r.outcome
				if wide {
					cols[4].cells[i] = r.detail
				}
			}
		}
		writeTable(w, "", cols, tableWidth(wide, width))
		if !wide && !o.DryRun {
			for i, r := range rows {
				if r.detail != r.outcome && r.outcome != "done" {
					fmt.Fprint(w, wrapIndented(fmt.Sprintf("  step %d: ", i+1), r.detail, fit))
				}
			}
		}
	}
	switch {
	case o.DryRun:
		fmt.Fprintf(w, "head after:   %s (expected)\n", o.ExpectedHead)
	case o.HeadAfter != nil:
		fmt.Fprintf(w, "head after:   %s (getFromFamily)\n", orDash(*o.HeadAfter))
	}
	for _, wn := range o.Warnings {
		fmt.Fprint(w, wrapIndented("warning: ", wn, fit))
	}
}

func (o rollbackOutput) rows() [][]string {
	out := [][]string{{"step", "image", "action", "from", "to", "replacement", "outcome", "detail", "error"}}
	n := 0
	if r := o.Rerelease; r != nil {
		n++
		out = append(out, []string{fmt.Sprint(n), r.Name, "copy", "", string(lifecycle.StateActive), r.Source, string(r.Outcome), r.Detail, r.Error})
	}
	for _, st := range o.Steps {
		n++
		out = append(out, []string{fmt.Sprint(n), st.Image, string(st.Action), string(st.From), string(st.To), st.Replacement, string(st.Outcome), st.Detail, st.Error})
	}
	return out
}
