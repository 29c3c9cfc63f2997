package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// rollbackOut is the part of `imagefamily rollback --format json` read here.
type rollbackOut struct {
	Target    string `json:"target"`
	Rerelease *struct {
		Name string `json:"name"`
		Done bool   `json:"done"`
	} `json:"rerelease"`
	Steps []struct {
		Image string `json:"image"`
		Done  bool   `json:"done"`
	} `json:"steps"`
	ExpectedHead string  `json:"expected_head"`
	HeadAfter    *string `json:"head_after"`
	Error        string  `json:"error"`
}

// rollbackTarget picks a seeded rollback of the fixture's web family: the
// default target, a DEPRECATED image (re-released as a copy) or any valid
// target with --block. It returns the --to value ("" for the default).
func rollbackTarget(t testing.TB, w world, mode int64) (to string, block bool) {
	t.Helper()
	s := w.snapshot(t, "web")
	head, _ := s.Head()
	var active, deprecated []string
	for _, img := range s.Images {
		if !img.Ready() || img.Name == head.Name || img.Labels[lifecycle.LabelRevokedReason] != "" {
			continue
		}
		switch img.State() {
		case lifecycle.StateActive:
			active = append(active, img.Name)
		case lifecycle.StateDeprecated:
			deprecated = append(deprecated, img.Name)
		}
	}
	slices.Sort(active)
	slices.Sort(deprecated)
	switch {
	case mode%3 == 0 && len(active) > 0:
		return "", false
	case mode%3 == 1 && len(deprecated) > 0:
		return deprecated[len(deprecated)-1], false
	case mode%3 == 1 && len(active) > 0:
		return active[len(active)-1], false // deprecateIn makes it DEPRECATED
	case len(active)+len(deprecated) > 0:
		all := append(active, deprecated...)
		return all[int(mode)%len(all)], true
	}
	// Every fixture the tests use, short and long, has a target: one
	// without means genFixture changed, and a skip would drop the scenario
	// unseen.
	t.Fatalf("the fixture's family web has no rollback target besides its head %s (mode %d)", head.Name, mode)
	return "", false
}

// checkRollback checks one rollback run against lifecycle.PlanRollback on
// the fault-free snapshot read before it, and returns the images it created.
func checkRollback(t testing.TB, what string, before, after world, to string, block bool, start time.Time, acked map[string]map[string]string) []string {
	t.Helper()
	v := &violations{t: t, what: what}
	defer v.done()
	plan, err := lifecycle.PlanRollback(before.snapshot(t, "web"), to, block, start)
	if err != nil {
		plan = lifecycle.RollbackPlan{} // refused: nothing may change
	}
	steps := map[string]lifecycle.State{}
	for _, st := range plan.Steps {
		steps[st.Image.Name] = st.Deprecation.State
	}
	for name, b := range before.images {
		a, ok := after.images[name]
		if !ok {
			continue // checkCommon reports it
		}
		if want, ok := steps[name]; ok {
			if orActive(a.State) != orActive(b.State) && orActive(a.State) != string(want) {
				v.add("%s became %s; the plan was %s", name, orActive(a.State), want)
			}
			continue
		}
		if diff, same := sameExceptWriter(b, a); !same {
			v.add("%s is not a step of the rollback (target %s) but changed: %s", name, plan.Target.Name, diff)
		}
	}
	created := checkCommon(v, before, after, nil, acked, []string{"web"})
	switch {
	case len(created) > 1:
		v.add("one rollback run created %d images: %v", len(created), created)
	case len(created) == 1 && plan.Rerelease == nil:
		v.add("the rollback created %s, but its target %s needs no copy", created[0], plan.Target.Name)
	case len(created) == 1:
		cp := after.images[created[0]]
		if cp.Labels[lifecycle.LabelRollbackOf] != plan.Target.Name || cp.Family != "web" || orActive(cp.State) != "ACTIVE" {
			v.add("the copy %s is not an ACTIVE image of web labelled %s=%s: %+v", created[0], lifecycle.LabelRollbackOf, plan.Target.Name, cp)
		}
	}
	return created
}

