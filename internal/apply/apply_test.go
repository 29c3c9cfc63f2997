package apply

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func planFor(t *testing.T, c gce.Compute, project string, policy lifecycle.Policy, when time.Time) lifecycle.RotationPlan {
	t.Helper()
	s, err := Gather(context.Background(), c, project, "web", nil, policy.CheckInUse)
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	return lifecycle.Plan(s, policy, when)
}

func names(rs []Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Image)
	}
	return out
}

func TestApplyDeprecatesOlderImagesAndReportsInPlanOrder(t *testing.T) {
	fake := gcetest.New(family("p", 6)...)
	plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
	var progressed []string
	var mu sync.Mutex
	rep := Apply(context.Background(), fake, "p", plan, withScans(fake, Options{Parallelism: 3, Progress: func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		progressed = append(progressed, r.Image)
	}}))
	if got, want := names(rep.Results), []string{"web-v4", "web-v3", "web-v2", "web-v1"}; !slices.Equal(got, want) {
		t.Fatalf("results = %v, want %v (plan order, newest first)", got, want)
	}
	if rep.Failed() != 0 || rep.Done() != 4 || rep.Err() != nil {
		t.Fatalf("failed %d done %d err %v, want 0, 4, nil", rep.Failed(), rep.Done(), rep.Err())
	}
	slices.Sort(progressed)
	if want := []string{"web-v1", "web-v2", "web-v3", "web-v4"}; !slices.Equal(progressed, want) {
		t.Errorf("progress saw %v, want every action once", progressed)
	}
	if rep.Head != "web-v6" || rep.Project != "p" || rep.Family != "web" || !rep.At.Equal(now) || rep.DryRun {
		t.Errorf("report heading = %+v", rep)
	}
	if got := names2(rep.Untouched); !slices.Equal(got, []string{"web-v6", "web-v5"}) {
		t.Errorf("untouched = %v, want the head and the keep_active one", got)
	}
	for _, n := range []string{"web-v1", "web-v2", "web-v3", "web-v4"} {
		img, _ := fake.Image("p", n)
		if img.State() != lifecycle.StateDeprecated {
			t.Errorf("%s state = %s, want DEPRECATED", n, img.State())
		}
		if img.Deprecation.Replacement != (lifecycle.ImageRef{Project: "p", Name: "web-v6"}).SelfLink() {
			t.Errorf("%s replacement = %q, want the head", n, img.Deprecation.Replacement)
		}
	}
	for _, n := range []string{"web-v5", "web-v6"} {
		if img, _ := fake.Image("p", n); img.State() != lifecycle.StateActive {
			t.Errorf("%s state = %s, want ACTIVE", n, img.State())
		}
	}
}

func names2(us []Untouched) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Image)
	}
	return out
}

func TestApplyCarriesOutEveryKindOfStep(t *testing.T) {
	imgs := family("p", 6)
	old := now.Add(-60 * day)
	// web-v1 DELETED long ago: purge. web-v2 OBSOLETE, deleted date passed:
	// mark-deleted. web-v3 DEPRECATED, obsolete date passed: obsolete.
	// web-v4 DEPRECATED without dates: schedule.
	imgs[0].Deprecation = lifecycle.Deprecation{State: lifecycle.StateDeleted, Deprecated: at(old), Obsolete: at(old), Deleted: at(old)}
	imgs[1].Deprecation = lifecycle.Deprecation{State: lifecycle.StateObsolete, Deprecated: at(old), Obsolete: at(old), Deleted: at(now.Add(-day))}
	imgs[2].Deprecation = lifecycle.Deprecation{State: lifecycle.StateDeprecated, Deprecated: at(old), Obsolete: at(now.Add(-day)), Deleted: at(now.Add(20 * day))}
	imgs[3].Deprecation = lifecycle.Deprecation{State: lifecycle.StateDeprecated}
	fake := gcetest.New(imgs...)
	rep := Apply(context.Background(), fake, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(fake, Options{}))
	want := map[string]lifecycle.Action{"web-v1": lifecycle.ActionPurge, "web-v2": lifecycle.ActionMarkDeleted,
		"web-v3": lifecycle.ActionObsolete, "web-v4": lifecycle.ActionSchedule}
	if len(rep.Results) != len(want) {
		t.Fatalf("results = %+v, want %d", rep.Results, len(want))
	}
	for _, r := range rep.Results {
		if r.Action != want[r.Image] || r.Err != nil {
			t.Errorf("%s: action %s err %v, want %s and no error", r.Image, r.Action, r.Err, want[r.Image])
		}
	}
	if _, ok := fake.Image("p", "web-v1"); ok {
		t.Error("web-v1 still exists, want purged")
	}
	if img, _ := fake.Image("p", "web-v2"); img.State() != lifecycle.StateDeleted {
		t.Errorf("web-v2 = %s, want DELETED", img.State())
	}
	if img, _ := fake.Image("p", "web-v3"); img.State() != lifecycle.StateObsolete {
		t.Errorf("web-v3 = %s, want OBSOLETE", img.State())
	}
	if img, _ := fake.Image("p", "web-v4"); img.State() != lifecycle.StateDeprecated || img.Deprecation.Obsolete == nil {
		t.Errorf("web-v4 = %+v, want DEPRECATED with dates", img.Deprecation)
	}
}

