package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

const rollbackUsage = `usage: imagefamily rollback --project P --family F [--to IMAGE] [--block] [--dry-run] [flags]

Moves the family back to IMAGE (default: the newest ACTIVE image older than the
head) without ever un-deprecating anything: every ACTIVE image newer than the
target is deprecated with the target as replacement (OBSOLETE with --block, so
that nothing new starts from it). A target that is no longer ACTIVE is
re-released: copied into the family as <target>-rb<yyyymmddthhmmss>, labelled
imagefamily-rollback-of=<target>. The new head is checked with getFromFamily.

An image newer than the target that carries the protect label is not
deprecated unless --force. Each step is checked right before it is sent
against a read at most 2 s old: a newer image changed meanwhile is skipped,
and no step is sent unless the target (or its copy) is still a READY, ACTIVE
image of the family. The family's lease is held while it runs.

flags:
  --family F           the family (required)
  --to IMAGE           the image to roll back to (any spelling of an image reference)
  --block              make the newer images OBSOLETE instead of DEPRECATED
  --force              deprecate newer images even when they carry the protect label
  --protect-label KEY  the protect label (default imagefamily-protect; "" for none)
  --dry-run            print the plan, change nothing
` + leaseUsage + commonUsage

// rollbackOutput is rollback's JSON output (docs/cli.md).
type rollbackOutput struct {
	Project      string          `json:"project"`
	Family       string          `json:"family"`
	At           time.Time       `json:"at"`
	DryRun       bool            `json:"dry_run"`
	Block        bool            `json:"block"`
	HeadBefore   string          `json:"head_before"`
	Target       string          `json:"target"`
	TargetState  lifecycle.State `json:"target_state"`
	Rerelease    *rerelease      `json:"rerelease"`
	Steps        []rollbackStep  `json:"steps"`
	ExpectedHead string          `json:"expected_head"`
	HeadAfter    *string         `json:"head_after"`
	Warnings     []string        `json:"warnings"`
	Error        string          `json:"error,omitempty"`
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

func cmdRollback(e *env, args []string) int {
	var (
		common       commonFlags
		lf           leaseFlags
		family       string
		to           string
		block        bool
		force        bool
		protectLabel = lifecycle.DefaultProtectLabel
		dryRun       bool
	)
	fs := newFlagSet("rollback")
	common.register(fs)
	lf.register(fs)
	fs.StringVar(&family, "family", "", "")
	fs.StringVar(&to, "to", "", "")
	fs.Var(boolFlag{&block}, "block", "")
	fs.Var(boolFlag{&force}, "force", "")
	fs.StringVar(&protectLabel, "protect-label", protectLabel, "")
	fs.Var(boolFlag{&dryRun}, "dry-run", "")
	pos, exit, done := e.parse(fs, args, rollbackUsage)
	if done {
		return exit
	}
	if len(pos) > 0 {
		return e.fail(usagef("unexpected argument %q: name the target with --to IMAGE", pos[0]), exitUsage)
	}
	if err := common.check(e); err != nil {
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
	c, err := common.client(e)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	defer c.Close()

	project := common.project
	var lease *apply.Lease
	if !dryRun {
		leaseOpts.Holder = leaseHolder("rollback")
		if lease, err = e.acquire(c, project, family, leaseOpts); err != nil {
			return e.fail(err, map[bool]int{true: exitBusy, false: exitPartial}[isBusy(err)])
		}
		defer lease.Release(e.ctx)
	}
	s, readAt, err := apply.Reader{C: c}.Family(e.ctx, project, family)
	if err != nil {
		return e.fail(err, exitPartial)
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

	out := rollbackOutput{Project: project, Family: family, At: now, DryRun: dryRun, Block: block, HeadBefore: plan.Head,
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
		code = carryOutRollback(e, c, plan, protectLabel, apply.Options{Parallelism: 1, Lease: lease,
			Seeds: []apply.Seed{{Snapshot: s, At: readAt}}}, &out)
	}
	if common.format == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return e.fail(err, exitPartial)
		}
	} else {
		writeRollbackTable(e.stdout, out)
	}
	if out.Error != "" {
		fmt.Fprintf(e.stderr, "imagefamily rollback: %s\n", oneLine(out.Error))
	}
	return code
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
			errText = oneLine(res.Err.Error())
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
	head, err := headAfter(e, c, plan)
	switch {
	case errors.Is(err, gce.ErrNotFound):
		none := ""
		out.HeadAfter = &none
		out.Error = fmt.Sprintf("family %s resolves to nothing after the rollback; expected %s", plan.Family, plan.NewHead())
		return exitPartial
	case err != nil:
		out.Error = fmt.Sprintf("checking the new head of family %s: %v", plan.Family, err)
		return exitPartial
	}
	out.HeadAfter = &head.Name
	if head.Name != plan.NewHead() {
		out.Error = fmt.Sprintf("family %s resolves to %s after the rollback; expected %s", plan.Family, head.Name, plan.NewHead())
		return exitPartial
	}
	if code != exitOK {
		out.Error = "some steps were not done (see above); the family resolves to the expected head"
	}
	return code
}

// headAfter reads what the family resolves to once the rollback is done. A
// read may lag the writes before it (Compute Engine's do, for a moment), so
// an answer other than the expected head is read again a few times, a
// second apart, before it stands.
func headAfter(e *env, c gce.Compute, plan lifecycle.RollbackPlan) (lifecycle.Image, error) {
	var (
		head lifecycle.Image
		err  error
	)
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-e.ctx.Done():
				t.Stop()
				return head, err
			}
		}
		head, err = c.GetFromFamily(e.ctx, plan.Project, plan.Family)
		if err == nil && head.Name == plan.NewHead() {
			return head, nil
		}
		if err != nil && !errors.Is(err, gce.ErrNotFound) {
			return head, err
		}
	}
	return head, err
}

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

func writeRollbackTable(w io.Writer, o rollbackOutput) {
	mode := ""
	if o.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "rollback of family %s in project %s at %s%s\n", o.Family, o.Project, o.At.Format(time.RFC3339), mode)
	fmt.Fprintf(w, "head before:  %s\n", orDash(o.HeadBefore))
	fmt.Fprintf(w, "target:       %s (%s)\n", o.Target, o.TargetState)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tIMAGE\tACTION\tFROM -> TO\tOUTCOME")
	n := 0
	if r := o.Rerelease; r != nil {
		n++
		fmt.Fprintf(tw, "%d\t%s\tcopy of %s\t- -> ACTIVE\t%s\n", n, r.Name, r.Source, stepOutcome(o.DryRun, r.Outcome, r.Detail, r.Error))
	}
	for _, st := range o.Steps {
		n++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s -> %s\t%s\n", n, st.Image, st.Action, st.From, st.To, stepOutcome(o.DryRun, st.Outcome, st.Detail, st.Error))
	}
	_ = tw.Flush()
	if n == 0 {
		fmt.Fprintln(w, "no steps")
	}
	switch {
	case o.DryRun:
		fmt.Fprintf(w, "head after:   %s (expected)\n", o.ExpectedHead)
	case o.HeadAfter != nil:
		fmt.Fprintf(w, "head after:   %s (getFromFamily)\n", orDash(*o.HeadAfter))
	}
	for _, wn := range o.Warnings {
		fmt.Fprintf(w, "warning: %s\n", wn)
	}
}
