package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// The scenarios of the fresh-picture issue: each was found by trying to
// break the product while something else acts (shared/repro/ has a script
// per finding) and failed before the applier re-checked its plans. Races are
// made deterministic by the emulator wrapper: the other actor's change runs
// exactly when the run under test sends a chosen request (emu.meanwhile),
// and emulator latency makes the run outlast the applier's 2 s freshness
// bound, so that its later actions must be re-checked on a newer read.

const stamp = "2006-01-02T15:04:05.000Z07:00"

// fixtureImages builds n images of family, oldest first, one hour apart, the
// newest two days ago; shape changes each one (nil leaves it ACTIVE).
func fixtureImages(family string, n int, now time.Time, shape func(i int, img *computepb.Image)) []*computepb.Image {
	var out []*computepb.Image
	for i := 0; i < n; i++ {
		img := &computepb.Image{Name: proto.String(fmt.Sprintf("%s-v%05d", family, i)), Family: proto.String(family),
			CreationTimestamp: proto.String(now.Add(-2*day - time.Duration(n-i)*time.Hour).Format(stamp)),
			RawDisk:           &computepb.RawDisk{Source: proto.String("gs://acme/d.tar.gz")}, DiskSizeGb: proto.Int64(10)}
		if shape != nil {
			shape(i, img)
		}
		out = append(out, img)
	}
	return out
}

// deletedDue makes an image DELETED sixty days ago: its purge is due.
func deletedDue(now time.Time) func(*computepb.Image) {
	return func(img *computepb.Image) {
		d := now.Add(-60 * day)
		img.Deprecated = &computepb.DeprecationStatus{State: proto.String("DELETED"),
			Deprecated: proto.String(d.Add(-37 * day).Format(stamp)), Obsolete: proto.String(d.Add(-30 * day).Format(stamp)),
			Deleted: proto.String(d.Format(stamp))}
	}
}

func loadImages(t testing.TB, e *emu, projectImages map[string][]*computepb.Image) {
	t.Helper()
	st := emulator.State{Projects: map[string]emulator.ProjectState{}}
	for p, imgs := range projectImages {
		ps := st.Projects[p]
		for _, img := range imgs {
			ps.Images = append(ps.Images, marshal(t, img))
		}
		st.Projects[p] = ps
	}
	if err := e.srv.LoadState(st); err != nil {
		t.Fatal(err)
	}
}

// once runs change the first time a mutation request matches, before the
// request is served, and says when it has (the run under test had got that
// far).
func (e *emu) once(match func(r *http.Request) bool, change func()) <-chan struct{} {
	return e.onceAround(match, change, nil)
}

// onceAround is once with a change before the request is served and one
// after.
func (e *emu) onceAround(match func(r *http.Request) bool, before, after func()) <-chan struct{} {
	var fired atomic.Bool
	done := make(chan struct{})
	e.mu.Lock()
	defer e.mu.Unlock()
	e.meanwhile = func(r *http.Request) interlude {
		// Once only: the change's own requests come through here too.
		if !match(r) || !fired.CompareAndSwap(false, true) {
			return interlude{}
		}
		in := interlude{after: func() {
			if after != nil {
				after()
			}
			close(done)
		}}
		in.before = before
		return in
	}
	return done
}

// reached fails the test unless the run got to the request the other actor
// was waiting for.
func reached(t testing.TB, done <-chan struct{}, r cliRun) {
	t.Helper()
	select {
	case <-done:
	default:
		t.Fatalf("the run ended before the request the race is set on: nothing raced it\n%s", r)
	}
}

func isCall(method, suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == method && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), suffix)
	}
}

func hasCall(method, contains string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method && strings.Contains(r.URL.Path, contains) }
}

// another is another actor (a person with gcloud, another tool) changing an
// image directly, with the API's own calls.
type another struct {
	t testing.TB
	e *emu
}

