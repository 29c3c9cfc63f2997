package releaser

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// lines is a Reporter keeping every line marked with its kind.
type lines []string

func (l *lines) Say(s string)     { *l = append(*l, "say "+s) }
func (l *lines) Message(s string) { *l = append(*l, "msg "+s) }
func (l *lines) Error(s string)   { *l = append(*l, "err "+s) }

// quiet sends the log to a buffer for the test.
func quiet(t *testing.T) *bytes.Buffer {
	var b bytes.Buffer
	prev, flags := log.Writer(), log.Flags()
	log.SetOutput(&b)
	log.SetFlags(0)
	t.Cleanup(func() { log.SetOutput(prev); log.SetFlags(flags) })
	return &b
}

func results(action lifecycle.Action, o apply.Outcome, n int, first int) []apply.Result {
	var out []apply.Result
	for i := first; i < first+n; i++ {
		res := apply.Result{Image: fmt.Sprintf("web-v%d", i), Action: action, From: lifecycle.StateActive, To: lifecycle.StateDeprecated, Outcome: o}
		switch o {
		case apply.OutcomeSkipped:
			res.Detail = "its labels changed since it was planned"
		case apply.OutcomeFailed:
			res.Err = errors.New("Deprecate: quota exceeded\n(403 rateLimitExceeded)")
		}
		out = append(out, res)
	}
	return out
}

func TestTheRotationIsSaidInAFewLinesWhateverItsSize(t *testing.T) {
	untouched := []apply.Untouched{{Image: "web-v99", Why: lifecycle.WhyHead}, {Image: "web-v98", Why: lifecycle.WhyKeepActive},
		{Image: "web-v97", Why: lifecycle.WhyInUse}, {Image: "web-v96", Why: lifecycle.WhyInUse}}
	for _, tc := range []struct {
		name string
		rep  apply.Report
		want []string
	}{
		{"nothing to do", apply.Report{Head: "web-v99", Untouched: untouched[:2]}, []string{
			"say Rotation: nothing to do",
			"msg untouched: 2 images (head 1, keep_active 1)",
		}},
		{"an empty family: no untouched line", apply.Report{}, []string{"say Rotation: nothing to do"}},
		{"hundreds of actions: counted, the failures and skips named up to five each", apply.Report{Head: "web-v99", Untouched: untouched,
			Results: slices.Concat(results(lifecycle.ActionPurge, apply.OutcomeDone, 150, 1), results(lifecycle.ActionDeprecate, apply.OutcomeDone, 340, 200),
				results(lifecycle.ActionDeprecate, apply.OutcomeSkipped, 6, 600), results(lifecycle.ActionObsolete, apply.OutcomeFailed, 7, 700))},
			[]string{
				"say Rotated the family: 503 actions, 490 done, 6 skipped, 7 failed",
				"msg done: deprecate 340, purge 150",
				"msg skipped: deprecate 6",
				"msg failed: obsolete 7",
				"msg untouched: 4 images (head 1, keep_active 1, in_use 2)",
				"msg skipped deprecate web-v600: its labels changed since it was planned",
				"msg skipped deprecate web-v601: its labels changed since it was planned",
				"msg skipped deprecate web-v602: its labels changed since it was planned",
				"msg skipped deprecate web-v603: its labels changed since it was planned",
				"msg skipped deprecate web-v604: its labels changed since it was planned",
				"msg skipped: 1 more",
				"err obsolete web-v700 failed: Deprecate: quota exceeded (403 rateLimitExceeded)",
				"err obsolete web-v701 failed: Deprecate: quota exceeded (403 rateLimitExceeded)",
				"err obsolete web-v702 failed: Deprecate: quota exceeded (403 rateLimitExceeded)",
				"err obsolete web-v703 failed: Deprecate: quota exceeded (403 rateLimitExceeded)",
				"err obsolete web-v704 failed: Deprecate: quota exceeded (403 rateLimitExceeded)",
				"err 2 more rotation actions failed: the report and the log name them",
			}},
		{"a dry run says what it would do", apply.Report{Head: "web-v99", DryRun: true, Untouched: untouched[:1],
			Results: slices.Concat(results(lifecycle.ActionDeprecate, apply.OutcomePlanned, 2, 1), results(lifecycle.ActionSchedule, apply.OutcomePlanned, 1, 5))},
			[]string{
				"say DRY RUN: the rotation would take 3 actions",
				"msg would schedule 1, deprecate 2",
				"msg untouched: 1 image (head 1)",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			quiet(t)
			var got lines
			r := &run{rep: &got, out: &Outcome{}}
			r.rotationSummary(tc.rep)
			if !slices.Equal(got, tc.want) {
				t.Errorf("said:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestTheLogHasEveryActionAndWhy(t *testing.T) {
	buf := quiet(t)
	logPlan(lifecycle.RotationPlan{Entries: []lifecycle.Entry{
		{Image: lifecycle.Image{Name: "web-v3"}, Action: lifecycle.ActionNone, From: lifecycle.StateActive, Why: lifecycle.WhyHead, Reason: "family head"},
		{Image: lifecycle.Image{Name: "web-v1"}, Action: lifecycle.ActionDeprecate, From: lifecycle.StateActive, To: lifecycle.StateDeprecated, Reason: "not among\nthe 2 newest"},
	}})
	logResult(apply.Result{Image: "web-v1", Action: lifecycle.ActionDeprecate, From: lifecycle.StateActive, To: lifecycle.StateDeprecated, Outcome: apply.OutcomeDone, QuotaRetries: 2})
	logResult(apply.Result{Image: "web-v0", Action: lifecycle.ActionPurge, From: lifecycle.StateDeleted, To: lifecycle.StateDeleted, Outcome: apply.OutcomeDone, Detail: "already gone"})
	logResult(apply.Result{Image: "web-v2", Action: lifecycle.ActionObsolete, From: lifecycle.StateDeprecated, To: lifecycle.StateObsolete, Outcome: apply.OutcomeFailed, Err: errors.New("boom")})
	want := []string{
		"[INFO] imagefamily-release: rotation: web-v3 ACTIVE untouched (head): family head",
		"[INFO] imagefamily-release: rotation: deprecate web-v1 ACTIVE -> DEPRECATED planned: not among the 2 newest",
		"[INFO] imagefamily-release: rotation: deprecate web-v1 ACTIVE -> DEPRECATED done (sent again after 2 quota errors)",
		"[INFO] imagefamily-release: rotation: purge web-v0 DELETED -> DELETED done: already gone",
		"[WARN] imagefamily-release: rotation: obsolete web-v2 DEPRECATED -> OBSOLETE failed: boom",
	}
	if got := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n"); !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