// TestChaosRollback rolls the web family back under the chaos faults, with
// another client writing labels, re-running until a run succeeds and then
// once more: that last run must change nothing. The target of the first run
// is pinned for the re-runs (--to), as an operator re-running a failed
// rollback would. Over the whole scenario at most one image may be created.
func TestChaosRollback(t *testing.T) {
	t.Parallel()
	seeds := pick(3, 18)
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			stats.scenario(t)
			f := fixtureFor(t, 200+seed)
			e := startEmu(t, emulator.Options{Faults: chaosFaults(t, 2), Seed: seed}, 0.05)
			to, block := rollbackTarget(t, worldOf(t, f.state), seed)
			if seed%3 == 1 {
				// A DEPRECATED target: re-released as a copy.
				f = deprecateIn(t, f, to)
			}
			f.load(t, e)
			initial := readWorld(t, e)
			var created []string
			succeeded := false
			for run := 1; ; run++ {
				if run > maxRuns {
					t.Fatalf("seed %d: the rollback did not succeed in %d runs", seed, maxRuns)
				}
				what := fmt.Sprintf("rollback seed %d (--to %q, block %v), run %d", seed, to, block, run)
				before := readWorld(t, e)
				w := newLabelWriter(e.images(t), before.familyImages("web"), seed*1000+int64(run), run)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { w.run(ctx); close(done) }()
				args := []string{"rollback", "--project", project, "--family", "web", "--lease-ttl", leaseTTL, "--format", "json"}
				if to != "" {
					args = append(args, "--to", to)
				}
				if block {
					args = append(args, "--block")
				}
				r := runCLI(t, e, args...)
				cancel()
				<-done
				after := readWorld(t, e)
				acked, _ := w.result()
				created = append(created, checkRollback(t, what, before, after, to, block, r.start, acked)...)
				var out rollbackOut
				if r.code != 2 {
					if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
						t.Fatalf("%s: output is not JSON: %v\n%s", what, err, r)
					}
				}
				if to == "" && out.Target != "" {
					to = out.Target // pin the target for the re-runs
				}
				// A run after a failed one may find everything done (the
				// failure was, e.g., reading the new head back): it refuses
				// with "already the head", which is converged too.
				finished := r.code == 2 && run > 1 && strings.Contains(r.stderr, "already the head")
				if succeeded || finished {
					// The run after a success must change nothing.
					v := &violations{t: t, what: what}
					for _, name := range slices.Sorted(maps.Keys(after.images)) {
						b, ok := before.images[name]
						if !ok {
							v.add("re-running a rollback that succeeded created %s (labels %v)", name, after.images[name].Labels)
						} else if diff, same := sameExceptWriter(b, after.images[name]); !same {
							v.add("re-running a rollback that succeeded changed %s: %s", name, diff)
						}
					}
					v.done()
					t.Logf("%s: re-run after success (exit %d before): exit %d: %s", what, map[bool]int{true: 0, false: 1}[succeeded], r.code, strings.TrimSpace(r.stderr))
					break
				}
				switch r.code {
				case 0:
					succeeded = true
					v := &violations{t: t, what: what}
					head, _ := after.head(t, "web")
					if out.HeadAfter == nil || *out.HeadAfter != head || head != out.ExpectedHead {
						v.add("exit 0, but the family resolves to %q (reported %v, expected %q)", head, out.HeadAfter, out.ExpectedHead)
					}
					v.done()
				case 1:
				default:
					t.Fatalf("%s: %s", what, r)
				}
				nextSecond(r.end)
			}
			v := &violations{t: t, what: fmt.Sprintf("rollback seed %d", seed)}
			if len(created) > 1 {
				v.add("the scenario created %d images where one copy at most was due: %v", len(created), created)
			}
			final := readWorld(t, e)
			checkCommon(v, initial, final, nil, nil, []string{"web"})
			v.done()
		})
	}
}

// deprecateIn returns f with name DEPRECATED (dates in the past and future,
// as a rotation would have left it).
func deprecateIn(t testing.TB, f fixture, name string) fixture {
	t.Helper()
	ps := f.state.Projects[project]
	images := slices.Clone(ps.Images)
	for i, raw := range images {
		var img computepb.Image
		if err := protojson.Unmarshal(raw, &img); err != nil {
			t.Fatal(err)
		}
		if img.GetName() != name {
			continue
		}
		if img.GetDeprecated().GetState() == "DEPRECATED" {
			return f
		}
		img.Deprecated = &computepb.DeprecationStatus{State: proto.String("DEPRECATED"),
			Deprecated: proto.String(stampRFC(f.base.Add(-49*time.Hour - offMinutes))),
			Obsolete:   proto.String(stampRFC(f.base.Add(5*day + offMinutes)))}
		images[i] = marshal(t, &img)
	}
	ps.Images = images
	f.state = emulator.State{Projects: map[string]emulator.ProjectState{project: ps}}
	return f
}