func (a another) labels(name string, set map[string]string) {
	a.t.Helper()
	c := a.e.images(a.t)
	ctx := context.Background()
	img, err := c.Get(ctx, &computepb.GetImageRequest{Project: project, Image: name})
	if err != nil {
		a.t.Fatal(err)
	}
	labels := img.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range set {
		labels[k] = v
	}
	op, err := c.SetLabels(ctx, &computepb.SetLabelsImageRequest{Project: project, Resource: name,
		GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{Labels: labels, LabelFingerprint: img.LabelFingerprint}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		a.t.Fatal(err)
	}
}

func (a another) deprecate(name, state, replacement string) {
	a.t.Helper()
	c := a.e.images(a.t)
	ctx := context.Background()
	now := time.Now().UTC().Format(stamp)
	st := &computepb.DeprecationStatus{State: proto.String(state), Deprecated: proto.String(now)}
	if state == "OBSOLETE" {
		st.Obsolete = proto.String(now)
	}
	if replacement != "" {
		st.Replacement = proto.String("https://www.googleapis.com/compute/v1/projects/" + project + "/global/images/" + replacement)
	}
	op, err := c.Deprecate(ctx, &computepb.DeprecateImageRequest{Project: project, Image: name, DeprecationStatusResource: st})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		a.t.Fatal(err)
	}
}

// startCLI starts the imagefamily binary against e and returns what it did
// once it ends.
func startCLI(t testing.TB, e *emu, args ...string) <-chan cliRun {
	t.Helper()
	out := make(chan cliRun, 1)
	go func() { out <- runCLI(t, e, args...) }()
	return out
}

// result finds an image's result in a rotate report.
func result(t testing.TB, out rotateOut, image string) (action, outcome, detail string) {
	t.Helper()
	for _, f := range out.Families {
		for _, r := range f.Results {
			if r.Image == image {
				return r.Action, r.Outcome, r.Detail
			}
		}
	}
	return "", "", ""
}

var purgePolicy = lifecycle.Policy{KeepActive: 2, MinAge: time.Hour, ObsoleteAfter: 7 * day, DeleteAfter: 30 * day,
	PurgeAfter: 7 * day, ProtectLabel: lifecycle.DefaultProtectLabel, CheckInUse: true}

func rotateWeb(extra ...string) []string {
	args := []string{"rotate", "--project", project, "--family", "web", "--format", "json", "--lease-ttl", leaseTTL}
	args = append(args, policyFlags(purgePolicy)...)
	return append(args, extra...)
}

// slowEmu is an emulator at 25 ms a request: with --parallelism 2 a run of a
// few hundred actions outlasts the applier's freshness bound many times.
func slowEmu(t testing.TB) *emu {
	t.Helper()
	return startEmu(t, emulator.Options{Latency: 25 * time.Millisecond}, 0)
}

func TestAProtectLabelSetWhileARotationRunsStopsItsPurge(t *testing.T) {
	stats.scenario(t)
	e := slowEmu(t)
	now := time.Now()
	imgs := fixtureImages("web", 200, now, func(i int, img *computepb.Image) {
		if i < 198 {
			deletedDue(now)(img)
		}
	})
	loadImages(t, e, map[string][]*computepb.Image{project: imgs})
	// web-v00000 is purged last (the oldest): it is labelled as the run
	// sends its first delete.
	var mid world
	labelled := e.once(hasCall("DELETE", "/global/images/web-v"), func() {
		another{t, e}.labels("web-v00000", map[string]string{lifecycle.DefaultProtectLabel: "true"})
		mid = readWorld(t, e)
	})
	r := runCLI(t, e, append(rotateWeb(), "--parallelism", "2")...)
	reached(t, labelled, r)
	after := readWorld(t, e)
	checkRotation(t, "rotation with a protect label set during it", mid, after, purgePolicy, r.start, r.end, nil, []string{"web"})
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r)
	}
	if _, ok := after.images["web-v00000"]; !ok {
		t.Fatal("web-v00000 was purged although it was protected before its delete was sent")
	}
	out := parseRotate(t, r)
	if _, outcome, detail := result(t, out, "web-v00000"); outcome != "skipped" || !strings.Contains(detail, "imagefamily-protect") {
		t.Errorf("web-v00000: %s (%s), want skipped for the protect label", outcome, detail)
	}
	if out.Summary.Failed != 0 || out.Summary.Skipped != 1 || out.Summary.Done != 197 {
		t.Errorf("summary %+v, want 197 done, 1 skipped, 0 failed", out.Summary)
	}
}

