package reliability

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
)

// reporter collects what a release says.
type reporter struct {
	mu   sync.Mutex
	said []string
}

func (r *reporter) Say(s string)     { r.mu.Lock(); r.said = append(r.said, s); r.mu.Unlock() }
func (r *reporter) Message(s string) { r.mu.Lock(); r.said = append(r.said, "  "+s); r.mu.Unlock() }
func (r *reporter) Error(s string)   { r.mu.Lock(); r.said = append(r.said, "ERROR: "+s); r.mu.Unlock() }

// putBuilt stores an image as the googlecompute builder leaves it: READY,
// no family, the builder's labels.
func putBuilt(t testing.TB, e *emu, name string) {
	t.Helper()
	img := &computepb.Image{Name: proto.String(name), Labels: map[string]string{"built-by": "packer"},
		RawDisk: &computepb.RawDisk{Source: proto.String("gs://acme/" + name + ".tar.gz")}, DiskSizeGb: proto.Int64(10)}
	if err := e.srv.PutImage(project, img); err != nil {
		t.Fatal(err)
	}
}

// deleteImage deletes name as Packer does when a post-processor fails,
// retrying the emulator's faults.
func deleteImage(t testing.TB, e *emu, name string) {
	t.Helper()
	c := e.images(t)
	for attempt := 0; attempt < 30; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		op, err := c.Delete(ctx, &computepb.DeleteImageRequest{Project: project, Image: name})
		if err == nil {
			err = op.Wait(ctx)
		}
		cancel()
		if code(err) == 404 {
			return
		}
		if _, ok := readWorld(t, e).images[name]; !ok {
			return
		}
	}
	t.Fatalf("could not delete %s", name)
}

// TestChaosRelease runs the release library (what the imagefamily-release
// post-processor runs) under the chaos faults, with another client writing
// labels, as Packer would: a release that fails before the family moves gets
// its image deleted and a new build; once an image is released, `imagefamily
// rotate` finishes the rotation actions that failed. After every run: the package
// invariant (an error never comes with a released image), the family
// unchanged by a failed release, and for a release the rotation invariants
// with the released image as the head. Some seeds release a copy under the
// conventional name (rename = "copy").
func TestChaosRelease(t *testing.T) {
	t.Parallel()
	seeds := pick(3, 16)
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			t.Parallel()
			stats.scenario(t)
			f := fixtureFor(t, 400+seed)
			e := startEmu(t, emulator.Options{Faults: chaosFaults(t, 1.5), Seed: seed}, 0.05)
			f.load(t, e)
			initial := readWorld(t, e)
			ctx := context.Background()
			c, err := gce.New(ctx, pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": e.URL}},
				gce.WithBackoff(gce.Backoff{Base: 20 * time.Millisecond, Cap: 500 * time.Millisecond, Attempts: 6}))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			conv := &lifecycle.Convention{OS: "debian-12", Software: "web", Version: "1.0"}
			copyMode := seed%3 == 0
			build := func(n int) string {
				name := fmt.Sprintf("web-build-%d", n)
				if !copyMode {
					cn, err := conv.Name(time.Now())
					if err != nil {
						t.Fatal(err)
					}
					name = cn.String()
				}
				putBuilt(t, e, name)
				return name
			}
			builds := 1
			image := build(builds)
			released, leftover := false, ""
			var failures []string // the failed releases' errors, for a violation's message
			leftCopies := map[string]bool{}
			for run := 1; ; run++ {
				if run > maxRuns {
					t.Fatalf("seed %d: no convergence after %d runs", seed, maxRuns)
				}
				what := fmt.Sprintf("release seed %d, run %d (image %s)", seed, run, image)
				before := readWorld(t, e)
				w := newLabelWriter(e.images(t), append(before.familyImages("web"), image), seed*1000+int64(run), run)
				wctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { w.run(wctx); close(done) }()
				req := releaser.Request{Project: project, Family: "web", Image: image, Parent: "api-v001",
					Labels: map[string]string{"team": "web", "release": fmt.Sprintf("r%d", builds)}, Convention: conv,
					Policy: f.policy, Parallelism: 4}
				if copyMode {
					req.Rename, req.Description = releaser.RenameCopy, "chaos copy"
				}
				start := time.Now()
				out, err := releaser.Run(ctx, c, req, &reporter{})
				stats.run("release library")
				cancel()
				<-done
				end := time.Now()
				after := readWorld(t, e)
				acked, _ := w.result()
				checkRelease(t, what, before, after, image, out, err, f.policy, start, end, acked)
				if err != nil {
					failures = append(failures, fmt.Sprintf("build %d: %v (warnings: %q)", builds, err, out.Warnings))
					if copyMode && warned(out, "could not delete the copy") {
						// The failed release could not remove its copy and
						// said so (error and report): outside the family, it
						// is left for the user, as the error asks.
						leftCopies[out.Image] = true
						stats.note(fmt.Sprintf("release (copy): deleting the copy %s after a failed release failed; named in the error", out.Image))
					}
					// Packer deletes an image whose post-processor failed;
					// the next build makes a new one.
					deleteImage(t, e, image)
					nextSecond(end)
					builds++
					image = build(builds)
					continue
				}
				released = true
				if !out.BuiltDeleted && out.Image != image && warned(out, "could not delete the built image") {
					// rename = "copy": the copy is released, and deleting the
					// built image failed; the release says so ("delete it by
					// hand"), and it is outside the family.
					leftover = image
					stats.note(fmt.Sprintf("release (copy): deleting the built image %s failed after the copy was released; reported as a warning", image))
				}
				image = out.Image
				if out.RotationFailed {
					// "the release stands, and `imagefamily rotate` retries
					// them": that is what converges the family.
					nextSecond(end)
					convergeRotate(t, e, f, what+", rotated after the release", true)
				}
				break
			}
			if !released {
				t.Fatal("never released")
			}
			v := &violations{t: t, what: fmt.Sprintf("release seed %d", seed)}
			final := readWorld(t, e)
			for name := range final.images {
				outside := final.images[name].Family == ""
				if _, ok := initial.images[name]; !ok && name != image && !((name == leftover || leftCopies[name]) && outside) {
					v.add("%s is left over from %d builds (released: %s; failed releases: %q)", name, builds, image, failures)
				}
			}
			v.done()
			t.Logf("seed %d: released %s after %d builds", seed, image, builds)
		})
	}
}

