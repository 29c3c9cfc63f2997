package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// Outcome is what became of one planned action.
type Outcome string

const (
	// OutcomeDone: carried out (or, for a delete, the image was already
	// gone: Detail says "already gone").
	OutcomeDone Outcome = "done"
	// OutcomeSkipped: not sent, because what it relied on changed since it
	// was planned (Detail says what), or an earlier required step did not
	// complete. Not a failure: nothing was done on a stale picture.
	OutcomeSkipped Outcome = "skipped"
	// OutcomeFailed: sent and refused, or not sent for an error (Err).
	OutcomeFailed Outcome = "failed"
	// OutcomePlanned: a dry run's action.
	OutcomePlanned Outcome = "planned"
)

// Result is the outcome of one action of a plan.
//
// JSON (stable, documented in docs/cli.md):
//
//	{"image": "web-v1", "action": "deprecate", "from": "ACTIVE", "to": "DEPRECATED",
//	 "reason": "...", "replacement": "https://www.googleapis.com/compute/v1/projects/p/global/images/web-v3",
//	 "deprecated": "2026-11-26T06:47:30Z", "obsolete": "...", "deleted": "...",
//	 "quota_retries": 0, "outcome": "done", "detail": "...", "error": "..."}
//
// replacement is absent when the status written has none; the three dates are
// null when unset (purge writes no status: all null); outcome is done,
// skipped, failed or planned; detail says why an action was skipped (or that
// a delete found the image already gone); error is present for failed
// actions only.
type Result struct {
	Image  string
	Action lifecycle.Action
	From   lifecycle.State
	To     lifecycle.State
	Reason string
	// Replacement and the dates are the deprecation status written (or, in
	// a dry run, that would be written).
	Replacement string
	Deprecated  *time.Time
	Obsolete    *time.Time
	Deleted     *time.Time
	// QuotaRetries counts how often Apply sent the action again after a
	// quota error (see the package documentation).
	QuotaRetries int
	// Phase names the plan's phase the action belongs to.
	Phase   string
	Outcome Outcome
	// Detail says why a skipped action was skipped, or "already gone".
	Detail string
	// Made is the image a copy created, as Compute Engine has it once made.
	Made *lifecycle.Image
	// Err is the failure of a failed action; nil otherwise.
	Err error
}

// Failure is why the action did not do what it was planned to: its error,
// or, for a skipped action, what changed; nil when it is done.
func (r Result) Failure() error {
	if r.Outcome == OutcomeSkipped {
		return errors.New(r.Detail)
	}
	return r.Err
}

type resultJSON struct {
	Image        string           `json:"image"`
	Action       lifecycle.Action `json:"action"`
	From         lifecycle.State  `json:"from"`
	To           lifecycle.State  `json:"to"`
	Reason       string           `json:"reason"`
	Replacement  string           `json:"replacement,omitempty"`
	Deprecated   *textfmt.Instant `json:"deprecated"`
	Obsolete     *textfmt.Instant `json:"obsolete"`
	Deleted      *textfmt.Instant `json:"deleted"`
	QuotaRetries int              `json:"quota_retries"`
	Outcome      Outcome          `json:"outcome"`
	Detail       string           `json:"detail,omitempty"`
	Error        string           `json:"error,omitempty"`
}

// MarshalJSON writes the stable form, the error as its message.
func (r Result) MarshalJSON() ([]byte, error) {
	j := resultJSON{Image: r.Image, Action: r.Action, From: r.From, To: r.To, Reason: r.Reason,
		Replacement: r.Replacement, Deprecated: textfmt.AtPtr(r.Deprecated), Obsolete: textfmt.AtPtr(r.Obsolete), Deleted: textfmt.AtPtr(r.Deleted),
		QuotaRetries: r.QuotaRetries, Outcome: r.Outcome, Detail: r.Detail}
	if r.Err != nil {
		j.Error = r.Err.Error()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the stable form back; an error comes back as a plain
// error carrying the message.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Result{Image: j.Image, Action: j.Action, From: j.From, To: j.To, Reason: j.Reason, Replacement: j.Replacement,
		Deprecated: j.Deprecated.Ptr(), Obsolete: j.Obsolete.Ptr(), Deleted: j.Deleted.Ptr(), QuotaRetries: j.QuotaRetries,
		Outcome: j.Outcome, Detail: j.Detail}
	if j.Error != "" {
		r.Err = errors.New(j.Error)
	}
	return nil
}