// revokeFixture is 400 ACTIVE images: a run deprecates 398 of them, the
// oldest last.
func revokeFixture(t testing.TB, e *emu) {
	t.Helper()
	loadImages(t, e, map[string][]*computepb.Image{project: fixtureImages("web", 400, time.Now(), nil)})
}

func TestARevokeWhileARotationRunsStays(t *testing.T) {
	for _, by := range []string{"a person, with the API", "imagefamily revoke"} {
		t.Run(by, func(t *testing.T) {
			stats.scenario(t)
			e := slowEmu(t)
			revokeFixture(t, e)
			before := readWorld(t, e)
			var (
				mid    world
				revoke <-chan cliRun
			)
			started := e.once(hasCall("POST", "/deprecate"), func() {
				if by == "imagefamily revoke" {
					// It waits for the rotation's lease, then revokes.
					revoke = startCLI(t, e, "revoke", "--project", project, "web-v00000", "--reason", "cve-2026-1234", "--lease-ttl", leaseTTL, "--format", "json")
					return
				}
				another{t, e}.deprecate("web-v00000", "OBSOLETE", "web-v00399")
				another{t, e}.labels("web-v00000", map[string]string{lifecycle.LabelRevokedReason: "cve-2026-1234"})
				mid = readWorld(t, e)
			})
			r := runCLI(t, e, append(rotateWeb(), "--parallelism", "2")...)
			reached(t, started, r)
			if r.code != 0 {
				t.Fatalf("rotate: %s", r)
			}
			if revoke != nil {
				rv := <-revoke
				if rv.code != 0 || !strings.Contains(rv.stderr, "leased to rotate-") {
					t.Fatalf("revoke did not wait for the rotation's lease and succeed: %s", rv)
				}
			}
			after := readWorld(t, e)
			if by != "imagefamily revoke" {
				checkRotation(t, "rotation with a revoke during it", mid, after, purgePolicy, r.start, r.end, nil, []string{"web"})
				if _, outcome, detail := result(t, parseRotate(t, r), "web-v00000"); outcome != "skipped" || !strings.Contains(detail, "OBSOLETE now") {
					t.Errorf("web-v00000: %s (%s), want skipped: revoked since planned", outcome, detail)
				}
			} else {
				v := &violations{t: t, what: "rotation, then the revoke that waited for it"}
				checkCommon(v, before, after, nil, nil, []string{"web"})
				v.done()
			}
			if img := after.images["web-v00000"]; img.State != "OBSOLETE" || img.Labels[lifecycle.LabelRevokedReason] != "cve-2026-1234" {
				t.Fatalf("web-v00000 = %s labels %v, want the revoke to stand (OBSOLETE, reason cve-2026-1234)", orActive(img.State), img.Labels)
			}
		})
	}
}

// rollbackFixture is the repro's family: web-h2 and web-h1 (the head and
// the keep_active one), 300 DELETED images whose purge is due, and web-good,
// ACTIVE and older than all of them: the run deprecates it last.
func rollbackFixture(t testing.TB, e *emu) {
	t.Helper()
	now := time.Now()
	imgs := fixtureImages("web", 302, now, func(i int, img *computepb.Image) {
		switch i {
		case 300:
			img.Name = proto.String("web-h1")
		case 301:
			img.Name = proto.String("web-h2")
		default:
			deletedDue(now)(img)
		}
	})
	good := &computepb.Image{Name: proto.String("web-good"), Family: proto.String("web"),
		CreationTimestamp: proto.String(now.Add(-200 * day).Format(stamp)), RawDisk: &computepb.RawDisk{Source: proto.String("gs://acme/d.tar.gz")}}
	loadImages(t, e, map[string][]*computepb.Image{project: append(imgs, good)})
}

