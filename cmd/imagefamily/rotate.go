package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/atomicfile"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/planfile"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// rotateOutput is rotate's JSON output and --report file
// (docs/schemas/rotate.schema.json).
type rotateOutput struct {
	FormatVersion int             `json:"format_version"`
	Project       string          `json:"project"`
	At            textfmt.Instant `json:"at"`
	DryRun        bool            `json:"dry_run"`
	Families      []apply.Report  `json:"families"`
	// Errors are families that could not be read, or had no images
	// (nothing was done to them).
	Errors  []familyError `json:"errors"`
	Summary rotateSummary `json:"summary"`
}

type familyError struct {
	Family string `json:"family"`
	Error  string `json:"error"`
	// Busy: another imagefamily command held the family's lease.
	Busy bool `json:"busy,omitempty"`
	// Empty: the family named with --family has no images.
	Empty bool `json:"empty,omitempty"`
}

type rotateSummary struct {
	Families int `json:"families"`
	Actions  int `json:"actions"`
	Done     int `json:"done"`
	Skipped  int `json:"skipped"`
	Failed   int `json:"failed"`
}

// isEmptyFamily reports whether err is emptyFamily's.
func isEmptyFamily(err error) bool {
	var c codeError
	return errors.As(err, &c) && c.code == exitEmpty
}

