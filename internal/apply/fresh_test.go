package apply

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// The applier acts only on a fresh picture: an action whose preconditions
// changed after it was planned is skipped, not sent.

func TestAnActionWhoseWorldChangedSincePlannedIsSkippedNotSent(t *testing.T) {
	type change struct {
		name   string
		image  string // the image the change is made to
		change func(f *gcetest.Fake, img lifecycle.Image)
		// skipped are the images whose actions must be skipped; want says why.
		skipped []string
		want    string
	}
	protect := func(f *gcetest.Fake, img lifecycle.Image) {
		img.Labels = map[string]string{lifecycle.DefaultProtectLabel: "true"}
		f.Put(img)
	}
	tests := []change{
		{"the protect label is set", "web-v1", protect, []string{"web-v1"}, "now has label imagefamily-protect"},
		{"the image is revoked (OBSOLETE)", "web-v2", func(f *gcetest.Fake, img lifecycle.Image) {
			img.Deprecation = lifecycle.Deprecation{State: lifecycle.StateObsolete, Obsolete: at(now)}
			f.Put(img)
		}, []string{"web-v2"}, "is OBSOLETE now"},
		{"the image is deleted and made again", "web-v3", func(f *gcetest.Fake, img lifecycle.Image) {
			img.ID = 999
			f.Put(img)
		}, []string{"web-v3"}, "another image now"},
		{"the image leaves the family", "web-v1", func(f *gcetest.Fake, img lifecycle.Image) {
			img.Family = ""
			f.Put(img)
		}, []string{"web-v1"}, "is in family (none) now, planned in web"},
		{"a rollback makes an older image the head", "web-v6", func(f *gcetest.Fake, img lifecycle.Image) {
			// web-v6 and web-v5 (the head and keep_active) deprecated by hand:
			// web-v4 is the head now, and every deprecation planned relative
			// to web-v6 must go.
			for _, n := range []string{"web-v6", "web-v5"} {
				i, _ := f.Image("p", n)
				i.Deprecation = lifecycle.Deprecation{State: lifecycle.StateDeprecated}
				f.Put(i)
			}
		}, []string{"web-v4", "web-v3", "web-v2", "web-v1"}, "resolves to web-v4 now, planned with web-v6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := gcetest.New(family("p", 6)...)
			plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
			img, _ := fake.Image("p", tt.image)
			tt.change(fake, img)
			rep := Apply(context.Background(), fake, "p", plan, withScans(fake, Options{}))
			for _, r := range rep.Results {
				wantSkip := slices.Contains(tt.skipped, r.Image)
				switch {
				case wantSkip && (r.Outcome != OutcomeSkipped || !strings.Contains(r.Detail, tt.want) || r.Err != nil):
					t.Errorf("%s: %s %q (err %v), want skipped saying %q", r.Image, r.Outcome, r.Detail, r.Err, tt.want)
				case !wantSkip && r.Outcome != OutcomeDone:
					t.Errorf("%s: %s %q %v, want done", r.Image, r.Outcome, r.Detail, r.Err)
				}
			}
			for _, c := range fake.CallStrings() {
				for _, n := range tt.skipped {
					if strings.Contains(c, n) && (strings.HasPrefix(c, "Deprecate(") || strings.HasPrefix(c, "SetLabels(")) {
						t.Errorf("%s was sent although what it relied on changed", c)
					}
				}
			}
			if rep.Skipped() != len(tt.skipped) || rep.Failed() != 0 {
				t.Errorf("skipped %d failed %d, want %d and 0", rep.Skipped(), rep.Failed(), len(tt.skipped))
			}
		})
	}
}

// changing makes a change to the fake right before the first Deprecate or
// DeleteImage of image reaches it, after the applier's checks: the race the
// last-moment checks (the precheck) and the label fingerprint exist for.
type changing struct {
	*gcetest.Fake
	image  string
	change func()
	once   sync.Once
}

func (c *changing) before(image string) {
	if image == c.image {
		c.once.Do(c.change)
	}
}

func (c *changing) SetLabelsFrom(ctx context.Context, img lifecycle.Image, merge func(map[string]string) (map[string]string, error)) error {
	c.before(img.Name)
	return c.Fake.SetLabelsFrom(ctx, img, merge)
}