func TestARollbackWhileARotationRunsKeepsTheFamilyResolving(t *testing.T) {
	for _, by := range []string{"a person, with the API", "imagefamily rollback"} {
		t.Run(by, func(t *testing.T) {
			stats.scenario(t)
			e := slowEmu(t)
			rollbackFixture(t, e)
			var (
				mid      world
				rollback <-chan cliRun
			)
			started := e.once(hasCall("DELETE", "/global/images/web-v"), func() {
				if by == "imagefamily rollback" {
					rollback = startCLI(t, e, "rollback", "--project", project, "--family", "web", "--to", "web-good", "--lease-ttl", leaseTTL, "--format", "json")
					return
				}
				// A rollback by hand: the two newer images deprecated,
				// replaced by web-good, which is the head from now on.
				another{t, e}.deprecate("web-h2", "DEPRECATED", "web-good")
				another{t, e}.deprecate("web-h1", "DEPRECATED", "web-good")
				mid = readWorld(t, e)
			})
			r := runCLI(t, e, append(rotateWeb(), "--parallelism", "2")...)
			reached(t, started, r)
			if r.code != 0 {
				t.Fatalf("rotate: %s", r)
			}
			if rollback != nil {
				if rb := <-rollback; rb.code != 0 {
					t.Fatalf("rollback: %s", rb)
				}
			}
			after := readWorld(t, e)
			head, ok := after.oracleHead("web")
			if !ok {
				t.Fatal("the family resolves to nothing: a rollback and a rotation together left it no ACTIVE image")
			}
			if by == "imagefamily rollback" {
				if head.Name != "web-good" && head.Labels[lifecycle.LabelRollbackOf] != "web-good" {
					t.Fatalf("the family resolves to %s, want web-good or its re-released copy", head.Name)
				}
				return
			}
			checkRotation(t, "rotation with a rollback during it", mid, after, purgePolicy, r.start, r.end, nil, []string{"web"})
			if head.Name != "web-good" {
				t.Fatalf("the family resolves to %s, want web-good, the rollback's target", head.Name)
			}
			if _, outcome, detail := result(t, parseRotate(t, r), "web-good"); outcome != "skipped" || !strings.Contains(detail, "resolves to web-good now") {
				t.Errorf("web-good: %s (%s), want skipped: the head moved since planned", outcome, detail)
			}
		})
	}
}

func TestTwoRotationsAtOnceNeitherFails(t *testing.T) {
	stats.scenario(t)
	e := startEmu(t, emulator.Options{}, 0)
	now := time.Now()
	loadImages(t, e, map[string][]*computepb.Image{project: fixtureImages("web", 200, now, func(i int, img *computepb.Image) {
		if i < 198 {
			deletedDue(now)(img)
		}
	})})
	before := readWorld(t, e)
	a, b := startCLI(t, e, rotateWeb()...), startCLI(t, e, rotateWeb()...)
	ra, rb := <-a, <-b
	after := readWorld(t, e)
	for _, r := range []cliRun{ra, rb} {
		out := parseRotate(t, r)
		if r.code != 0 || out.Summary.Failed != 0 {
			t.Errorf("a run of two at once failed: exit %d, summary %+v\n%s", r.code, out.Summary, r.stderr)
		}
	}
	if n := len(after.images); n != 2 {
		t.Errorf("%d images left, want the 2 ACTIVE ones: every due purge done once", n)
	}
	checkRotation(t, "two rotations at once", before, after, purgePolicy, minTime(ra.start, rb.start), maxTime(ra.end, rb.end), nil, []string{"web"})
}

func TestEqualCreationTimesKeepTheImageGetFromFamilyReturns(t *testing.T) {
	stats.scenario(t)
	e := startEmu(t, emulator.Options{}, 0)
	at := time.Now().Add(-3 * day).Format(stamp)
	imgs := []*computepb.Image{
		{Name: proto.String("web-a"), Id: proto.Uint64(900), Family: proto.String("web"), CreationTimestamp: proto.String(at)},
		{Name: proto.String("web-b"), Id: proto.Uint64(100), Family: proto.String("web"), CreationTimestamp: proto.String(at)},
	}
	loadImages(t, e, map[string][]*computepb.Image{project: imgs})
	before := readWorld(t, e)
	pol := purgePolicy
	pol.KeepActive, pol.MinAge = 1, 0
	args := append([]string{"rotate", "--project", project, "--family", "web", "--format", "json", "--lease-ttl", leaseTTL}, policyFlags(pol)...)
	r := runCLI(t, e, args...)
	after := readWorld(t, e)
	checkRotation(t, "rotation of a family with equal creation times", before, after, pol, r.start, r.end, nil, []string{"web"})
	if head, _ := after.oracleHead("web"); head.Name != "web-b" || r.code != 0 {
		t.Fatalf("exit %d, head %s: want web-b (getFromFamily's answer) to stay ACTIVE", r.code, head.Name)
	}
}

