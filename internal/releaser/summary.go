package releaser

import (
	"fmt"
	"log"
	"slices"
	"strings"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// listed bounds the failed and the skipped actions the summary names one by
// one; the rest are counted, and the report and the log have them all.
const listed = 5

// rotationSummary reports a rotation in a few lines, whatever the family's
// size: one step with the actions counted by outcome, a detail
// per outcome counting its actions by kind, the untouched images counted by
// why, and the first few failures and skips. Every action with its reason
// and every untouched image with why are in the log (logPlan, logResult)
// and in the report.
func (r *run) rotationSummary(rep apply.Report) {
	// The head is not named again: the step before said it (verified, or
	// what a dry run would move the pointer to).
	n := len(rep.Results)
	switch {
	case n == 0:
		r.step("Rotation: nothing to do")
	case rep.DryRun:
		r.step("DRY RUN: the rotation would take %s", textfmt.Count(n, "action"))
		r.detail("would %s", byAction(rep.Results))
	default:
		r.step("Rotated the family: %s, %d done, %d skipped, %d failed", textfmt.Count(n, "action"), rep.Done(), rep.Skipped(), rep.Failed())
		for _, o := range []apply.Outcome{apply.OutcomeDone, apply.OutcomeSkipped, apply.OutcomeFailed} {
			if rs := withOutcome(rep.Results, o); len(rs) > 0 {
				r.detail("%s: %s", o, byAction(rs))
			}
		}
	}
	if len(rep.Untouched) > 0 {
		r.detail("untouched: %s (%s)", textfmt.Count(len(rep.Untouched), "image"), byWhy(rep.Untouched))
	}
	skipped := withOutcome(rep.Results, apply.OutcomeSkipped)
	for i, res := range skipped {
		if i == listed {
			r.detail("skipped: %d more", len(skipped)-listed)
			break
		}
		r.detail("skipped %s %s: %s", res.Action, res.Image, textfmt.OneLine(res.Detail))
	}
	failed := withOutcome(rep.Results, apply.OutcomeFailed)
	for i, res := range failed {
		if i == listed {
			r.problem(fmt.Sprintf("%d more rotation actions failed: the report and the log name them", len(failed)-listed))
			break
		}
		r.problem(fmt.Sprintf("%s %s failed: %s", res.Action, res.Image, textfmt.OneLine(errText(res.Err))))
	}
}

func withOutcome(results []apply.Result, o apply.Outcome) []apply.Result {
	var out []apply.Result
	for _, res := range results {
		if res.Outcome == o {
			out = append(out, res)
		}
	}
	return out
}

// byAction counts results by action, in the order of the life cycle:
// "deprecate 2, purge 1".
func byAction(results []apply.Result) string {
	keys := make([]lifecycle.Action, len(results))
	for i, res := range results {
		keys[i] = res.Action
	}
	return tally(keys, func(a, b lifecycle.Action) int { return actionRank(a) - actionRank(b) })
}

// actionRank orders the rotation's actions as an image meets them; others
// come last, in the order found.
func actionRank(a lifecycle.Action) int {
	for i, k := range []lifecycle.Action{lifecycle.ActionSchedule, lifecycle.ActionDeprecate, lifecycle.ActionObsolete,
		lifecycle.ActionMarkDeleted, lifecycle.ActionPurge} {
		if a == k {
			return i
		}
	}
	return 100
}

// byWhy counts untouched images by why, in plan order (the head first):
// "head 1, keep_active 1, in_use 3".
func byWhy(untouched []apply.Untouched) string {
	keys := make([]lifecycle.Why, len(untouched))
	for i, u := range untouched {
		keys[i] = u.Why
	}
	return tally(keys, nil)
}

// tally counts keys, "KEY N" each, in the order first met, stably sorted by
// order when it is given.
func tally[K ~string](keys []K, order func(a, b K) int) string {
	counts := map[K]int{}
	var seen []K
	for _, k := range keys {
		if counts[k] == 0 {
			seen = append(seen, k)
		}
		counts[k]++
	}
	if order != nil {
		slices.SortStableFunc(seen, order)
	}
	parts := make([]string, len(seen))
	for i, k := range seen {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// logPlan logs every entry of a rotation plan with its reason: what the
// summary leaves out.
func logPlan(plan lifecycle.RotationPlan) {
	for _, e := range plan.Entries {
		if e.Action == lifecycle.ActionNone {
			log.Printf("[INFO] imagefamily-release: rotation: %s %s untouched (%s): %s", e.Image.Name, e.From, e.Why, textfmt.OneLine(e.Reason))
			continue
		}
		log.Printf("[INFO] imagefamily-release: rotation: %s %s %s -> %s planned: %s", e.Action, e.Image.Name, e.From, e.To, textfmt.OneLine(e.Reason))
	}
}

// logResult logs a rotation action as it completes, with the quota errors
// it was sent again after.
func logResult(res apply.Result) {
	level, what := "INFO", string(res.Outcome)
	switch {
	case res.Outcome == apply.OutcomeFailed:
		level, what = "WARN", "failed: "+errText(res.Err)
	case res.Detail != "":
		what += ": " + res.Detail
	}
	retries := ""
	if res.QuotaRetries > 0 {
		retries = fmt.Sprintf(" (sent again after %s)", textfmt.Count(res.QuotaRetries, "quota error"))
	}
	log.Printf("[%s] imagefamily-release: rotation: %s %s %s -> %s %s%s", level, res.Action, res.Image, res.From, res.To, textfmt.OneLine(what), retries)
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