func newRotateCommand(e *env) *cobra.Command {
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
		outFile     string
		allowEmpty  bool
		parallelism = apply.DefaultParallelism
	)
	c := &cobra.Command{
		Use:   "rotate (--family F ... | --all-families | --family-label K=V)",
		Short: "deprecate, obsolete, mark deleted and purge the old images",
		Long: `Rotates each family: reads it (and what uses its images), plans one step per
image under the policy, and carries the plan out. A failed action does not
stop the others; the exit code is 1 when any failed.

--dry-run prints the plan: a summary line, then the actions grouped by step.
--out FILE writes it as a plan file (and implies --dry-run) that
"imagefamily apply FILE" carries out later, exactly as reviewed.

While it runs, each action is checked right before it is sent against a read
of the family at most 2 s old: an action whose image changed since it was
planned (labels, state, the head, a new user) is skipped, not sent, and
reported as such. Each family's lease is held while it is rotated. A family
named with --family that has no images exits 4 unless --allow-empty.`,
		Example: `  imagefamily rotate --project acme-images --family web --dry-run
  imagefamily rotate --family web --dry-run --out plan.json && imagefamily apply plan.json
  imagefamily rotate --all-families --keep-active 3 --report rotate.json`,
		Args: noArgs("name families with --family F"),
	}
	fs := c.Flags()
	fs.Var(listValue{&families}, "family", "a family `F` to rotate (repeatable)")
	boolVar(fs, &all, "all-families", "every family of the project")
	fs.StringVar(&familyLabel, "family-label", "", "every family with an image labelled `K=V`")
	boolVar(fs, &dryRun, "dry-run", "plan and print the plan, change nothing")
	fs.StringVar(&outFile, "out", "", "write the plan to `FILE` for imagefamily apply (implies --dry-run)")
	fs.StringVar(&atFlag, "at", "", "plan as of `TIME` (RFC 3339); implies --dry-run")
	fs.StringVar(&reportFile, "report", "", "also write the JSON report to `FILE`")
	intVar(fs, &parallelism, "parallelism", "use 1 or more, e.g. 4", "`N` image requests in flight per family, lowered on quota errors")
	registerAllowEmpty(fs, &allowEmpty)
	pf.register(fs)
	lf.register(fs)
	common.register(fs)
	c.RunE = e.runE(func([]string) int {
		if err := common.check(e, fs); err != nil {
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
		if err := lifecycle.ValidateParallelism(parallelism); err != nil { // the plugin's rotation.parallelism rule
			return e.fail(usageError{spelled(err, flagName)}, exitUsage)
		}
		leaseOpts, err := lf.read()
		if err != nil {
			return e.fail(err, exitUsage)
		}
		at, err := parseAt(atFlag)
		if err != nil {
			return e.fail(err, exitUsage)
		}
		if outFile != "" {
			if !at.IsZero() {
				return e.fail(usagef("--out %q with --at %q: a plan to apply is made for now, not for another time; drop --at", outFile, atFlag), exitUsage)
			}
			dryRun = true
		}
		if !at.IsZero() {
			dryRun = true
		} else {
			at = clock().UTC()
		}
		for flag, file := range map[string]string{"--report": reportFile, "--out": outFile} {
			if err := checkWritable(flag, file); err != nil {
				return e.fail(err, exitUsage)
			}
		}
		cl, err := common.client(e)
		if err != nil {
			return e.fail(err, exitUsage)
		}
		defer cl.Close()

		explicit := len(families) > 0
		switch {
		case all:
			if families, err = familiesOf(e, cl, common.project, ""); err != nil {
				return e.fail(fmt.Errorf("listing the families of project %s: %w", common.project, err), exitPartial)
			}
		case familyLabel != "":
			filter := fmt.Sprintf("labels.%s = %q", labelKey, labelValue)
			if families, err = familiesOf(e, cl, common.project, filter); err != nil {
				return e.fail(fmt.Errorf("listing the families with label %s=%s in project %s: %w", labelKey, labelValue, common.project, err), exitPartial)
			}
		default:
			families = dedupe(families)
		}

		out := rotateOutput{FormatVersion: formatVersion, Project: common.project, At: textfmt.At(at), DryRun: dryRun,
			Families: []apply.Report{}, Errors: []familyError{}}
		pfile := planfile.Plan{Command: "rotate", Project: common.project, PlannedAt: textfmt.At(at), Policy: planfile.PolicyOf(pol),
			InUseProjects: inUse, Leases: []planfile.FamilyRef{}, Parts: []planfile.Part{}}
		if pfile.InUseProjects == nil {
			pfile.InUseProjects = []string{}
		}
		// One in-use scan serves the whole run (a destructive step asks for
		// a fresher one when it is over a minute old).
		reader := apply.Reader{C: cl}
		if pol.CheckInUse {
			reader.Scans = apply.NewScans(cl, apply.ScanProjects(common.project, inUse), nil)
			stopScan := reader.Scans.Start(e.ctx) // while the first lease is taken
			defer stopScan()
		}
		holder := leaseHolder("rotate")
		for _, family := range families {
			rf := rotation{e: e, reader: reader, project: common.project, family: family, pol: pol, at: at, dryRun: dryRun,
				holder: holder, lease: leaseOpts, opts: apply.Options{Parallelism: parallelism}, explicit: explicit && !allowEmpty}
			rep, part, err := rf.run()
			if err != nil {
				fe := familyError{Family: family, Error: textfmt.OneLine(err.Error()), Busy: isBusy(err), Empty: isEmptyFamily(err)}
				out.Errors = append(out.Errors, fe)
				if fe.Empty {
					e.fail(err, exitEmpty)
				} else {
					e.warn("family %s: %v", family, err)
				}
				continue
			}
			out.Families = append(out.Families, rep)
			out.Summary.Actions += len(rep.Results)
			out.Summary.Done += rep.Done()
			out.Summary.Skipped += rep.Skipped()
			out.Summary.Failed += rep.Failed()
			if len(part.Phases) > 0 && len(part.Phases[0].Entries) > 0 {
				pfile.Parts = append(pfile.Parts, part)
				pfile.Leases = append(pfile.Leases, planfile.FamilyRef{Project: common.project, Family: family})
			}
		}
		out.Summary.Families = len(out.Families)

		if err := e.write(common.format, out); err != nil {
			return e.fail(err, exitPartial)
		}
		code := exitOK
		switch {
		case out.Summary.Failed > 0 || slices.ContainsFunc(out.Errors, func(f familyError) bool { return !f.Busy && !f.Empty }):
			code = exitPartial
		case slices.ContainsFunc(out.Errors, func(f familyError) bool { return f.Busy }):
			code = exitBusy
		case len(out.Errors) > 0:
			code = exitEmpty
		}
		if reportFile != "" {
			if err := writeFileJSON(reportFile, out); err != nil {
				e.warn("--report %s: %v", reportFile, err)
				code = exitPartial
			}
		}
		if outFile != "" {
			if err := e.savePlan(outFile, pfile); err != nil {
				return e.fail(err, exitPartial)
			}
		}
		e.info("%s; %d %s not rotated", rotateCounts(out.Summary, dryRun), len(out.Errors), textfmt.Plural(len(out.Errors), "family", "families"))
		return code
	})
	return c
}