func TestApplyStampsRotatedAtBeforeAStepWhoseNextIsAlreadyDue(t *testing.T) {
	imgs := family("p", 3)
	old := now.Add(-60 * day)
	// OBSOLETE since long ago with every date passed: mark-deleted now, and
	// purge would already be due: the stamp keeps a second run this second
	// from purging too.
	imgs[0].Deprecation = lifecycle.Deprecation{State: lifecycle.StateObsolete, Deprecated: at(old), Obsolete: at(old), Deleted: at(old)}
	imgs[0].Labels = map[string]string{"team": "web"}
	fake := gcetest.New(imgs...)
	plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
	rep := Apply(context.Background(), fake, "p", plan, withScans(fake, Options{}))
	if rep.Failed() != 0 {
		t.Fatal(rep.Err())
	}
	img, _ := fake.Image("p", "web-v1")
	if img.Labels[lifecycle.LabelRotatedAt] != lifecycle.LabelTimestamp(now) || img.Labels["team"] != "web" {
		t.Errorf("labels = %v, want team kept and %s stamped", img.Labels, lifecycle.LabelRotatedAt)
	}
	calls := fake.CallStrings()
	li, di := slices.Index(calls, "SetLabels(p, web-v1)"), slices.Index(calls, "Deprecate(p, web-v1, DELETED)")
	if li < 0 || di < 0 || li > di {
		t.Errorf("calls = %v, want SetLabels before Deprecate", calls)
	}
	second := Apply(context.Background(), fake, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(fake, Options{}))
	if len(second.Results) != 0 {
		t.Errorf("a second run in the same second did %v, want nothing", names(second.Results))
	}
}

func TestApplyCompletesEveryActionWhenSomeFail(t *testing.T) {
	fake := gcetest.New(family("p", 7)...)
	boom := &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.deprecate", Code: 403, Message: "Required 'compute.images.deprecate' permission"}
	c := &throttling{Compute: fake, fail: map[string]error{"web-v2": boom, "web-v4": boom}}
	rep := Apply(context.Background(), c, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(c, Options{Parallelism: 2}))
	if rep.Failed() != 2 || rep.Done() != 3 {
		t.Fatalf("failed %d done %d, want 2 and 3", rep.Failed(), rep.Done())
	}
	for _, r := range rep.Results {
		failed := r.Image == "web-v2" || r.Image == "web-v4"
		if (r.Err != nil) != failed {
			t.Errorf("%s err = %v, want failure %v", r.Image, r.Err, failed)
		}
		if failed && !errors.Is(r.Err, gce.ErrPermissionDenied) {
			t.Errorf("%s err = %v, want the gce error kept", r.Image, r.Err)
		}
		img, _ := fake.Image("p", r.Image)
		if want := map[bool]lifecycle.State{true: lifecycle.StateActive, false: lifecycle.StateDeprecated}[failed]; img.State() != want {
			t.Errorf("%s = %s, want %s", r.Image, img.State(), want)
		}
	}
	if err := rep.Err(); err == nil || !errors.Is(err, gce.ErrPermissionDenied) {
		t.Errorf("Err() = %v, want both failures joined", err)
	}
}

func TestApplyRetriesQuotaErrorsAtLowerParallelism(t *testing.T) {
	fake := gcetest.New(family("p", 10)...)
	c := &throttling{Compute: fake, quotaFirst: 1, hold: 2 * time.Millisecond}
	rep := Apply(context.Background(), c, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(c,
		Options{Parallelism: 4, QuotaPause: time.Millisecond}))
	if rep.Failed() != 0 || len(rep.Results) != 8 {
		t.Fatalf("failed %d of %d: %v", rep.Failed(), len(rep.Results), rep.Err())
	}
	for _, r := range rep.Results {
		if r.QuotaRetries != 1 {
			t.Errorf("%s quota retries = %d, want 1", r.Image, r.QuotaRetries)
		}
		if img, _ := fake.Image("p", r.Image); img.State() != lifecycle.StateDeprecated {
			t.Errorf("%s = %s, want DEPRECATED", r.Image, img.State())
		}
	}
	if c.maxInflight > 4 {
		t.Errorf("%d deprecations in flight at once, want at most Parallelism 4", c.maxInflight)
	}
}

