package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// releaseTemplate releases the image googlecompute builds from base-v1
// (packerrun.GoogleComputeApp) into app-nginx with the imagefamily-release
// post-processor. %[1]s is the endpoint, %[2]s the report file.
const releaseTemplate = `
build {
  sources = ["source.googlecompute.app"]
  post-processor "imagefamily-release" {
    project_id  = "acme-images"
    family      = "app-nginx"
    parent      = "base-v1"
    labels      = { team = "web" }
    report_file = "%[2]s"
    naming {
      os       = "debian-12"
      software = "nginx"
      version  = "1.26"
    }
    rotation {
      keep_active = 1
      min_age     = "0s"
    }
    custom_endpoints = { compute = "%[1]s" }
  }
}
`

// appFixture is the family two builds release into: an old head, a
// DEPRECATED image waiting for its date, a protected one, one a template
// uses, and the source image of the builds.
func appFixture(t testing.TB, e *emu) {
	t.Helper()
	now := time.Now().UTC()
	for _, img := range []*computepb.Image{
		{Name: proto.String("base-v1"), Family: proto.String("base-debian-12"), DiskSizeGb: proto.Int64(10)},
		{Name: proto.String("app-v0"), Family: proto.String("app-nginx"), CreationTimestamp: proto.String(stampMillis(now.Add(-9 * day))),
			Deprecated: &computepb.DeprecationStatus{State: proto.String("DEPRECATED"), Deprecated: proto.String(stampRFC(now.Add(-2 * day))), Obsolete: proto.String(stampRFC(now.Add(5 * day)))}},
		{Name: proto.String("app-kept"), Family: proto.String("app-nginx"), CreationTimestamp: proto.String(stampMillis(now.Add(-8 * day))),
			Labels: map[string]string{lifecycle.DefaultProtectLabel: "true"}},
		{Name: proto.String("app-used"), Family: proto.String("app-nginx"), CreationTimestamp: proto.String(stampMillis(now.Add(-7 * day)))},
		{Name: proto.String("app-v1"), Family: proto.String("app-nginx"), CreationTimestamp: proto.String(stampMillis(now.Add(-6 * day)))},
	} {
		if err := e.srv.PutImage(project, img); err != nil {
			t.Fatal(err)
		}
	}
	tpl := &computepb.InstanceTemplate{Name: proto.String("app-tpl"), Properties: &computepb.InstanceProperties{
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String("global/images/app-used")}}}}}
	st := emulator.State{Projects: map[string]emulator.ProjectState{project: {InstanceTemplates: []json.RawMessage{marshal(t, tpl)}}}}
	if err := e.srv.LoadState(st); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentPackerReleases runs two `packer build`s at once (the real
// packer, googlecompute and this plugin's post-processor) that release into
// one family: the newer image must be the head, the older rotated by the
// policy (keep_active = 1), and nothing else changed beyond what the policy
// says: lifecycle.Plan over the family with both images in it.
func TestConcurrentPackerReleases(t *testing.T) {
	t.Parallel()
	env := packerEnv(t)
	n := pick(1, 4)
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprintf("pair%d", i), func(t *testing.T) {
			stats.scenario(t)
			e := startEmu(t, emulator.Options{Seed: int64(i)}, 0)
			appFixture(t, e)
			before := readWorld(t, e)
			names := []string{"debian-12-nginx-1-26-v20261126t080000", "debian-12-nginx-1-26-v20261126t080100"}
			reports := make([]string, 2)
			outs := make([]string, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for k := range names {
				dir := t.TempDir()
				reports[k] = filepath.Join(dir, "report.json")
				endpoint := e.URL + "/compute/v1/"
				packerrun.WriteTemplate(t, dir, packerrun.GoogleComputeApp(endpoint, names[k])+fmt.Sprintf(releaseTemplate, endpoint, reports[k]))
				wg.Add(1)
				go func() {
					defer wg.Done()
					stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", ".")
					outs[k], errs[k] = stdout+stderr, err
				}()
			}
			wg.Wait()
			end := time.Now()
			for k := range names {
				stats.run("packer build")
				if errs[k] != nil {
					t.Fatalf("packer build of %s: %v\n%s", names[k], errs[k], outs[k])
				}
			}
			after := readWorld(t, e)
			a, b := after.images[names[0]], after.images[names[1]]
			newer, older := names[1], names[0]
			if parseT(a.Created).After(*parseT(b.Created)) {
				newer, older = older, newer
			}
			v := &violations{t: t, what: fmt.Sprintf("two concurrent packer releases, pair %d", i)}
			if head, _ := after.head(t, "app-nginx"); head != newer {
				v.add("the family resolves to %q, want the newer image %s", head, newer)
			}
			if st := after.images[older]; orActive(st.State) != "DEPRECATED" || !strings.HasSuffix(st.Replacement, "/"+newer) {
				v.add("the older image %s is %s replaced by %q: want DEPRECATED, replaced by %s (keep_active = 1)", older, orActive(st.State), st.Replacement, newer)
			}
			for _, name := range names {
				if after.images[name].Labels[lifecycle.LabelReleasedAt] == "" || after.images[name].Labels["team"] != "web" {
					v.add("%s lacks the release's labels: %v", name, after.images[name].Labels)
				}
			}
			v.done()
			// Everything else: what the policy says, over the family with
			// both images in it as built (planned once both exist).
			model := world{images: map[string]image{}, templates: before.templates, instances: before.instances}
			for name, img := range before.images {
				model.images[name] = img
			}
			model.images[newer] = after.images[newer]
			olderAsBuilt := after.images[older]
			olderAsBuilt.State, olderAsBuilt.Replacement, olderAsBuilt.Deprecated, olderAsBuilt.Obsolete, olderAsBuilt.Deleted = "", "", "", "", ""
			delete(olderAsBuilt.Labels, lifecycle.LabelRotatedAt)
			model.images[older] = olderAsBuilt
			checkRotation(t, fmt.Sprintf("two concurrent packer releases, pair %d", i), model, after, lifecycle.Policy{
				KeepActive: 1, MinAge: 0, ObsoleteAfter: 7 * day, DeleteAfter: 30 * day, PurgeAfter: 7 * day,
				ProtectLabel: lifecycle.DefaultProtectLabel, CheckInUse: true}, end, end, nil, []string{"app-nginx"})
			for k, path := range reports {
				if _, err := os.Stat(path); err != nil {
					t.Errorf("build %d wrote no report: %v", k, err)
				}
			}
		})
	}
}