// rotateCounts is the summary line: each action counted once, by what
// became of it.
func rotateCounts(s rotateSummary, dryRun bool) string {
	fam := fmt.Sprintf("%d %s", s.Families, textfmt.Plural(s.Families, "family", "families"))
	if dryRun {
		return fmt.Sprintf("%s, %s planned (dry run: nothing done)", fam, textfmt.Count(s.Actions, "action"))
	}
	return fmt.Sprintf("%s, %s: %s", fam, textfmt.Count(s.Actions, "action"), outcomeLine(s.Done, s.Skipped, s.Failed, s.Actions))
}

// outcomeLine counts outcomes: "2 done, 0 skipped, 1 failed", with the
// actions neither done, skipped nor failed (a run cut short) said apart, so
// that the numbers add up to the actions.
func outcomeLine(done, skipped, failed, total int) string {
	line := fmt.Sprintf("%d done, %d skipped, %d failed", done, skipped, failed)
	if rest := total - done - skipped - failed; rest > 0 {
		line += fmt.Sprintf(", %d not carried out", rest)
	}
	return line
}

// rotation is one family's rotation.
type rotation struct {
	e        *env
	reader   apply.Reader
	project  string
	family   string
	pol      lifecycle.Policy
	at       time.Time
	dryRun   bool
	holder   string
	lease    apply.LeaseOptions
	opts     apply.Options
	explicit bool // named with --family and no --allow-empty: empty is an error
}

// run rotates the family: takes its lease (not for a dry run: it changes
// nothing), reads it, plans, and carries the plan out on a fresh picture.
func (r rotation) run() (apply.Report, planfile.Part, error) {
	e := r.e
	var lease *apply.Lease
	if !r.dryRun {
		r.lease.Holder = r.holder
		var err error
		if lease, err = e.acquire(r.reader.C, r.project, r.family, r.lease); err != nil {
			return apply.Report{}, planfile.Part{}, err
		}
		defer lease.Release(e.ctx)
	}
	s, readAt, err := r.reader.Family(e.ctx, r.project, r.family)
	if err != nil {
		return apply.Report{}, planfile.Part{}, err
	}
	if r.explicit && len(s.Images) == 0 {
		return apply.Report{}, planfile.Part{}, emptyFamily(e, r.reader.C, r.project, r.family)
	}
	plan := lifecycle.Plan(s, r.pol, r.at)
	part := planfile.Part{Project: r.project, Family: r.family, Head: plan.Head, ReadAt: textfmt.At(readAt),
		Phases: planfile.PhasesOf([]lifecycle.Phase{{Name: "rotation", Entries: plan.Actions()}})}
	if r.dryRun {
		return apply.Preview(plan), part, nil
	}
	p := e.startProgress("rotate "+r.family, len(plan.Actions()), r.opts.Parallelism)
	defer p.finish()
	opts := r.opts
	opts.Scans, opts.Seeds, opts.Leases = r.reader.Scans, []apply.Seed{{Snapshot: s, At: readAt}}, []*apply.Lease{lease}
	opts.Progress, opts.OnParallelism = p.result, p.parallelismChanged
	return apply.Apply(e.ctx, r.reader.C, r.project, plan, opts), part, nil
}

// checkWritable fails before anything is changed when file cannot be
// written.
func checkWritable(flag, file string) error {
	if file == "" {
		return nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return usagef("%s %q: %v", flag, file, err)
	}
	return f.Close()
}