func (c *changing) DeleteImage(ctx context.Context, project, image string) error {
	c.before(image)
	return c.Fake.DeleteImage(ctx, project, image)
}

func TestALabelSetBetweenTheCheckAndTheWriteStopsTheStep(t *testing.T) {
	// web-v1's obsolete date has come and its deleted date too: the step
	// stamps imagefamily-rotated-at first, and the protect label arrives
	// just before that write. The write reads the labels it writes over (the
	// fingerprint) and finds it.
	imgs := family("p", 4)
	imgs[0].Deprecation = lifecycle.Deprecation{State: lifecycle.StateDeprecated, Deprecated: at(now.Add(-40 * day)),
		Obsolete: at(now.Add(-30 * day)), Deleted: at(now.Add(-20 * day))}
	fake := gcetest.New(imgs...)
	c := &changing{Fake: fake, image: "web-v1"}
	c.change = func() {
		img, _ := fake.Image("p", "web-v1")
		img.Labels = map[string]string{lifecycle.DefaultProtectLabel: "yes"}
		fake.Put(img)
	}
	plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
	if e, _ := plan.Find("web-v1"); e.Action != lifecycle.ActionObsolete || e.Labels == nil {
		t.Fatalf("fixture: web-v1 plans %s with labels %v", e.Action, e.Labels)
	}
	rep := Apply(context.Background(), c, "p", plan, withScans(c, Options{}))
	r := rep.Results[slices.IndexFunc(rep.Results, func(r Result) bool { return r.Image == "web-v1" })]
	if r.Outcome != OutcomeSkipped || !strings.Contains(r.Detail, "now has label imagefamily-protect") {
		t.Fatalf("web-v1: %s %q %v, want skipped for the protect label", r.Outcome, r.Detail, r.Err)
	}
	if img, _ := fake.Image("p", "web-v1"); img.State() != lifecycle.StateDeprecated || img.Labels[lifecycle.LabelRotatedAt] != "" {
		t.Fatalf("web-v1 changed: %s %v", img.State(), img.Labels)
	}
}

func TestADeleteOfAnImageAlreadyGoneIsDone(t *testing.T) {
	deleted := func(name string, age time.Duration) lifecycle.Image {
		img := family("p", 1)[0]
		img.Name, img.ID, img.CreatedAt = name, uint64(len(name)*7), now.Add(-age)
		img.Deprecation = lifecycle.Deprecation{State: lifecycle.StateDeleted, Deprecated: at(now.Add(-40 * day)),
			Obsolete: at(now.Add(-30 * day)), Deleted: at(now.Add(-20 * day))}
		return img
	}
	tests := []struct {
		name     string
		whenGone string // "before" the applier reads, "at send" (404)
		// deletes are the DeleteImage calls of web-old the fake records: the
		// other deleter's, and the applier's when it sent one.
		deletes int
	}{
		{"gone before the applier looked", "before", 1},
		{"gone while it was being sent (404)", "at send", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := gcetest.New(append(family("p", 3), deleted("web-old", 60*day))...)
			plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
			c := &changing{Fake: fake, image: "web-old", change: func() { _ = fake.DeleteImage(context.Background(), "p", "web-old") }}
			var compute gce.Compute = c
			if tt.whenGone == "before" {
				c.change()
				compute = fake
			}
			rep := Apply(context.Background(), compute, "p", plan, withScans(compute, Options{}))
			i := slices.IndexFunc(rep.Results, func(r Result) bool { return r.Image == "web-old" })
			if r := rep.Results[i]; r.Outcome != OutcomeDone || r.Detail != "already gone" || r.Err != nil {
				t.Fatalf("purge web-old: %s %q %v, want done, already gone", r.Outcome, r.Detail, r.Err)
			}
			n := 0
			for _, call := range fake.CallStrings() {
				if call == "DeleteImage(p, web-old)" {
					n++
				}
			}
			if n != tt.deletes {
				t.Fatalf("%d deletes of web-old recorded: %v", n, fake.CallStrings())
			}
			if rep.Failed() != 0 {
				t.Fatalf("failed = %d, want 0: %v", rep.Failed(), rep.Err())
			}
		})
	}
}

