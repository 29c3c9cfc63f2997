package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/atomicfile"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

const rotateUsage = `usage: imagefamily rotate --project P (--family F ... | --all-families | --family-label K=V) [policy flags] [flags]

Rotates each family: reads it (and what uses its images), plans one step per
image under the policy, and carries the plan out. A failed action does not
stop the others; the exit code is 1 when any failed.

flags:
  --family F               a family to rotate (repeatable)
  --all-families           every family of the project
  --family-label K=V       every family with an image labelled K=V
  --dry-run                plan and print, change nothing
  --at TIME                plan as of TIME (RFC 3339); implies --dry-run
  --report FILE            also write the JSON report to FILE
  --parallelism N          image requests in flight per family (default 4; lowered
                           on quota errors); operations are waited for outside it

While it runs, each action is checked right before it is sent against a read
of the family at most 2 s old: an action whose image changed since it was
planned (labels, state, the head, a new user) is skipped, not sent, and
reported as such. Each family's lease is held while it is rotated.
` + policyUsage + leaseUsage + commonUsage

// rotateOutput is rotate's JSON output and --report file (docs/cli.md).
type rotateOutput struct {
	Project  string         `json:"project"`
	At       time.Time      `json:"at"`
	DryRun   bool           `json:"dry_run"`
	Families []apply.Report `json:"families"`
	// Errors are families that could not be read (nothing was done to them).
	Errors  []familyError `json:"errors"`
	Summary rotateSummary `json:"summary"`
}

type familyError struct {
	Family string `json:"family"`
	Error  string `json:"error"`
	// Busy: another imagefamily command held the family's lease.
	Busy bool `json:"busy,omitempty"`
}