func TestApplyHalvesParallelismOnQuotaThenGrowsBack(t *testing.T) {
	fake := gcetest.New(family("p", 10)...)
	// The whole first wave (4 calls) is refused: the limit drops 4 → 2 → 1
	// → 1 → 1, so the next two calls each run alone (the second starts
	// after the first succeeded and raised the limit to 2, with nothing else
	// in flight), and then successes raise the limit back to 4.
	c := &throttling{Compute: fake, quotaCalls: 4, hold: 5 * time.Millisecond}
	rep := Apply(context.Background(), c, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(c,
		Options{Parallelism: 4, QuotaPause: time.Millisecond}))
	if rep.Failed() != 0 {
		t.Fatal(rep.Err())
	}
	if len(c.started) != 12 {
		t.Fatalf("%d calls, want 12 (8 actions, 4 sent twice)", len(c.started))
	}
	if got := c.started[4]; got != 1 {
		t.Errorf("first call after the refused wave started with %d in flight, want 1", got)
	}
	if got := c.started[5]; got != 1 {
		t.Errorf("second call after the refused wave started with %d in flight, want 1", got)
	}
	if c.maxInflight > 4 {
		t.Errorf("%d in flight at once, want at most 4", c.maxInflight)
	}
}

func TestApplyReportsQuotaErrorOnceRetriesRunOut(t *testing.T) {
	fake := gcetest.New(family("p", 3)...)
	c := &throttling{Compute: fake, quotaFirst: 100}
	rep := Apply(context.Background(), c, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(c,
		Options{QuotaRetries: 2, QuotaPause: time.Millisecond}))
	if len(rep.Results) != 1 || !errors.Is(rep.Results[0].Err, gce.ErrQuota) || rep.Results[0].QuotaRetries != 2 {
		t.Fatalf("results = %+v, want one quota failure after 2 retries", rep.Results)
	}
	if c.calls["web-v1"] != 3 {
		t.Errorf("sent %d times, want 3 (1 + 2 retries)", c.calls["web-v1"])
	}
}

func TestApplyStartsNothingOnceContextEnds(t *testing.T) {
	fake := gcetest.New(family("p", 6)...)
	plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := Apply(ctx, fake, "p", plan, withScans(fake, Options{}))
	if rep.Failed() != 4 {
		t.Fatalf("failed = %d, want every action", rep.Failed())
	}
	for _, r := range rep.Results {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%s err = %v, want context.Canceled", r.Image, r.Err)
		}
	}
	for _, c := range fake.CallStrings() {
		if !strings.HasPrefix(c, "ListFamily(") && !strings.HasPrefix(c, "ScanImageUses(") &&
			!strings.HasPrefix(c, "GetFromFamily(") && !strings.HasPrefix(c, "ListImages(") { // the plan's reads
			t.Errorf("call %s sent after the context ended", c)
		}
	}
}

func TestApplyOfEmptyPlanReportsNoActions(t *testing.T) {
	fake := gcetest.New(family("p", 2)...)
	rep := Apply(context.Background(), fake, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), withScans(fake, Options{}))
	if len(rep.Results) != 0 || rep.Results == nil || len(rep.Untouched) != 2 {
		t.Errorf("report = %+v, want no results (non-nil) and two untouched", rep)
	}
}

func TestAIMDHalvesOnQuotaAndGrowsByOne(t *testing.T) {
	a := newAIMD(8)
	steps := []struct {
		quota bool
		want  int
	}{{true, 4}, {true, 2}, {true, 1}, {true, 1}, {false, 2}, {false, 3}, {true, 1}, {false, 2},
		{false, 3}, {false, 4}, {false, 5}, {false, 6}, {false, 7}, {false, 8}, {false, 8}}
	for i, s := range steps {
		if s.quota {
			a.throttled()
		} else {
			a.succeeded()
		}
		if a.limit() != s.want {
			t.Fatalf("step %d (quota %v): limit %d, want %d", i, s.quota, a.limit(), s.want)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Options
		want Options
	}{
		{"zero", Options{}, Options{Parallelism: 4, Pending: 32, QuotaRetries: 8, QuotaPause: time.Second}},
		{"negative retries mean none", Options{Parallelism: 9, QuotaRetries: -1, QuotaPause: time.Millisecond},
			Options{Parallelism: 9, Pending: 72, QuotaRetries: 0, QuotaPause: time.Millisecond}},
		{"pending never below parallelism", Options{Parallelism: 16, Pending: 3},
			Options{Parallelism: 16, Pending: 16, QuotaRetries: 8, QuotaPause: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.withDefaults()
			if got.Parallelism != tt.want.Parallelism || got.Pending != tt.want.Pending || got.QuotaRetries != tt.want.QuotaRetries || got.QuotaPause != tt.want.QuotaPause {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// withScans gives o the in-use scan of project p that the plans of these
// tests rely on.
func withScans(c gce.Compute, o Options) Options {
	o.Scans = NewScans(c, []string{"p"}, nil)
	return o
}