func TestAReplacementThatIsGoneGivesWayToTheHead(t *testing.T) {
	stats.scenario(t)
	e := startEmu(t, emulator.Options{}, 0)
	now := time.Now()
	imgs := fixtureImages("web", 4, now.Add(-10*day), nil)
	imgs[0].Deprecated = &computepb.DeprecationStatus{State: proto.String("DEPRECATED"),
		Replacement: proto.String("https://www.googleapis.com/compute/v1/projects/acme-images/global/images/web-gone"),
		Deprecated:  proto.String(now.Add(-9 * day).Format(stamp)), Obsolete: proto.String(now.Add(-day).Format(stamp))}
	loadImages(t, e, map[string][]*computepb.Image{project: imgs})
	before := readWorld(t, e)
	for run := 1; run <= 2; run++ {
		r := runCLI(t, e, rotateWeb()...)
		if r.code != 0 {
			t.Fatalf("run %d: %s", run, r)
		}
		nextSecond(r.end)
	}
	after := readWorld(t, e)
	img := after.images["web-v00000"]
	if img.State != "OBSOLETE" || !strings.HasSuffix(img.Replacement, "/web-v00003") {
		t.Fatalf("web-v00000 = %s replaced by %q, want OBSOLETE replaced by the head web-v00003", orActive(img.State), img.Replacement)
	}
	v := &violations{t: t, what: "rotations of a family whose replacement is gone"}
	checkCommon(v, before, after, nil, nil, []string{"web"})
	v.done()
}

func TestABootDiskWrittenWithABetaURLKeepsItsImageInUse(t *testing.T) {
	stats.scenario(t)
	e := startEmu(t, emulator.Options{}, 0)
	now := time.Now()
	z := "https://www.googleapis.com/compute/v1/projects/" + project + "/zones/" + zone
	disk := func(name, image string) json.RawMessage {
		return rawJSON(t, map[string]any{"name": name, "zone": z, "sizeGb": "10",
			"sourceImage": "https://www.googleapis.com/compute/v1/projects/" + project + "/global/images/" + image})
	}
	inst := func(name, source string) json.RawMessage {
		return rawJSON(t, map[string]any{"name": name, "zone": z, "machineType": z + "/machineTypes/e2-small",
			"disks": []map[string]any{{"boot": true, "source": source}}})
	}
	st := emulator.State{Projects: map[string]emulator.ProjectState{project: {
		Disks:     []json.RawMessage{disk("d1", "web-v00000")},
		Instances: []json.RawMessage{inst("vm-beta", "https://www.googleapis.com/compute/beta/projects/"+project+"/zones/"+zone+"/disks/d1")},
	}}}
	for _, img := range fixtureImages("web", 5, now.Add(-20*day), nil) {
		ps := st.Projects[project]
		ps.Images = append(ps.Images, marshal(t, img))
		st.Projects[project] = ps
	}
	if err := e.srv.LoadState(st); err != nil {
		t.Fatal(err)
	}
	before := readWorld(t, e)
	r := runCLI(t, e, rotateWeb()...)
	after := readWorld(t, e)
	checkRotation(t, "rotation with a beta boot disk URL", before, after, purgePolicy, r.start, r.end, nil, []string{"web"})
	if img := after.images["web-v00000"]; orActive(img.State) != "ACTIVE" {
		t.Fatalf("web-v00000, the boot image of vm-beta, is %s", img.State)
	}
}