// steppingClock is a clock that tests move.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *steppingClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestADestructiveStepWantsAScanAMinuteOldAtMostAndANewUserStopsIt(t *testing.T) {
	imgs := family("p", 4)
	imgs[0].Deprecation = lifecycle.Deprecation{State: lifecycle.StateDeprecated, Deprecated: at(now.Add(-40 * day)),
		Obsolete: at(now.Add(-1 * day)), Deleted: at(now.Add(20 * day))} // obsolete: destructive
	fake := gcetest.New(imgs...)
	clock := &steppingClock{t: time.Now()}
	scans := NewScans(fake, []string{"p"}, clock.now)
	s, at, err := Reader{C: fake, Scans: scans, Clock: clock.now}.Family(context.Background(), "p", "web")
	if err != nil {
		t.Fatal(err)
	}
	plan := lifecycle.Plan(s, lifecycle.DefaultPolicy(), now)
	// A template starts using web-v1 after the scan; 61 s pass.
	fake.Uses[lifecycle.ImageRef{Project: "p", Name: "web-v1"}] = []lifecycle.Use{{Kind: lifecycle.UseInstanceTemplate, Project: "p", Name: "new-tpl"}}
	clock.add(61 * time.Second)
	rep := Apply(context.Background(), fake, "p", plan, Options{Scans: scans, Clock: clock.now, Seeds: []Seed{{s, at}}})
	byImage := map[string]Result{}
	for _, r := range rep.Results {
		byImage[r.Image] = r
	}
	if r := byImage["web-v1"]; r.Outcome != OutcomeSkipped || !strings.Contains(r.Detail, "in use now, by instance template p/new-tpl") {
		t.Fatalf("obsolete web-v1: %s %q %v, want skipped for its new user", r.Outcome, r.Detail, r.Err)
	}
	if r := byImage["web-v2"]; r.Action != lifecycle.ActionDeprecate || r.Outcome != OutcomeDone {
		t.Fatalf("deprecate web-v2: %s %s %v (a deprecation needs no fresher scan)", r.Action, r.Outcome, r.Err)
	}
	if n := scans.Count(); n != 2 {
		t.Fatalf("%d scans, want 2: the plan's, and one for the destructive step", n)
	}
}

func TestARequiredPhaseThatDoesNotCompleteStopsThePlan(t *testing.T) {
	fake := gcetest.New(family("p", 3)...)
	fake.Fail("InsertImageFromImage", &gce.Error{Kind: gce.ErrPermissionDenied, Method: "images.insert", Code: 403, Message: "denied"})
	src, _ := fake.Image("p", "web-v1")
	phases := []lifecycle.Phase{
		{Name: "copy web-v1", Required: true, Entries: []lifecycle.Entry{{Image: src, Action: lifecycle.ActionCopy,
			Copy: &lifecycle.CopySpec{Project: "p", Name: "web-v1-rb", Source: src.Ref(), Family: "web"}}}},
		{Name: "deprecate", Entries: []lifecycle.Entry{{Image: family("p", 3)[2], Action: lifecycle.ActionDeprecate,
			Deprecation: lifecycle.Deprecation{State: lifecycle.StateDeprecated}}}},
	}
	rs := Execute(context.Background(), fake, phases, Options{})
	if len(rs) != 2 || rs[0].Outcome != OutcomeFailed || !errors.Is(rs[0].Err, gce.ErrPermissionDenied) {
		t.Fatalf("copy: %+v", rs)
	}
	if rs[1].Outcome != OutcomeSkipped || !strings.Contains(rs[1].Detail, "not started: copy web-v1 did not complete") {
		t.Fatalf("deprecate: %s %q, want skipped: not started", rs[1].Outcome, rs[1].Detail)
	}
	if img, _ := fake.Image("p", "web-v3"); img.State() != lifecycle.StateActive {
		t.Fatal("web-v3 was deprecated after the copy failed")
	}
}