type rotateSummary struct {
	Families int `json:"families"`
	Actions  int `json:"actions"`
	Done     int `json:"done"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
}

func cmdRotate(e *env, args []string) int {
	var (
		common      commonFlags
		pf          policyFlags
		lf          leaseFlags
		families    []string
		all         bool
		familyLabel string
		dryRun      bool
		atFlag      string
		reportFile  string
		parallelism = apply.DefaultParallelism
	)
	fs := newFlagSet("rotate")
	common.register(fs)
	pf.register(fs)
	lf.register(fs)
	fs.Var(listFlag{&families}, "family", "")
	fs.Var(boolFlag{&all}, "all-families", "")
	fs.StringVar(&familyLabel, "family-label", "", "")
	fs.Var(boolFlag{&dryRun}, "dry-run", "")
	fs.StringVar(&atFlag, "at", "", "")
	fs.StringVar(&reportFile, "report", "", "")
	fs.Var(intFlag{&parallelism, "use 1 or more, e.g. 4"}, "parallelism", "")
	pos, exit, done := e.parse(fs, args, rotateUsage)
	if done {
		return exit
	}
	if len(pos) > 0 {
		return e.fail(usagef("unexpected argument %q: name families with --family F", pos[0]), exitUsage)
	}
	if err := common.check(e); err != nil {
		return e.fail(err, exitUsage)
	}
	modes := 0
	for _, set := range []bool{len(families) > 0, all, familyLabel != ""} {
		if set {
			modes++
		}
	}
	if modes != 1 {
		return e.fail(usagef("choose the families with exactly one of --family F (repeatable), --all-families or --family-label K=V"), exitUsage)
	}
	for _, f := range families {
		if err := checkFamily(f); err != nil {
			return e.fail(err, exitUsage)
		}
	}
	var labelKey, labelValue string
	if familyLabel != "" {
		var err error
		if labelKey, labelValue, err = parseFamilyLabel(familyLabel); err != nil {
			return e.fail(err, exitUsage)
		}
	}
	pol, inUse, err := pf.read()
	if err != nil {
		return e.fail(err, exitUsage)
	}
	if parallelism < 1 {
		return e.fail(usagef("--parallelism %d: use 1 or more, e.g. 4", parallelism), exitUsage)
	}
	leaseOpts, err := lf.read()
	if err != nil {
		return e.fail(err, exitUsage)
	}
	at, err := parseAt(atFlag)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	if !at.IsZero() {
		dryRun = true
	} else {
		at = clock().UTC()
	}
	if reportFile != "" {
		// Fail before changing anything when the report cannot be written.
		f, err := os.OpenFile(reportFile, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return e.fail(usagef("--report %q: %v", reportFile, err), exitUsage)
		}
		_ = f.Close()
	}
	c, err := common.client(e)
	if err != nil {
		return e.fail(err, exitUsage)
	}
	defer c.Close()

	switch {
	case all:
		if families, err = familiesOf(e, c, common.project, ""); err != nil {
			return e.fail(fmt.Errorf("listing the families of project %s: %w", common.project, err), exitPartial)
		}
	case familyLabel != "":
		filter := fmt.Sprintf("labels.%s = %q", labelKey, labelValue)
		if families, err = familiesOf(e, c, common.project, filter); err != nil {
			return e.fail(fmt.Errorf("listing the families with label %s=%s in project %s: %w", labelKey, labelValue, common.project, err), exitPartial)
		}
	default:
		families = dedupe(families)
	}

	out := rotateOutput{Project: common.project, At: at, DryRun: dryRun, Families: []apply.Report{}, Errors: []familyError{}}
	progress := isTerminal(e.stderr) && !dryRun
	var mu sync.Mutex
	// One in-use scan serves the whole run (a destructive step asks for a
	// fresher one when it is over a minute old).
	reader := apply.Reader{C: c}
	if pol.CheckInUse {
		reader.Scans = apply.NewScans(c, apply.ScanProjects(common.project, inUse), nil)
		stopScan := reader.Scans.Start(e.ctx) // while the first lease is taken
		defer stopScan()
	}
	holder := leaseHolder("rotate")
	for _, family := range families {
		rep, err := rotateFamily(e, reader, common.project, family, pol, at, dryRun, holder, leaseOpts, apply.Options{Parallelism: parallelism}, func(r apply.Result) {
			if !progress {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(e.stderr, "%s: %s %s %s -> %s: %s\n", family, r.Action, r.Image, r.From, r.To, resultLine(r))
		})
		if err != nil {
			out.Errors = append(out.Errors, familyError{Family: family, Error: oneLine(err.Error()), Busy: isBusy(err)})
			e.warn("family %s: %v", family, err)
			continue
		}
		out.Families = append(out.Families, rep)
		out.Summary.Actions += len(rep.Results)
		out.Summary.Done += rep.Done()
		out.Summary.Skipped += rep.Skipped()
		out.Summary.Failed += rep.Failed()
	}
	out.Summary.Families = len(out.Families)

	if common.format == "json" {
		if err := writeJSON(e.stdout, out); err != nil {
			return e.fail(err, exitPartial)
		}
	} else {
		for i, rep := range out.Families {
			if i > 0 {
				fmt.Fprintln(e.stdout)
			}
			apply.WriteTable(e.stdout, rep)
		}
		if len(families) == 0 {
			fmt.Fprintln(e.stdout, "no families to rotate")
		}
	}
	code := exitOK
	switch {
	case out.Summary.Failed > 0 || slices.ContainsFunc(out.Errors, func(f familyError) bool { return !f.Busy }):
		code = exitPartial
	case len(out.Errors) > 0:
		code = exitBusy
	}
	if reportFile != "" {
		if err := writeReportFile(reportFile, out); err != nil {
			e.warn("--report %s: %v", reportFile, err)
			code = exitPartial
		}
	}
	counts := fmt.Sprintf("%d done, %d skipped, %d failed", out.Summary.Done, out.Summary.Skipped, out.Summary.Failed)
	if dryRun {
		counts = "planned (dry run: nothing done)"
	}
	fmt.Fprintf(e.stderr, "imagefamily rotate: %d %s, %d %s: %s; %d %s not rotated\n",
		out.Summary.Families, textfmt.Plural(out.Summary.Families, "family", "families"), out.Summary.Actions,
		textfmt.Plural(out.Summary.Actions, "action", "actions"), counts, len(out.Errors),
		textfmt.Plural(len(out.Errors), "family", "families"))
	return code
}

// rotateFamily rotates one family: takes its lease (not for a dry run: it
// changes nothing), reads it, plans, and carries the plan out on a fresh
// picture.
func rotateFamily(e *env, reader apply.Reader, project, family string, pol lifecycle.Policy, at time.Time, dryRun bool,
	holder string, leaseOpts apply.LeaseOptions, opts apply.Options, progress func(apply.Result)) (apply.Report, error) {
	var lease *apply.Lease
	if !dryRun {
		leaseOpts.Holder = holder
		var err error
		if lease, err = e.acquire(reader.C, project, family, leaseOpts); err != nil {
			return apply.Report{}, err
		}
		defer lease.Release(e.ctx)
	}
	s, readAt, err := reader.Family(e.ctx, project, family)
	if err != nil {
		return apply.Report{}, err
	}
	plan := lifecycle.Plan(s, pol, at)
	if dryRun {
		return apply.Preview(plan), nil
	}
	opts.Scans, opts.Seeds, opts.Lease, opts.Progress = reader.Scans, []apply.Seed{{Snapshot: s, At: readAt}}, lease, progress
	return apply.Apply(e.ctx, reader.C, project, plan, opts), nil
}

// resultLine is an action's outcome on one line.
func resultLine(r apply.Result) string {
	switch r.Outcome {
	case apply.OutcomeFailed:
		return "FAILED: " + oneLine(r.Err.Error())
	case apply.OutcomeSkipped:
		return "skipped: " + oneLine(r.Detail)
	case apply.OutcomeDone:
		if r.Detail != "" {
			return "done (" + r.Detail + ")"
		}
	}
	return string(r.Outcome)
}

func writeReportFile(path string, out rotateOutput) error {
	var b bytes.Buffer
	if err := writeJSON(&b, out); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}

// parseFamilyLabel reads --family-label K=V.
func parseFamilyLabel(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", usagef("--family-label %q: write it as KEY=VALUE, e.g. team=web", s)
	}
	if err := lifecycle.ValidateLabelKey(k); err != nil {
		return "", "", usagef("--family-label %q: %v", s, err)
	}
	if err := lifecycle.ValidateLabelValue(k, v); err != nil {
		return "", "", usagef("--family-label %q: %v", s, err)
	}
	return k, v, nil
}

// familiesOf lists the distinct families of the project's images matching
// filter, sorted, with the families that orphans of interrupted releases
// (in no family, labelled imagefamily-releasing-into) were released into:
// rotating those families is what cleans the orphans up.
func familiesOf(e *env, c interface {
	ListImages(ctx context.Context, project, filter string) ([]lifecycle.Image, error)
}, project, filter string) ([]string, error) {
	images, err := c.ListImages(e.ctx, project, filter)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, img := range images {
		fam := img.Family
		if fam == "" {
			fam = img.Labels[lifecycle.LabelReleasingInto]
		}
		if fam != "" && lifecycle.ValidateName(fam) == nil && !slices.Contains(out, fam) {
			out = append(out, fam)
		}
	}
	slices.Sort(out)
	return out, nil
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
