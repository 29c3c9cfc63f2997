package bench

import (
	"os"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
)

// TestRotateCostsWhatTheAPIForces is `make bench` in small: N = 10 and 100
// with a little latency, and the request counts it must keep at any size.
func TestRotateCostsWhatTheAPIForces(t *testing.T) {
	bin := gobuild.CLI(t)
	for _, n := range []int{10, 100} {
		cfg := RotateConfig{
			Fixture:     Fixture{Images: n, Templates: 600, Instances: 600},
			Latency:     5 * time.Millisecond,
			OpLatency:   20 * time.Millisecond,
			Parallelism: 16,
			CLI:         bin,
		}
		res, err := RunRotate(t.Context(), cfg)
		if err != nil {
			t.Fatalf("N=%d: %v", n, err)
		}
		m := res.Expected.Actions
		t.Logf("N=%d M=%d wall %v T* %v requests: %v", n, m, res.Wall.Round(time.Millisecond), res.TStar, res.Calls)
		if m == 0 || res.Done != m || res.Failed != 0 {
			t.Errorf("N=%d: %d actions done, %d failed; the fixture makes %d due", n, res.Done, res.Failed, m)
		}
		if len(res.StateErrors) > 0 {
			t.Errorf("N=%d: images not where the fixture's design puts them after one run: %v", n, res.StateErrors)
		}
		reread := cfg.Fixture.RereadPages(res.Wall)
		if got, want := res.Calls["images.list"], pages(n)+1+LeaseLists; got < want || got > want+reread {
			t.Errorf("N=%d: %d images.list calls, want %d (one per 500 images, one for orphans, two for the lease) and at most %d re-reads", n, got, want, reread)
		}
		if got, want := res.ListCalls(), res.ListPages; got < want || got > want+reread {
			t.Errorf("N=%d: %d list calls, want %d (one per 500 resources of each kind) and at most %d re-reads", n, got, want, reread)
		}
		if got := res.Mutations(); got != m+LeaseWrites {
			t.Errorf("N=%d: %d mutations for %d actions, want one each and %d for the lease", n, got, m, LeaseWrites)
		}
		if got := res.Polls(); got > m+LeaseWrites {
			t.Errorf("N=%d: %d operation polls for %d actions, want at most one each (and the lease's)", n, got, m)
		}
		if got := res.Calls["images.get"]; got != LeaseGets {
			t.Errorf("N=%d: %d images.get calls, want %d: no per-image GET, and the lease given back from its listed fingerprint", n, got, LeaseGets)
		}
		if got, most := res.Calls["images.getFromFamily"], 1+LeaseHeadReads+int(res.Wall/time.Second+1); got < 1+LeaseHeadReads || got > most {
			t.Errorf("N=%d: %d getFromFamily calls, want 1 to plan, 1 for the lease and one per re-listing (at most %d)", n, got, most)
		}
	}
}

func TestMain(m *testing.M) {
	Main()
	code := m.Run()
	gobuild.Clean()
	os.Exit(code)
}

// TestRotateCatchingUpStampsWithoutReading: when a step's next step is due
// already, the action writes imagefamily-rotated-at first: one more mutation
// (and its wait), but no images.get: the list carried the label fingerprint.
func TestRotateCatchingUpStampsWithoutReading(t *testing.T) {
	cfg := RotateConfig{
		Fixture:     Fixture{Images: 100, Templates: 10, Instances: 10, CatchUp: true},
		Latency:     2 * time.Millisecond,
		OpLatency:   10 * time.Millisecond,
		Parallelism: 16,
		CLI:         gobuild.CLI(t),
	}
	res, err := RunRotate(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, stamps := res.Expected.Actions, res.Expected.Stamps
	if stamps == 0 || res.Done != m || res.Failed != 0 || len(res.StateErrors) > 0 {
		t.Fatalf("%d of %d actions done (%d stamps due), %d failed, misplaced: %v\n%s", res.Done, m, stamps, res.Failed, res.StateErrors, res.Stderr)
	}
	if got := res.Calls["images.setLabels"]; got != stamps+LeaseWrites {
		t.Errorf("%d label writes, want %d stamps and %d for the lease", got, stamps, LeaseWrites)
	}
	if got := res.Mutations(); got != m+stamps+LeaseWrites {
		t.Errorf("%d mutations, want %d actions + %d stamps + %d for the lease", got, m, stamps, LeaseWrites)
	}
	if got := res.Polls(); got > m+stamps+LeaseWrites {
		t.Errorf("%d operation polls for %d mutations", got, m+stamps+LeaseWrites)
	}
	if got := res.Calls["images.get"]; got != LeaseGets {
		t.Errorf("%d images.get calls, want %d: no per-image GET, and the lease given back from its listed fingerprint", got, LeaseGets)
	}
}

// TestRotateCompletesUnderRateLimits: with 30% of deprecations answered 429,
// every action still completes, each with one mutation that went through.
func TestRotateCompletesUnderRateLimits(t *testing.T) {
	cfg := RotateConfig{
		Fixture:     Fixture{Images: 100, Templates: 10, Instances: 10},
		Latency:     2 * time.Millisecond,
		OpLatency:   10 * time.Millisecond,
		Parallelism: 16,
		Faults:      "images.deprecate=429:0.3",
		Seed:        7,
		CLI:         gobuild.CLI(t),
	}
	res, err := RunRotate(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Expected.Actions
	if res.Done != m || res.Failed != 0 || len(res.StateErrors) > 0 {
		t.Fatalf("%d of %d actions done, %d failed, misplaced: %v\n%s", res.Done, m, res.Failed, res.StateErrors, res.Stderr)
	}
	if res.Throttled == 0 {
		t.Fatal("no call was answered 429: the test no longer exercises rate limits")
	}
	if ok := res.Mutations() - res.Throttled; ok != m+LeaseWrites {
		t.Errorf("%d mutations went through for %d actions and %d lease writes", ok, m, LeaseWrites)
	}
}

func TestTReqIsTheRequestRoundsOrThePendingRoundsWhicheverBinds(t *testing.T) {
	const l, lop = 50 * time.Millisecond, 200 * time.Millisecond
	tests := []struct {
		name                 string
		pages, m, p, pending int
		want                 time.Duration
	}{
		{"no actions: the listing alone", 3, 0, 16, 128, 150 * time.Millisecond},
		{"requests bind: 3 rounds of L, then the last operation", 1, 48, 16, 128, 50*time.Millisecond + 3*l + lop},
		{"pending binds: 2 rounds of L + Lop", 0, 20, 16, 16, 2 * (l + lop)},
		{"one request slot", 0, 4, 1, 8, 4*l + lop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TReq(tt.pages, tt.m, tt.p, tt.pending, l, lop); got != tt.want {
				t.Errorf("TReq = %v, want %v", got, tt.want)
			}
		})
	}
}
