package reliability

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
)

// crashFixtures are the fixtures the crash runs cycle through.
var crashFixtures = []int64{101, 102, 103}

// TestCrashResumeRotate kills `imagefamily rotate` (the built binary) with
// SIGKILL at the N-th mutation request it sends, N seeded: either before the
// emulator sees the request (the change is not made) or after the emulator
// applied it and before the answer leaves (the change is made, the client
// never learns it). The emulator keeps running; the rotation is then re-run
// to convergence, with the invariants checked after the crash and after every
// run, and the final state must equal that of an uninterrupted run from the
// same fixture.
func TestCrashResumeRotate(t *testing.T) {
	t.Parallel()
	n := pick(8, 50)
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprintf("crash%02d", i), func(t *testing.T) {
			t.Parallel()
			stats.scenario(t)
			r := rand.New(rand.NewSource(int64(i)))
			f := fixtureFor(t, crashFixtures[i%len(crashFixtures)])
			ref := referenceOutcome(t, f)
			if ref.mutations == 0 {
				t.Fatalf("fixture %d: the first run makes no mutation: nothing to crash", f.seed)
			}
			killAt := 1 + r.Intn(ref.mutations)
			applied := r.Intn(2) == 0
			what := fmt.Sprintf("fixture %d, SIGKILL at mutation %d of %d (%s)", f.seed, killAt, ref.mutations,
				map[bool]string{true: "after the emulator applied it", false: "before the emulator saw it"}[applied])

			e := startEmu(t, emulator.Options{Seed: f.seed}, 0)
			f.load(t, e)
			before := readWorld(t, e)

			start, end := runKilled(t, e, rotateArgs(f), killAt, applied, what)
			after := readWorld(t, e)
			checkRotation(t, what+", the killed run", before, after, f.policy, start, end, nil, f.families)

			nextSecond(end)
			c := convergeRotate(t, e, f, what+", resumed", false)
			got := normalize(c.final, f.policy, start, c.last)
			if got != ref.normalized {
				v := &violations{t: t, what: what}
				v.add("after the crash and %d resumed runs the state differs from an uninterrupted run's:\n%s", c.runs, diffLines(ref.normalized, got))
				v.done()
			}
			t.Logf("%s: resumed to convergence in %d runs", what, c.runs)
		})
	}
}

// runKilled runs the CLI with args against e and kills it with SIGKILL at
// its killAt-th mutation request: before the emulator sees it, or, when
// applied, after the emulator applied it and before the answer leaves. The
// kill happens inside the request, so no timing is involved.
func runKilled(t testing.TB, e *emu, args []string, killAt int, applied bool, what string) (start, end time.Time) {
	t.Helper()
	cmd := exec.Command(gobuild.CLI(t), args...)
	cmd.Env = cliEnv(e)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	exited := make(chan struct{})
	// The kill runs in the emulator's handler goroutine: the process reaches
	// it through proc, which orders it after cmd.Start for the race
	// detector (the request that triggers it comes from another process,
	// which the detector cannot see).
	var proc atomic.Pointer[os.Process]
	kill := func() {
		_ = proc.Load().Kill() // SIGKILL
		<-exited
	}
	base := e.mutationCount()
	e.mu.Lock()
	e.onMutation = func(n int) mutationFate {
		switch {
		case n != base+killAt:
			return mutationFate{}
		case applied:
			return mutationFate{after: kill}
		default:
			return mutationFate{before: kill}
		}
	}
	e.mu.Unlock()
	start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	proc.Store(cmd.Process)
	go func() { _ = cmd.Wait(); close(exited) }()
	<-exited
	end = time.Now()
	e.mu.Lock()
	e.onMutation = nil
	e.mu.Unlock()
	stats.run("imagefamily " + args[0])
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s: the run was not killed (%v)\nstderr:\n%s", what, cmd.ProcessState, stderr.String())
	}
	stats.crash()
	return start, end
}

// TestCrashResumeRollback kills `imagefamily rollback` to a DEPRECATED
// target at each of its mutations (the copy's insert, then each
// deprecation), before or after the emulator applied it, then re-runs it
// until it succeeds: exactly one copy exists and the family resolves to it.
func TestCrashResumeRollback(t *testing.T) {
	t.Parallel()
	n := pick(3, 12)
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprintf("crash%02d", i), func(t *testing.T) {
			t.Parallel()
			stats.scenario(t)
			f := fixtureFor(t, 301+int64(i%3))
			to, _ := rollbackTarget(t, worldOf(t, f.state), 1)
			f = deprecateIn(t, f, to)
			e := startEmu(t, emulator.Options{Seed: f.seed}, 0)
			f.load(t, e)
			before := readWorld(t, e)
			plan, err := lifecycle.PlanRollback(before.snapshot(t, "web"), to, false, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			killAt := 1 + i%(1+len(plan.Steps))
			applied := (i/(1+len(plan.Steps)))%2 == 0
			what := fmt.Sprintf("rollback of fixture %d to %s, SIGKILL at mutation %d of %d (applied: %v)", f.seed, to, killAt, 1+len(plan.Steps), applied)
			args := []string{"rollback", "--project", project, "--family", "web", "--lease-ttl", leaseTTL, "--to", to, "--format", "json"}
			start, _ := runKilled(t, e, args, killAt, applied, what)
			created := checkRollback(t, what+", the killed run", before, readWorld(t, e), to, false, start, nil)
			for run := 1; ; run++ {
				if run > maxRuns {
					t.Fatalf("%s: no success in %d runs", what, maxRuns)
				}
				nextSecond(time.Now())
				b := readWorld(t, e)
				r := runCLI(t, e, args...)
				created = append(created, checkRollback(t, fmt.Sprintf("%s, re-run %d", what, run), b, readWorld(t, e), to, false, r.start, nil)...)
				if r.code == 0 || (r.code == 2 && strings.Contains(r.stderr, "already the head")) {
					break
				}
				if r.code != 1 {
					t.Fatalf("%s: %s", what, r)
				}
			}
			final := readWorld(t, e)
			v := &violations{t: t, what: what}
			head, _ := final.head(t, "web")
			if len(created) != 1 || head != created[0] || final.images[head].Labels[lifecycle.LabelRollbackOf] != to {
				v.add("after the crash and the re-runs: created %v, the family resolves to %q; want exactly one copy of %s, the head", created, head, to)
			}
			v.done()
		})
	}
}