// checkRelease checks one release run and returns the images it created.
func checkRelease(t testing.TB, what string, before, after world, built string, out *releaser.Outcome, err error, pol lifecycle.Policy, start, end time.Time, acked map[string]map[string]string) []string {
	t.Helper()
	v := &violations{t: t, what: what}
	defer v.done()
	if out == nil {
		v.add("no outcome (error %v)", err)
		return nil
	}
	var created []string
	for name := range after.images {
		if _, ok := before.images[name]; !ok {
			created = append(created, name)
		}
	}
	if err != nil {
		if out.Released {
			v.add("the release failed (%v) with the image released: Packer would delete a released image", err)
		}
		// Nothing but the built image's labels (and a copy the failed
		// release could not delete) may differ.
		for name, b := range before.images {
			a, ok := after.images[name]
			switch {
			case !ok:
				v.add("a failed release deleted %s", name)
			case name == built:
				if a.Family == "web" {
					v.add("the release failed, but %s is in the family: Packer deletes it now (error: %v)", name, err)
				}
			default:
				if diff, same := sameExceptWriter(b, a); !same {
					v.add("a failed release changed %s: %s", name, diff)
				}
			}
		}
		for _, name := range created {
			if after.images[name].Family == "web" {
				v.add("a failed release left %s in the family", name)
			}
		}
		return created
	}
	target := out.Image
	a, ok := after.images[target]
	if !ok || a.Family != "web" || orActive(a.State) != "ACTIVE" {
		v.add("released %s, but it is %+v", target, a)
		return created
	}
	if head, _ := after.head(t, "web"); head != target {
		v.add("released %s, but the family resolves to %s", target, head)
	}
	for k, val := range out.Labels {
		if got := a.Labels[k]; got != val && !strings.HasPrefix(k, writerPrefix) && k != lifecycle.LabelReleasedAt {
			v.add("released %s: label %s=%q, the release wrote %q", target, k, got, val)
		}
	}
	// The rotation model: the family before, with the released image in it
	// as it is now (its labels are the release's to write).
	model := world{images: maps.Clone(before.images), templates: before.templates, instances: before.instances}
	model.images[target] = a
	switch b, ok := after.images[built]; {
	case out.BuiltDeleted:
		delete(model.images, built)
	case ok:
		// A copy's built image carries the release's mark
		// (imagefamily-releasing-into) until it is deleted.
		model.images[built] = b
	}
	v.done()
	checkRotation(t, what, model, after, pol, start, end, acked, []string{"web"})
	return created
}

// warned reports whether a release warned about something.
func warned(out *releaser.Outcome, about string) bool {
	for _, w := range out.Warnings {
		if strings.Contains(w, about) {
			return true
		}
	}
	return false
}