func TestNoMutationIsSentOnceTheLeaseIsLost(t *testing.T) {
	lost := &Lease{anchor: lifecycle.ImageRef{Project: "p", Name: "web-v4"}, family: "web", lost: ErrLeaseLost, clock: time.Now, ttl: time.Minute}
	held := &Lease{anchor: lifecycle.ImageRef{Project: "p", Name: "app-v2"}, family: "app", clock: time.Now, ttl: time.Minute,
		expires: time.Now().Add(time.Hour)}
	tests := []struct {
		name string
		opts Options
	}{
		{"the family's lease", Options{Leases: []*Lease{lost}}},
		{"one of the leases of a plan across families", Options{Leases: []*Lease{held, lost}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := gcetest.New(family("p", 4)...)
			plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
			rep := Apply(context.Background(), fake, "p", plan, withScans(fake, tt.opts))
			if rep.Failed() != len(rep.Results) || !errors.Is(rep.Results[0].Err, ErrLeaseLost) {
				t.Fatalf("results = %+v, want every action failed: lease lost", rep.Results)
			}
			for _, c := range fake.CallStrings() {
				if strings.HasPrefix(c, "Deprecate(") {
					t.Fatalf("%s sent without the lease", c)
				}
			}
		})
	}
}

// readClock wraps a Compute and notes, for every image, when each read that
// showed it was sent (a listing page is sent when the page before it has
// been handed over), and when each mutation was about to go out (after the
// applier's own last-moment check).
type readClock struct {
	gce.Compute
	mu    sync.Mutex
	reads map[string][]time.Time
	sends []send
	gets  int
	lists int
	// listSizes are the images each list returned.
	listSizes []int
}

type send struct {
	image string
	at    time.Time
}

func (r *readClock) ListImages(ctx context.Context, project, filter string) ([]lifecycle.Image, error) {
	sent := time.Now()
	imgs, err := r.Compute.ListImages(ctx, project, filter)
	r.mu.Lock()
	r.lists++
	r.listSizes = append(r.listSizes, len(imgs))
	for _, img := range imgs {
		r.reads[img.Name] = append(r.reads[img.Name], sent)
	}
	r.mu.Unlock()
	return imgs, err
}

func (r *readClock) ListFamily(ctx context.Context, project, family string) ([]lifecycle.Image, error) {
	sent := time.Now()
	imgs, err := r.Compute.ListFamily(ctx, project, family)
	r.mu.Lock()
	for _, img := range imgs {
		r.reads[img.Name] = append(r.reads[img.Name], sent)
	}
	r.mu.Unlock()
	return imgs, err
}

func (r *readClock) GetImage(ctx context.Context, project, name string) (lifecycle.Image, error) {
	r.mu.Lock()
	r.gets++
	r.mu.Unlock()
	return r.Compute.GetImage(ctx, project, name)
}

func (r *readClock) Deprecate(ctx context.Context, project, image string, d lifecycle.Deprecation) error {
	return r.Compute.Deprecate(r.noting(ctx, image), project, image, d)
}

func (r *readClock) DeleteImage(ctx context.Context, project, image string) error {
	return r.Compute.DeleteImage(r.noting(ctx, image), project, image)
}

// noting wraps the applier's precheck: once it passes, the attempt goes out.
func (r *readClock) noting(ctx context.Context, image string) context.Context {
	applier := ctx // carries the applier's precheck
	return gce.WithPrecheck(ctx, func(context.Context) error {
		if err := gce.Precheck(applier); err != nil {
			return err
		}
		r.mu.Lock()
		r.sends = append(r.sends, send{image, time.Now()})
		r.mu.Unlock()
		return nil
	})
}