func TestARollbackRefusesToDeprecateAProtectedImageUnlessForced(t *testing.T) {
	stats.scenario(t)
	e := startEmu(t, emulator.Options{}, 0)
	imgs := fixtureImages("web", 3, time.Now(), nil)
	imgs[2].Labels = map[string]string{lifecycle.DefaultProtectLabel: "true"} // the head
	loadImages(t, e, map[string][]*computepb.Image{project: imgs})
	before := readWorld(t, e)
	args := []string{"rollback", "--project", project, "--family", "web", "--to", "web-v00000", "--lease-ttl", leaseTTL}
	r := runCLI(t, e, args...)
	if r.code != 2 || !strings.Contains(r.stderr, "web-v00002") || !strings.Contains(r.stderr, "imagefamily-protect") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("want exit 2 naming web-v00002, its protect label and --force: %s", r)
	}
	if diff := diffLines(normalize(before, purgePolicy, r.start, r.end), normalize(readWorld(t, e), purgePolicy, r.start, r.end)); diff != "" {
		t.Fatalf("a refused rollback changed the family:\n%s", diff)
	}
	r = runCLI(t, e, append(args, "--force")...)
	after := readWorld(t, e)
	if r.code != 0 || orActive(after.images["web-v00002"].State) != "DEPRECATED" {
		t.Fatalf("with --force: exit %d, web-v00002 %s: %s", r.code, after.images["web-v00002"].State, r)
	}
	forced := lifecycle.DefaultPolicy()
	forced.ProtectLabel = "" // --force: the protect label does not hold the rollback back
	created := checkRollbackWith(t, "forced rollback", before, after, "web-v00000", false, forced, nil)
	if len(created) != 0 {
		t.Errorf("created %v", created)
	}
}

func TestRevokeDescendantsReachesPromotedCopiesInTheProjectsSearched(t *testing.T) {
	stats.scenario(t)
	e := startEmu(t, emulator.Options{}, 0)
	now := time.Now()
	dev := fixtureImages("app", 2, now, nil)
	prodCopy := &computepb.Image{Name: proto.String("app-prod-v1"), Family: proto.String("app-prod"),
		CreationTimestamp: proto.String(now.Add(-day).Format(stamp)), Labels: map[string]string{
			lifecycle.LabelPromotedFrom: "app-v00001", lifecycle.LabelPromotedFromProject: project}}
	loadImages(t, e, map[string][]*computepb.Image{project: dev, "acme-prod": {prodCopy}})
	prodState := func() string {
		st, err := e.srv.SnapshotState()
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range st.Projects["acme-prod"].Images {
			var img computepb.Image
			if err := protojson.Unmarshal(raw, &img); err != nil {
				t.Fatal(err)
			}
			if img.GetName() == "app-prod-v1" {
				return orActive(img.GetDeprecated().GetState())
			}
		}
		return gone
	}
	r := runCLI(t, e, "revoke", "--project", project, "app-v00001", "--descendants", "--reason", "cve", "--force", "--format", "json", "--lease-ttl", leaseTTL)
	if r.code != 0 || prodState() != "ACTIVE" || !strings.Contains(r.stdout, `"searched_projects": [`) {
		t.Fatalf("without --search-projects the prod copy is not searched (and the output says where it looked): exit %d, prod %s\n%s", r.code, prodState(), r)
	}
	r = runCLI(t, e, "revoke", "--project", project, "app-v00001", "--descendants", "--search-projects", "acme-prod", "--reason", "cve", "--force", "--lease-ttl", leaseTTL)
	if r.code != 0 || prodState() != "OBSOLETE" || !strings.Contains(r.stdout, "searched for descendants in: acme-images, acme-prod") {
		t.Fatalf("with --search-projects acme-prod the promoted copy is revoked: exit %d, prod %s\n%s", r.code, prodState(), r)
	}
}

// releaseKilledTemplate releases what googlecompute builds into family web,
// with the rotation's min_age (the orphan grace) at zero.
const releaseKilledTemplate = `
build {
  sources = ["source.googlecompute.app"]
  post-processor "imagefamily-release" {
    project_id       = "acme-images"
    family           = "web"
    parent           = "base-v1"
    custom_endpoints = { compute = "%s" }
  }
}
`