func writeFileJSON(path string, v any) error {
	var b bytes.Buffer
	if err := writeJSON(&b, v); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}

// savePlan writes the plan --out names and says how to apply it.
func (e *env) savePlan(path string, p planfile.Plan) error {
	if err := writePlanFile(path, p); err != nil {
		return fmt.Errorf("--out %s: %w", path, err)
	}
	e.info("plan written to %s: apply it with imagefamily apply %s", path, path)
	return nil
}

func writePlanFile(path string, p planfile.Plan) error {
	var b bytes.Buffer
	if err := planfile.Write(&b, p); err != nil {
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
func familiesOf(e *env, c imageLister, project, filter string) ([]string, error) {
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

// ---- output ----

func (o rotateOutput) table(w io.Writer, wide bool, width int) {
	for i, rep := range o.Families {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if o.DryRun {
			writePlanTable(w, rep, wide, width)
		} else {
			writeReportTable(w, rep, wide, width)
		}
	}
	if len(o.Families) == 0 && len(o.Errors) == 0 {
		fmt.Fprintln(w, "no families to rotate")
	}
	if o.DryRun && len(o.Families) > 1 {
		fmt.Fprintln(w)
		var all apply.Report
		for _, rep := range o.Families {
			all.Results = append(all.Results, rep.Results...)
			all.Untouched = append(all.Untouched, rep.Untouched...)
		}
		fmt.Fprint(w, wrapIndented("", "Total: "+planSummary(all), headerWidth(width)))
	}
}

func familyHeading(rep apply.Report) string {
	mode := ""
	if rep.DryRun {
		mode = " (dry run: nothing changed)"
	}
	return fmt.Sprintf("family %s of project %s at %s: head %s%s", rep.Family, rep.Project, textfmt.Time(rep.At), orDefault(rep.Head, "(none)"), mode)
}

// planSummary counts a plan: "1 to deprecate, 1 to mark-deleted, 4 kept
// (head 1, keep_active 1, in_use 1, protected 1), 1 waiting".
func planSummary(rep apply.Report) string {
	var parts []string
	order, counts := []lifecycle.Action{}, map[lifecycle.Action]int{}
	for _, r := range rep.Results {
		if counts[r.Action] == 0 {
			order = append(order, r.Action)
		}
		counts[r.Action]++
	}
	for _, a := range actionOrder(order) {
		parts = append(parts, fmt.Sprintf("%d to %s", counts[a], a))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	kept, whyOrder, whys := 0, []lifecycle.Why{}, map[lifecycle.Why]int{}
	waiting := 0
	for _, u := range rep.Untouched {
		if protections[u.Why] {
			kept++
			if whys[u.Why] == 0 {
				whyOrder = append(whyOrder, u.Why)
			}
			whys[u.Why]++
		} else {
			waiting++
		}
	}
	if kept > 0 {
		var ws []string
		for _, w := range whyOrder {
			ws = append(ws, fmt.Sprintf("%s %d", strings.ReplaceAll(string(w), "in_use", "in use"), whys[w]))
		}
		parts = append(parts, fmt.Sprintf("%d kept (%s)", kept, strings.Join(ws, ", ")))
	}
	if waiting > 0 {
		parts = append(parts, fmt.Sprintf("%d waiting", waiting))
	}
	return strings.Join(parts, ", ")
}

// actionOrder sorts actions in the order of an image's life.
func actionOrder(as []lifecycle.Action) []lifecycle.Action {
	rank := map[lifecycle.Action]int{lifecycle.ActionCopy: 0, lifecycle.ActionLabel: 1, lifecycle.ActionMove: 2,
		lifecycle.ActionDeprecate: 3, lifecycle.ActionObsolete: 4, lifecycle.ActionSchedule: 5,
		lifecycle.ActionMarkDeleted: 6, lifecycle.ActionPurge: 7, lifecycle.ActionDelete: 8}
	out := slices.Clone(as)
	slices.SortStableFunc(out, func(a, b lifecycle.Action) int { return rank[a] - rank[b] })
	return out
}

// writePlanTable writes a dry run: the summary first, then the actions
// grouped by step, each group's common part said once.
func writePlanTable(w io.Writer, rep apply.Report, wide bool, width int) {
	fit := headerWidth(width)
	fmt.Fprint(w, wrapIndented("", familyHeading(rep), fit))
	fmt.Fprint(w, wrapIndented("", "Plan: "+planSummary(rep), fit))
	type group struct {
		action   lifecycle.Action
		from, to lifecycle.State
		repl     string
		results  []apply.Result
	}
	var groups []*group
	find := map[string]*group{}
	for _, r := range rep.Results {
		k := string(r.Action) + "|" + string(r.From) + "|" + string(r.To) + "|" + r.Replacement
		g := find[k]
		if g == nil {
			g = &group{action: r.Action, from: r.From, to: r.To, repl: r.Replacement}
			find[k] = g
			groups = append(groups, g)
		}
		g.results = append(g.results, r)
	}
	for _, g := range groups {
		fmt.Fprintln(w)
		head := fmt.Sprintf("%s: %s", g.action, textfmt.Count(len(g.results), "image"))
		if g.from != "" || g.to != "" {
			head += fmt.Sprintf(", %s -> %s", orDash(string(g.from)), orDash(string(g.to)))
		}
		if g.repl != "" {
			head += ", replaced by " + lastSegment(g.repl)
		}
		fmt.Fprint(w, wrapIndented("", head, fit))
		n := len(g.results)
		cols := []column{{header: "IMAGE", cells: make([]string, n)}}
		dates := []struct {
			header string
			get    func(apply.Result) *time.Time
			show   bool
		}{
			{"DEPRECATED", func(r apply.Result) *time.Time { return r.Deprecated }, wide},
			{"OBSOLETE", func(r apply.Result) *time.Time { return r.Obsolete }, wide || g.to == lifecycle.StateDeprecated},
			{"DELETED", func(r apply.Result) *time.Time { return r.Deleted }, wide || g.to == lifecycle.StateDeprecated || g.to == lifecycle.StateObsolete},
		}
		for i, r := range g.results {
			cols[0].cells[i] = r.Image
		}
		for _, d := range dates {
			if !d.show {
				continue
			}
			c := column{header: d.header, cells: make([]string, n), short: make([]string, n)}
			for i, r := range g.results {
				c.cells[i] = textfmt.TimeOrDash(d.get(r))
				c.short[i] = dateOrDash(d.get(r))
			}
			cols = append(cols, c)
		}
		if wide {
			c := column{header: "REASON", cells: make([]string, n), text: true}
			for i, r := range g.results {
				c.cells[i] = textfmt.OneLine(r.Reason)
			}
			cols = append(cols, c)
		}
		writeTable(w, "  ", cols, tableWidth(wide, width))
	}
	if wide {
		writeUntouched(w, rep, width)
	}
}

func lastSegment(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// writeReportTable writes what a run did: the actions and their outcomes,
// the errors and skips under them, then what was kept.
func writeReportTable(w io.Writer, rep apply.Report, wide bool, width int) {
	fit := headerWidth(width)
	fmt.Fprint(w, wrapIndented("", familyHeading(rep), fit))
	if len(rep.Results) == 0 {
		fmt.Fprintln(w, "no actions")
	} else {
		n := len(rep.Results)
		cols := []column{
			{header: "IMAGE", cells: make([]string, n)},
			{header: "ACTION", cells: make([]string, n)},
			{header: "FROM -> TO", cells: make([]string, n), short: make([]string, n), shortHeader: "TO"},
			{header: "OUTCOME", cells: make([]string, n)},
		}
		if wide {
			cols = append(cols, column{header: "DEPRECATED", cells: make([]string, n)}, column{header: "OBSOLETE", cells: make([]string, n)},
				column{header: "DELETED", cells: make([]string, n)}, column{header: "REASON", cells: make([]string, n), text: true})
		}
		for i, r := range rep.Results {
			cols[0].cells[i], cols[1].cells[i] = r.Image, string(r.Action)
			cols[2].cells[i] = fmt.Sprintf("%s -> %s", orDash(string(r.From)), orDash(string(r.To)))
			cols[2].short[i] = orDash(string(r.To))
			cols[3].cells[i] = reportOutcome(r)
			if wide {
				cols[4].cells[i], cols[5].cells[i], cols[6].cells[i] = textfmt.TimeOrDash(r.Deprecated), textfmt.TimeOrDash(r.Obsolete), textfmt.TimeOrDash(r.Deleted)
				cols[7].cells[i] = textfmt.OneLine(r.Reason)
			}
		}
		writeTable(w, "", cols, tableWidth(wide, width))
	}
	for _, o := range []struct {
		outcome apply.Outcome
		says    string
	}{{apply.OutcomeSkipped, "skipped (not sent: what they relied on changed since they were planned)"}, {apply.OutcomeFailed, "failed"}} {
		if k := apply.Count(rep.Results, o.outcome); k > 0 {
			fmt.Fprintf(w, "%d of %d actions %s:\n", k, len(rep.Results), o.says)
			for _, r := range rep.Results {
				if r.Outcome != o.outcome {
					continue
				}
				why := r.Detail
				if r.Err != nil {
					why = r.Err.Error()
				}
				fmt.Fprint(w, wrapIndented("  ", fmt.Sprintf("%s %s: %s", r.Action, r.Image, textfmt.OneLine(why)), fit))
			}
		}
	}
	if wide {
		writeUntouched(w, rep, width)
	} else if len(rep.Untouched) > 0 {
		fmt.Fprint(w, wrapIndented("", "Untouched: "+strings.TrimPrefix(planSummary(apply.Report{Untouched: rep.Untouched}), "nothing to do, "), fit))
	}
}

func reportOutcome(r apply.Result) string {
	switch {
	case r.Outcome == apply.OutcomeFailed:
		return "FAILED"
	case r.Outcome == apply.OutcomeDone && r.Detail != "":
		return "done (" + r.Detail + ")"
	case r.Outcome == apply.OutcomeDone && r.QuotaRetries > 0:
		return fmt.Sprintf("done (%d quota retries)", r.QuotaRetries)
	}
	return string(r.Outcome)
}

func writeUntouched(w io.Writer, rep apply.Report, width int) {
	if len(rep.Untouched) == 0 {
		return
	}
	fmt.Fprintln(w, "untouched:")
	n := len(rep.Untouched)
	cols := []column{{header: "IMAGE", cells: make([]string, n)}, {header: "STATE", cells: make([]string, n)},
		{header: "WHY", cells: make([]string, n)}, {header: "NEXT", cells: make([]string, n)}, {header: "REASON", cells: make([]string, n), text: true}}
	for i, u := range rep.Untouched {
		cols[0].cells[i], cols[1].cells[i], cols[2].cells[i] = u.Image, string(u.State), string(u.Why)
		cols[3].cells[i], cols[4].cells[i] = textfmt.TimeOrDash(u.Next), textfmt.OneLine(u.Reason)
	}
	writeTable(w, "  ", cols, 0)
}

func (o rotateOutput) rows() [][]string {
	out := [][]string{{"family", "image", "action", "from", "to", "deprecated", "obsolete", "deleted", "outcome", "detail", "error", "reason"}}
	for _, rep := range o.Families {
		for _, r := range rep.Results {
			errText := ""
			if r.Err != nil {
				errText = textfmt.OneLine(r.Err.Error())
			}
			out = append(out, []string{rep.Family, r.Image, string(r.Action), string(r.From), string(r.To), stamp(r.Deprecated),
				stamp(r.Obsolete), stamp(r.Deleted), string(r.Outcome), r.Detail, errText, textfmt.OneLine(r.Reason)})
		}
	}
	return out
}

// dateOrDash is a date alone (the short form of a time in a narrow table).
func dateOrDash(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}