func TestNoMutationGoesOutOnAReadOlderThanMaxAge(t *testing.T) {
	// 1,100 images behind 15 ms per request, and a freshness bound of
	// 150 ms: the seed goes stale long before the run ends, so every
	// mutation must wait for its image to be read again, in batches.
	const maxAge = 150 * time.Millisecond
	c := &readClock{Compute: startFamily(t, 1100, emulatorLatency(15*time.Millisecond), 1), reads: map[string][]time.Time{}}
	plan, rep := rotateWeb(t, c, Options{Parallelism: 16, MaxAge: maxAge})
	if rep.Done() != len(plan.Actions()) || len(plan.Actions()) != 1098 {
		t.Fatalf("done %d of %d (skipped %d, failed %d: %v)", rep.Done(), len(plan.Actions()), rep.Skipped(), rep.Failed(), rep.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sends) != rep.Done() {
		t.Fatalf("%d mutations went out for %d actions", len(c.sends), rep.Done())
	}
	worst := time.Duration(0)
	for _, snd := range c.sends {
		var last time.Time
		for _, r := range c.reads[snd.image] {
			if !r.After(snd.at) && r.After(last) {
				last = r
			}
		}
		if age := snd.at.Sub(last); age > worst {
			worst = age
		}
	}
	if worst > maxAge {
		t.Fatalf("a mutation went out on a read %v old, bound %v", worst, maxAge)
	}
	if c.gets != 0 {
		t.Errorf("%d images.get calls: the picture must come from listings, not a read per image", c.gets)
	}
	// A bound this tight makes small batches (a read goes stale while its
	// action waits for a request slot); at the 2 s default the batches fill.
	if most := rep.Done() / 4; c.lists > most {
		t.Errorf("%d list calls for %d actions: re-reads must come in batches (at most %d)", c.lists, rep.Done(), most)
	}
	t.Logf("oldest read a mutation went out on: %v (bound %v)", worst, maxAge)
}

// rotateWeb reads family web of project p with an in-use scan, plans it with
// the default policy and applies the plan with opts (Scans and Seeds set
// here).
func rotateWeb(t *testing.T, c gce.Compute, opts Options) (lifecycle.RotationPlan, Report) {
	t.Helper()
	scans := NewScans(c, []string{"p"}, nil)
	s, at, err := Reader{C: c, Scans: scans}.Family(context.Background(), "p", "web")
	if err != nil {
		t.Fatal(err)
	}
	plan := lifecycle.Plan(s, lifecycle.DefaultPolicy(), now)
	opts.Scans, opts.Seeds = scans, []Seed{{s, at}}
	return plan, Apply(context.Background(), c, "p", plan, opts)
}

func emulatorLatency(d time.Duration) emulator.Options { return emulator.Options{Latency: d} }

func TestReReadsStayInBatchesWhileAQuotaHoldsActionsBack(t *testing.T) {
	// A write quota lets 100 mutations a second through: actions wait for
	// their turn far longer than the freshness bound, so nearly every one
	// finds its read stale when it may go. Re-reads must still come in
	// batches (the waiting actions' images read together), not one list
	// per action, which would cost as many requests as a GET per image.
	tests := []struct {
		name    string
		backoff gce.Backoff
	}{
		// Each 403 reaches the applier, which pauses the action and sends
		// it again.
		{"the applier re-sends", gce.Backoff{Attempts: 1}},
		// gce's own retries wait out most 403s, each attempt checked again.
		{"gce's retries wait", gce.Backoff{Attempts: 6, Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond,
			Rand: rand.New(rand.NewPCG(1, 2)).Float64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const maxAge = 200 * time.Millisecond
			quotas, err := emulator.ParseQuotas("writes=100/s")
			if err != nil {
				t.Fatal(err)
			}
			env := emulatortest.Start(t, emulator.Options{Latency: 2 * time.Millisecond, Quotas: quotas})
			putFamily(t, env.Server, 300)
			gc, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.URL + "/compute/v1/"}},
				gce.WithBackoff(tt.backoff))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = gc.Close() })
			c := &readClock{Compute: gc, reads: map[string][]time.Time{}}
			plan, rep := rotateWeb(t, c, Options{Parallelism: 16, MaxAge: maxAge, QuotaRetries: 1000, QuotaPause: 5 * time.Millisecond})
			if rep.Done() != len(plan.Actions()) {
				t.Fatalf("done %d of %d (skipped %d, failed %d: %v)", rep.Done(), len(plan.Actions()), rep.Skipped(), rep.Failed(), rep.Err())
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if most := rep.Done() / 10; c.lists > most {
				t.Errorf("%d list calls for %d actions under the quota: waiting actions must be re-read together (at most %d)", c.lists, rep.Done(), most)
			}
			t.Logf("%d list calls for %d actions, returning %v images", c.lists, rep.Done(), c.listSizes)
		})
	}
}