// Untouched is an image the plan leaves alone, and why.
type Untouched struct {
	Image string          `json:"image"`
	State lifecycle.State `json:"state"`
	// Why classifies the reason for programs (lifecycle.Why: head,
	// keep_active, min_age, protected, in_use, waiting, ...).
	Why    lifecycle.Why `json:"why"`
	Reason string        `json:"reason"`
	// Next is when the image's next step falls due, for a waiting image.
	Next *time.Time `json:"next,omitempty"`
	// UsedBy names the image's users ("instance template acme/web-tpl").
	UsedBy []string `json:"used_by,omitempty"`
}

// PolicyReport is the policy a report was planned with, durations written
// as lifecycle.FormatDuration does ("7d", "36h0m0s").
type PolicyReport struct {
	KeepActive    int    `json:"keep_active"`
	MinAge        string `json:"min_age"`
	ObsoleteAfter string `json:"obsolete_after"`
	DeleteAfter   string `json:"delete_after"`
	PurgeAfter    string `json:"purge_after"`
	ProtectLabel  string `json:"protect_label"`
	CheckInUse    bool   `json:"check_in_use"`
}

// Report is one rotation run over one family. Its JSON form is stable and
// documented in docs/cli.md:
//
//	{"project": "p", "family": "web", "at": "2026-11-26T06:47:30Z", "head": "web-v3",
//	 "dry_run": false, "policy": {...}, "results": [Result...], "untouched": [Untouched...]}
//
// results and untouched are in plan order (newest image first) and are []
// rather than null when empty.
type Report struct {
	Project string    `json:"project"`
	Family  string    `json:"family"`
	At      time.Time `json:"at"`
	// Head is the family head the plan was made with; "" when none.
	Head      string       `json:"head"`
	DryRun    bool         `json:"dry_run"`
	Policy    PolicyReport `json:"policy"`
	Results   []Result     `json:"results"`
	Untouched []Untouched  `json:"untouched"`
}

// Failed counts the actions that failed.
func (r Report) Failed() int { return Count(r.Results, OutcomeFailed) }

// Done counts the actions carried out (none in a dry run).
func (r Report) Done() int { return Count(r.Results, OutcomeDone) }

// Skipped counts the actions not sent because the world changed since they
// were planned (or an earlier required step did not complete).
func (r Report) Skipped() int { return Count(r.Results, OutcomeSkipped) }

// Count counts the results with outcome o.
func Count(results []Result, o Outcome) int {
	n := 0
	for _, res := range results {
		if res.Outcome == o {
			n++
		}
	}
	return n
}

// Err joins the errors of the failed actions, each prefixed with its image;
// nil when none failed.
func (r Report) Err() error {
	var errs []error
	for _, res := range r.Results {
		if res.Outcome == OutcomeFailed && res.Err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", res.Action, res.Image, res.Err))
		}
	}
	return errors.Join(errs...)
}

// Preview is the report of a dry run: every action the plan would take,
// none carried out.
func Preview(plan lifecycle.RotationPlan) Report {
	r := newReport(plan, true)
	for _, e := range plan.Actions() {
		res := resultOf(e)
		res.Outcome = OutcomePlanned
		r.Results = append(r.Results, res)
	}
	return r
}

// PolicyReportOf is p as reports write it.
func PolicyReportOf(p lifecycle.Policy) PolicyReport {
	return PolicyReport{KeepActive: p.KeepActive, MinAge: lifecycle.FormatDuration(p.MinAge),
		ObsoleteAfter: lifecycle.FormatDuration(p.ObsoleteAfter), DeleteAfter: lifecycle.FormatDuration(p.DeleteAfter),
		PurgeAfter: lifecycle.FormatDuration(p.PurgeAfter), ProtectLabel: p.ProtectLabel, CheckInUse: p.CheckInUse}
}

