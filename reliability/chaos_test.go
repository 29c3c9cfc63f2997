package reliability

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// maxRuns bounds a convergence: a rotation that needs more runs than this
// does not converge.
const maxRuns = 30

// convergence is how a family got to where no run has anything left to do.
type convergence struct {
	runs        int
	failedRuns  int
	labels      int // labels the concurrent writer wrote
	first, last time.Time
	final       world
}

// convergeRotate runs `imagefamily rotate` on the fixture's families until a
// run exits 0 with nothing to do, checking the invariants after every run
// (with a concurrent label writer when writer is set).
func convergeRotate(t testing.TB, e *emu, f fixture, what string, writer bool) convergence {
	t.Helper()
	var c convergence
	for run := 1; ; run++ {
		if run > maxRuns {
			t.Fatalf("%s: no convergence after %d runs", what, maxRuns)
		}
		before := readWorld(t, e)
		var w *labelWriter
		stop, done := func() {}, make(chan struct{})
		if writer {
			w = newLabelWriter(e.images(t), before.familyImages(f.families...), f.seed*1000+int64(run), run)
			ctx, cancel := context.WithCancel(context.Background())
			stop = cancel
			go func() { w.run(ctx); close(done) }()
		} else {
			close(done)
		}
		r := runCLI(t, e, rotateArgs(f)...)
		stop()
		<-done
		end := time.Now()
		if run == 1 {
			c.first = r.start
		}
		c.last = end
		after := readWorld(t, e)
		var acked map[string]map[string]string
		if w != nil {
			var n int
			acked, n = w.result()
			c.labels += n
		}
		checkRotation(t, fmt.Sprintf("%s, run %d", what, run), before, after, f.policy, r.start, end, acked, f.families)
		if r.code != 0 && r.code != 1 {
			t.Fatalf("%s, run %d: %s", what, run, r)
		}
		out := parseRotate(t, r)
		c.runs++
		if r.code == 0 && out.Summary.Actions == 0 && len(out.Errors) == 0 {
			c.final = after
			break
		}
		if r.code != 0 {
			c.failedRuns++
		}
		nextSecond(end)
	}
	// The rules agree: nothing is left to do.
	for _, fam := range f.families {
		if moving := settled(c.final, fam, f.policy, c.last); len(moving) > 0 {
			v := &violations{t: t, what: what}
			v.add("converged, but the rules would still move %d images of family %s: %v", len(moving), fam, moving)
			v.done()
		}
	}
	return c
}

// references caches the fault-free, uninterrupted outcome per fixture seed.
var references sync.Map // int64 -> *reference

type reference struct {
	once       sync.Once
	normalized string
	mutations  int // mutations of the first run
}

// referenceOutcome is the fixture's final state after fault-free runs to
// convergence, normalized, and the number of mutations of its first run.
func referenceOutcome(t testing.TB, f fixture) *reference {
	t.Helper()
	v, _ := references.LoadOrStore(f.seed, &reference{})
	ref := v.(*reference)
	ref.once.Do(func() {
		e := startEmu(t, emulator.Options{Seed: f.seed}, 0)
		f.load(t, e)
		r := runCLI(t, e, rotateArgs(f)...)
		if r.code != 0 {
			t.Fatalf("fault-free reference run: %s", r)
		}
		ref.mutations = e.mutationCount()
		nextSecond(r.end)
		c := convergeRotate(t, e, f, fmt.Sprintf("reference of fixture %d", f.seed), false)
		ref.normalized = normalize(c.final, f.policy, r.start, c.last)
	})
	if ref.normalized == "" {
		t.Fatalf("the reference of fixture %d failed in another test", f.seed)
	}
	return ref
}

// TestChaosRotate rotates seeded fixtures under every fault the emulator
// injects (plus responses lost after the change was applied), with another
// client writing labels all along, until the rotation converges; the
// invariants are checked after every run, and the converged state must equal
// the fault-free one.
func TestChaosRotate(t *testing.T) {
	t.Parallel()
	seeds := pick(4, 24)
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			stats.scenario(t)
			f := fixtureFor(t, seed)
			ref := referenceOutcome(t, f)
			e := startEmu(t, emulator.Options{Faults: chaosFaults(t, 1.5), Seed: seed}, 0.05)
			f.load(t, e)
			c := convergeRotate(t, e, f, fmt.Sprintf("chaos seed %d", seed), true)
			got := normalize(c.final, f.policy, c.first, c.last)
			if got != ref.normalized {
				v := &violations{t: t, what: fmt.Sprintf("chaos seed %d", seed)}
				v.add("the converged state differs from the fault-free one:\n%s", diffLines(ref.normalized, got))
				v.done()
			}
			t.Logf("seed %d: converged in %d runs (%d failed), %d labels written concurrently, faults %v", seed, c.runs, c.failedRuns, c.labels, e.srv.InjectedFaults())
		})
	}
}
