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

flags:
  --family F    the family (required)
  --to IMAGE    the image to roll back to (any spelling of an image reference)
  --block       make the newer images OBSOLETE instead of DEPRECATED
  --dry-run     print the plan, change nothing
` + commonUsage

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
	Name   string            `json:"name"`
	Source string            `json:"source"`
	Labels map[string]string `json:"labels"`
	Error  string            `json:"error,omitempty"`
	Done   bool              `json:"done"`
}

type rollbackStep struct {
	Image       string           `json:"image"`
	Action      lifecycle.Action `json:"action"`
	From        lifecycle.State  `json:"from"`
	To          lifecycle.State  `json:"to"`
	Replacement string           `json:"replacement"`
	Done        bool             `json:"done"`
	Error       string           `json:"error,omitempty"`
}

func cmdRollback(e *env, args []string) int {
	var (
		common commonFlags
		family string
		to     string
		block  bool
		dryRun bool
	)
	fs := newFlagSet("rollback")
	common.register(fs)
	fs.StringVar(&family, "family", "", "")
	fs.StringVar(&to, "to", "", "")
	fs.Var(boolFlag{&block}, "block", "")
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
	c, err := common.client(e)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	defer c.Close()

	project := common.project
	s, err := apply.Gather(e.ctx, c, project, family, nil, false)
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
		return e.fail(usagef("%s: %s", flagName, strings.TrimPrefix(err.Error(), "rollback: ")), exitUsage)
	}
	if plan.Rerelease != nil {
		if plan, err = plan.Named(rollbackCopyName(plan.Target.Name, now)); err != nil {
			return e.fail(err, exitPartial)
		}
	}

	out := rollbackOutput{Project: project, Family: family, At: now, DryRun: dryRun, Block: block, HeadBefore: plan.Head,
		Target: plan.Target.Name, TargetState: plan.Target.State(), ExpectedHead: plan.NewHead(),
		Steps: []rollbackStep{}, Warnings: append([]string{}, plan.Warnings...)}
	if r := plan.Rerelease; r != nil {
		out.Rerelease = &rerelease{Name: r.Name, Source: r.Source.Name, Labels: r.Labels}
	}
	for _, st := range plan.Steps {
		out.Steps = append(out.Steps, rollbackStep{Image: st.Image.Name, Action: st.Action, From: st.Image.State(),
			To: st.Deprecation.State, Replacement: st.Deprecation.Replacement})
	}

	code := exitOK
	if !dryRun {
		code = carryOutRollback(e, c, plan, &out)
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

// carryOutRollback creates the copy (if any), then writes the steps newest
// first, then checks what the family resolves to. A failed copy stops there:
// deprecating the newer images without it could leave the family with no
// head.
func carryOutRollback(e *env, c gce.Compute, plan lifecycle.RollbackPlan, out *rollbackOutput) int {
	code := exitOK
	if r := plan.Rerelease; r != nil && r.Existing {
		out.Rerelease.Done = true // made by an earlier run of this rollback
	} else if r != nil {
		src := r.Source
		_, err := c.InsertImageFromImage(e.ctx, plan.Project, gce.ImageSpec{
			Name:         r.Name,
			SourceImage:  src.Ref().String(),
			Family:       plan.Family,
			Description:  fmt.Sprintf("Rollback copy of %s (imagefamily rollback)", src.Name),
			Labels:       r.Labels,
			Architecture: src.Architecture,
		})
		if err != nil {
			out.Rerelease.Error = oneLine(err.Error())
			out.Error = fmt.Sprintf("re-releasing %s as %s failed, nothing else was changed: %v", src.Name, r.Name, err)
			return exitPartial
		}
		out.Rerelease.Done = true
	}
	for i, st := range plan.Steps {
		if err := c.Deprecate(e.ctx, st.Image.Project, st.Image.Name, st.Deprecation); err != nil {
			out.Steps[i].Error = oneLine(err.Error())
			code = exitPartial
			continue
		}
		out.Steps[i].Done = true
	}
	head, err := c.GetFromFamily(e.ctx, plan.Project, plan.Family)
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
		out.Error = "some steps failed (see above); the family resolves to the expected head"
	}
	return code
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
		fmt.Fprintf(tw, "%d\t%s\tcopy of %s\t- -> ACTIVE\t%s\n", n, r.Name, r.Source, outcome(o.DryRun, r.Done, r.Error))
	}
	for _, st := range o.Steps {
		n++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s -> %s\t%s\n", n, st.Image, st.Action, st.From, st.To, outcome(o.DryRun, st.Done, st.Error))
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
