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
` + policyUsage + commonUsage

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
}

type rotateSummary struct {
	Families int `json:"families"`
	Actions  int `json:"actions"`
	Done     int `json:"done"`
	Failed   int `json:"failed"`
}

func cmdRotate(e *env, args []string) int {
	var (
		common      commonFlags
		pf          policyFlags
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
	for _, family := range families {
		s, err := apply.Gather(e.ctx, c, common.project, family, inUse, pol.CheckInUse)
		if err != nil {
			out.Errors = append(out.Errors, familyError{Family: family, Error: oneLine(err.Error())})
			e.warn("family %s: %v", family, err)
			continue
		}
		plan := lifecycle.Plan(s, pol, at)
		var rep apply.Report
		if dryRun {
			rep = apply.Preview(plan)
		} else {
			opts := apply.Options{Parallelism: parallelism}
			if progress {
				opts.Progress = func(r apply.Result) {
					mu.Lock()
					defer mu.Unlock()
					outcome := "done"
					if r.Err != nil {
						outcome = "FAILED: " + oneLine(r.Err.Error())
					}
					fmt.Fprintf(e.stderr, "%s: %s %s %s -> %s: %s\n", family, r.Action, r.Image, r.From, r.To, outcome)
				}
			}
			rep = apply.Apply(e.ctx, c, common.project, plan, opts)
		}
		out.Families = append(out.Families, rep)
		out.Summary.Actions += len(rep.Results)
		out.Summary.Done += rep.Done()
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
	if len(out.Errors) > 0 || out.Summary.Failed > 0 {
		code = exitPartial
	}
	if reportFile != "" {
		if err := writeReportFile(reportFile, out); err != nil {
			e.warn("--report %s: %v", reportFile, err)
			code = exitPartial
		}
	}
	verb := "done"
	if dryRun {
		verb = "planned (dry run)"
	}
	fmt.Fprintf(e.stderr, "imagefamily rotate: %d %s, %d %s %s, %d failed, %d %s unreadable\n",
		out.Summary.Families, textfmt.Plural(out.Summary.Families, "family", "families"), out.Summary.Actions,
		textfmt.Plural(out.Summary.Actions, "action", "actions"), verb, out.Summary.Failed, len(out.Errors),
		textfmt.Plural(len(out.Errors), "family", "families"))
	return code
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
// filter, sorted.
func familiesOf(e *env, c interface {
	ListImages(ctx context.Context, project, filter string) ([]lifecycle.Image, error)
}, project, filter string) ([]string, error) {
	images, err := c.ListImages(e.ctx, project, filter)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, img := range images {
		if img.Family != "" && !slices.Contains(out, img.Family) {
			out = append(out, img.Family)
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