func newReport(plan lifecycle.RotationPlan, dryRun bool) Report {
	r := Report{Project: plan.Project, Family: plan.Family, At: plan.Now.UTC(), Head: plan.Head, DryRun: dryRun,
		Policy: PolicyReportOf(plan.Policy), Results: []Result{}, Untouched: []Untouched{}}
	for _, e := range plan.Entries {
		if e.Action != lifecycle.ActionNone {
			continue
		}
		u := Untouched{Image: e.Image.Name, State: e.From, Why: e.Why, Reason: e.Reason, Next: utc(e.Next)}
		for _, use := range e.UsedBy {
			u.UsedBy = append(u.UsedBy, use.String())
		}
		r.Untouched = append(r.Untouched, u)
	}
	return r
}

func resultOf(e lifecycle.Entry) Result {
	d := e.Deprecation
	return Result{Image: e.Image.Name, Action: e.Action, From: e.From, To: e.To, Reason: e.Reason,
		Replacement: d.Replacement, Deprecated: utc(d.Deprecated), Obsolete: utc(d.Obsolete), Deleted: utc(d.Deleted)}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// WriteTable writes the report for people: a heading line, the actions as an
// aligned table (image, action, from -> to, the dates written, the outcome,
// the reason), the errors of failed actions, then the untouched images and
// why.
func WriteTable(w io.Writer, r Report) {
	head := r.Head
	if head == "" {
		head = "(none)"
	}
	mode := ""
	if r.DryRun {
		mode = " (dry run: nothing changed)"
	}
	fmt.Fprintf(w, "family %s of project %s at %s: head %s%s\n", r.Family, r.Project, textfmt.TimeOrDash(&r.At), head, mode)
	if len(r.Results) == 0 {
		fmt.Fprintln(w, "no actions")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "IMAGE\tACTION\tFROM -> TO\tDEPRECATED\tOBSOLETE\tDELETED\tOUTCOME\tREASON")
		for _, res := range r.Results {
			fmt.Fprintf(tw, "%s\t%s\t%s -> %s\t%s\t%s\t%s\t%s\t%s\n", res.Image, res.Action, res.From, res.To,
				textfmt.TimeOrDash(res.Deprecated), textfmt.TimeOrDash(res.Obsolete), textfmt.TimeOrDash(res.Deleted), outcome(r, res), textfmt.OneLine(res.Reason))
		}
		_ = tw.Flush()
	}
	if r.Skipped() > 0 {
		fmt.Fprintf(w, "%d of %d actions skipped (not sent: what they relied on changed since they were planned):\n", r.Skipped(), len(r.Results))
		for _, res := range r.Results {
			if res.Outcome == OutcomeSkipped {
				fmt.Fprintf(w, "  %s %s: %s\n", res.Action, res.Image, textfmt.OneLine(res.Detail))
			}
		}
	}
	if r.Failed() > 0 {
		fmt.Fprintf(w, "%d of %d actions failed:\n", r.Failed(), len(r.Results))
		for _, res := range r.Results {
			if res.Outcome == OutcomeFailed && res.Err != nil {
				fmt.Fprintf(w, "  %s %s: %s\n", res.Action, res.Image, textfmt.OneLine(res.Err.Error()))
			}
		}
	}
	if len(r.Untouched) > 0 {
		fmt.Fprintln(w, "untouched:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  IMAGE\tSTATE\tWHY\tNEXT\tREASON")
		for _, u := range r.Untouched {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", u.Image, u.State, u.Why, textfmt.TimeOrDash(u.Next), textfmt.OneLine(u.Reason))
		}
		_ = tw.Flush()
	}
}

func outcome(r Report, res Result) string {
	switch {
	case r.DryRun:
		return "planned"
	case res.Outcome == OutcomeFailed:
		return "FAILED"
	case res.Outcome == OutcomeSkipped:
		return "skipped"
	case res.Detail != "":
		return "done (" + res.Detail + ")"
	case res.QuotaRetries > 0:
		return fmt.Sprintf("done (%d quota retries)", res.QuotaRetries)
	}
	return string(res.Outcome)
}
