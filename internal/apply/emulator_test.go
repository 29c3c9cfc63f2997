package apply

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// startFamily runs an emulator holding n ACTIVE images of family web in
// project p, and returns a client for it with the given retry attempts and
// no real sleeping.
func startFamily(t *testing.T, n int, opts emulator.Options, attempts int) gce.Compute {
	t.Helper()
	env := emulatortest.Start(t, opts)
	putFamily(t, env.Server, n)
	noSleep := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.URL + "/compute/v1/"}},
		gce.WithBackoff(gce.Backoff{Attempts: attempts, Sleep: noSleep, Rand: func() float64 { return 0.5 }}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// putFamily puts the family web of n images, a day apart, into project p.
func putFamily(t *testing.T, srv *emulator.Server, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		created := now.Add(-time.Duration(n-i+2) * day)
		img := &computepb.Image{Name: proto.String(fmt.Sprintf("web-v%d", i)), Family: proto.String("web"),
			CreationTimestamp: proto.String(created.Format("2006-01-02T15:04:05.000Z07:00"))}
		if err := srv.PutImage("p", img); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApplyAgainstEmulatorCompletesEveryActionUnderRateLimits(t *testing.T) {
	tests := []struct {
		name     string
		faults   string
		attempts int // gce's own attempts per call
		wantSeen bool
	}{
		// gce's retries absorb nearly every 429.
		{"gce retries absorb 429s", "images.deprecate=429:0.3", 6, false},
		// One attempt each: 429s reach Apply, which throttles and re-sends.
		{"Apply re-sends what gce could not", "images.deprecate=429:0.3", 1, true},
		{"429s on label writes and deprecations", "images.deprecate=429:0.3,images.setLabels=429:0.3", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faults, err := emulator.ParseFaults(tt.faults)
			if err != nil {
				t.Fatal(err)
			}
			c := startFamily(t, 22, emulator.Options{Faults: faults, Seed: 42}, tt.attempts)
			s, err := Gather(context.Background(), c, "p", "web", nil, true)
			if err != nil {
				t.Fatal(err)
			}
			plan := lifecycle.Plan(s, lifecycle.DefaultPolicy(), now)
			rep := Apply(context.Background(), c, "p", plan, withScans(c, Options{Parallelism: 4, QuotaPause: time.Millisecond, QuotaRetries: 20}))
			if rep.Failed() != 0 {
				t.Fatalf("%d actions failed: %v", rep.Failed(), rep.Err())
			}
			if len(rep.Results) != 20 {
				t.Fatalf("%d actions, want 20", len(rep.Results))
			}
			retried := 0
			for _, r := range rep.Results {
				retried += r.QuotaRetries
			}
			if tt.wantSeen && retried == 0 {
				t.Errorf("no action was re-sent after a quota error; the test no longer exercises the throttle")
			}
			after, err := c.ListFamily(context.Background(), "p", "web")
			if err != nil {
				t.Fatal(err)
			}
			for _, img := range after {
				want := lifecycle.StateDeprecated
				if img.Name == "web-v21" || img.Name == "web-v22" {
					want = lifecycle.StateActive
				}
				if img.State() != want {
					t.Errorf("%s = %s, want %s", img.Name, img.State(), want)
				}
			}
			head, err := c.GetFromFamily(context.Background(), "p", "web")
			if err != nil || head.Name != "web-v22" {
				t.Errorf("head = %s, %v; want web-v22", head.Name, err)
			}
		})
	}
}

func TestApplyAgainstEmulatorWalksTheWholeLifeCycle(t *testing.T) {
	c := startFamily(t, 4, emulator.Options{Seed: 1}, 1)
	pol := lifecycle.DefaultPolicy()
	// Each run at the date the previous one scheduled moves web-v1 and
	// web-v2 one step further, until they are gone.
	steps := []struct {
		at   time.Time
		want lifecycle.Action
	}{
		{now, lifecycle.ActionDeprecate},
		{now.Add(pol.ObsoleteAfter), lifecycle.ActionObsolete},
		{now.Add(pol.ObsoleteAfter + pol.DeleteAfter), lifecycle.ActionMarkDeleted},
		{now.Add(pol.ObsoleteAfter + pol.DeleteAfter + pol.PurgeAfter), lifecycle.ActionPurge},
	}
	for _, st := range steps {
		s, err := Gather(context.Background(), c, "p", "web", nil, true)
		if err != nil {
			t.Fatal(err)
		}
		rep := Apply(context.Background(), c, "p", lifecycle.Plan(s, pol, st.at), withScans(c, Options{}))
		if rep.Failed() != 0 || len(rep.Results) != 2 {
			t.Fatalf("at %s: %d results, errors %v", st.at, len(rep.Results), rep.Err())
		}
		for _, r := range rep.Results {
			if r.Action != st.want {
				t.Errorf("at %s: %s %s, want %s", st.at, r.Action, r.Image, st.want)
			}
		}
	}
	left, err := c.ListFamily(context.Background(), "p", "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 {
		t.Errorf("%d images left, want the head and the kept one", len(left))
	}
}