func TestAKilledReleaseLeavesAnOrphanThatStatusShowsAndRotateCleansUp(t *testing.T) {
	stats.scenario(t)
	env := packerEnv(t)
	e := startEmu(t, emulator.Options{}, 0)
	now := time.Now()
	base := &computepb.Image{Name: proto.String("base-v1"), Family: proto.String("base"), CreationTimestamp: proto.String(now.Add(-10 * day).Format(stamp)), DiskSizeGb: proto.Int64(10)}
	loadImages(t, e, map[string][]*computepb.Image{project: append(fixtureImages("web", 2, now, nil), base)})

	dir := t.TempDir()
	endpoint := e.URL + "/compute/v1/"
	packerrun.WriteTemplate(t, dir, packerrun.GoogleComputeApp(endpoint, "web-new")+fmt.Sprintf(releaseKilledTemplate, endpoint))
	cmd := exec.Command(env.Bins.Packer, "build", "-color=false", ".")
	cmd.Dir, cmd.Env = dir, env.Vars
	var output strings.Builder
	cmd.Stdout, cmd.Stderr = &output, &output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its plugins too: as a CI runner kills a job
	// The release's first write on the image it releases: its labels and
	// the mark. Packer's whole process group dies once it is applied.
	var pid atomic.Int64
	killed := e.onceAround(isCall("POST", "/global/images/web-new/setLabels"), nil, func() { _ = syscall.Kill(-int(pid.Load()), syscall.SIGKILL) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid.Store(int64(cmd.Process.Pid))
	_ = cmd.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("packer ended before the release wrote its labels: nothing was killed\n%s", output.String())
	}
	stats.crash()

	w := readWorld(t, e)
	if img := w.images["web-new"]; img.Family != "" || img.Labels[lifecycle.LabelReleasingInto] != "web" {
		t.Fatalf("web-new = family %q labels %v: want it in no family, marked as released into web", img.Family, img.Labels)
	}
	st := runCLI(t, e, "status", "--project", project, "--family", "web", "--min-age", "0", "--format", "json")
	var status struct {
		Lease  *struct{ Holder string } `json:"lease"`
		Images []struct {
			Name     string `json:"name"`
			State    string `json:"state"`
			Orphaned bool   `json:"orphaned"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(st.stdout), &status); err != nil {
		t.Fatalf("status: %v\n%s", err, st)
	}
	found := false
	for _, img := range status.Images {
		found = found || (img.Name == "web-new" && img.Orphaned && img.State == "ORPHANED")
	}
	if !found || status.Lease == nil || !strings.HasPrefix(status.Lease.Holder, "release-") {
		t.Fatalf("status shows no ORPHANED web-new, or not the killed release's lease: %s", st.stdout)
	}
	// The killed release's lease blocks the family until it runs out (5
	// minutes): a rotation refuses, naming it.
	busy := runCLI(t, e, "rotate", "--project", project, "--family", "web", "--min-age", "0", "--lease-wait", "0s")
	if busy.code != 5 || !strings.Contains(busy.stderr, "leased to release-") {
		t.Fatalf("rotate under the killed release's lease: want exit 5 naming it: %s", busy)
	}
	// The operator takes the dead release's lease off, as the message says.
	c := e.images(t)
	var anchor string
	for name, img := range readWorld(t, e).images {
		if _, ok := img.Labels[lifecycle.LabelLease]; ok {
			anchor = name
		}
	}
	img, err := c.Get(context.Background(), &computepb.GetImageRequest{Project: project, Image: anchor})
	if err != nil {
		t.Fatal(err)
	}
	labels := img.GetLabels()
	delete(labels, lifecycle.LabelLease)
	op, err := c.SetLabels(context.Background(), &computepb.SetLabelsImageRequest{Project: project, Resource: anchor,
		GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{Labels: labels, LabelFingerprint: img.LabelFingerprint}})
	if err == nil {
		err = op.Wait(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	before := readWorld(t, e)
	pol := purgePolicy
	pol.MinAge = 0
	args := append([]string{"rotate", "--project", project, "--all-families", "--format", "json", "--lease-ttl", leaseTTL}, policyFlags(pol)...)
	r := runCLI(t, e, args...)
	after := readWorld(t, e)
	checkRotation(t, "rotation cleaning up an orphan", before, after, pol, r.start, r.end, nil, []string{"web", "base"})
	if _, ok := after.images["web-new"]; ok || r.code != 0 {
		t.Fatalf("exit %d; the orphan web-new is still there: rotate --all-families must delete it\n%s", r.code, r)
	}
	if action, outcome, _ := result(t, parseRotate(t, r), "web-new"); action != "delete" || outcome != "done" {
		t.Errorf("web-new: %s %s, want delete done", action, outcome)
	}
}

func rawJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
