package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func TestReportJSONIsStable(t *testing.T) {
	fake := gcetest.New(family("p", 4)...)
	c := &throttling{Compute: fake, fail: map[string]error{"web-v1": &gce.Error{Kind: gce.ErrInvalid, Method: "images.deprecate", Code: 400, Message: "bad"}}}
	rep := Apply(context.Background(), c, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(c, Options{}))
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"project", "family", "at", "head", "dry_run", "policy", "results", "untouched"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("report JSON lacks %q: %s", k, b)
		}
	}
	res := generic["results"].([]any)
	first := res[0].(map[string]any)
	for _, k := range []string{"image", "action", "from", "to", "reason", "replacement", "deprecated", "obsolete", "deleted", "quota_retries"} {
		if _, ok := first[k]; !ok {
			t.Errorf("result JSON lacks %q: %v", k, first)
		}
	}
	if _, ok := first["error"]; ok {
		t.Errorf("a successful result carries an error: %v", first)
	}
	if got := res[1].(map[string]any)["error"]; got == nil || !strings.Contains(got.(string), "bad") {
		t.Errorf("failed result error = %v, want the message", got)
	}
	if got := generic["at"]; got != "2026-11-26T06:47:30.000Z" { // textfmt.Stamp: milliseconds, like Compute Engine
		t.Errorf("at = %v", got)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Failed() != 1 || back.Results[1].Err == nil || back.Results[0].Deprecated == nil || !back.Results[0].Deprecated.Equal(now) {
		t.Errorf("round trip lost data: %+v", back.Results)
	}
}

func TestPreviewListsActionsWithoutCarryingThemOut(t *testing.T) {
	fake := gcetest.New(family("p", 4)...)
	plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
	calls := len(fake.Calls())
	rep := Preview(plan)
	if !rep.DryRun || len(rep.Results) != 2 || rep.Done() != 0 || rep.Failed() != 0 {
		t.Fatalf("preview = %+v", rep)
	}
	if len(fake.Calls()) != calls {
		t.Errorf("preview called Compute Engine: %v", fake.CallStrings()[calls:])
	}
	var buf bytes.Buffer
	WriteTable(&buf, rep)
	if !strings.Contains(buf.String(), "dry run") || !strings.Contains(buf.String(), "planned") {
		t.Errorf("table = %s", buf.String())
	}
}

func TestWriteTableShowsActionsFailuresAndUntouched(t *testing.T) {
	rep := Report{Project: "p", Family: "web", At: now, Head: "web-v3",
		Results: []Result{
			{Image: "web-v2", Action: lifecycle.ActionDeprecate, From: lifecycle.StateActive, To: lifecycle.StateDeprecated,
				Reason: "old", Deprecated: at(now), Obsolete: at(now.Add(7 * day)), Deleted: at(now.Add(37 * day)), QuotaRetries: 2, Outcome: OutcomeDone},
			{Image: "web-v1", Action: lifecycle.ActionPurge, From: lifecycle.StateDeleted, To: lifecycle.StateDeleted,
				Reason: "gone", Outcome: OutcomeFailed, Err: errors.New("images.delete: permission\ndenied")},
		},
		Untouched: []Untouched{{Image: "web-v3", State: lifecycle.StateActive, Why: lifecycle.WhyHead, Reason: "family head"}},
	}
	var buf bytes.Buffer
	WriteTable(&buf, rep)
	want := `family web of project p at 2026-11-26T06:47:30Z: head web-v3
IMAGE   ACTION     FROM -> TO            DEPRECATED            OBSOLETE              DELETED               OUTCOME                 REASON
web-v2  deprecate  ACTIVE -> DEPRECATED  2026-11-26T06:47:30Z  2026-12-03T06:47:30Z  2027-01-02T06:47:30Z  done (2 quota retries)  old
web-v1  purge      DELETED -> DELETED    -                     -                     -                     FAILED                  gone
1 of 2 actions failed:
  purge web-v1: images.delete: permission denied
untouched:
  IMAGE   STATE   WHY   NEXT  REASON
  web-v3  ACTIVE  head  -     family head
`
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestReportJSONWritesEveryTimeWithMilliseconds(t *testing.T) {
	at := time.Date(2026, 12, 1, 19, 41, 38, 745523457, time.UTC)
	next := at.Add(time.Hour)
	rep := Report{Project: "p", Family: "web", At: at, Results: []Result{{Image: "web-v1", Action: lifecycle.ActionDeprecate,
		Deprecated: &at, Outcome: OutcomeDone}}, Untouched: []Untouched{{Image: "web-v2", Why: lifecycle.WhyWaiting, Next: &next}}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"at":"2026-12-01T19:41:38.745Z"`, `"deprecated":"2026-12-01T19:41:38.745Z"`, `"next":"2026-12-01T20:41:38.745Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report JSON lacks %s:\n%s", want, b)
		}
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || !back.At.Equal(at.Truncate(time.Millisecond)) || back.Untouched[0].Next == nil {
		t.Errorf("read back %+v, %v", back, err)
	}
}

func TestAResultsFailureIsItsErrorOrWhatChanged(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		res  Result
		want string // "" for no failure
	}{
		{"done", Result{Outcome: OutcomeDone}, ""},
		{"failed", Result{Outcome: OutcomeFailed, Err: boom}, "boom"},
		{"skipped", Result{Outcome: OutcomeSkipped, Detail: "changed since planned (labels)"}, "changed since planned (labels)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.res.Failure()
			if (err == nil) != (tt.want == "") || (err != nil && err.Error() != tt.want) {
				t.Errorf("Failure() = %v, want %q", err, tt.want)
			}
		})
	}
}
