package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

const (
	project = "acme-images"
	day     = 24 * time.Hour
	zone    = "us-central1-a"
	// writerPrefix starts the label keys the concurrent writer adds.
	writerPrefix = "chaos-w"
)

// fixture is a seeded project: families of images in every state, with and
// without dates, young, protected, in use by templates and instances, an
// image outside any family, and a policy.
type fixture struct {
	seed     int64
	base     time.Time // the wall-clock time it is dated from
	state    emulator.State
	families []string
	policy   lifecycle.Policy
}

// policyFlags are the rotate flags for pol.
func policyFlags(pol lifecycle.Policy) []string {
	return []string{
		"--keep-active", strconv.Itoa(pol.KeepActive),
		"--min-age", lifecycle.FormatDuration(pol.MinAge),
		"--obsolete-after", lifecycle.FormatDuration(pol.ObsoleteAfter),
		"--delete-after", lifecycle.FormatDuration(pol.DeleteAfter),
		"--purge-after", lifecycle.FormatDuration(pol.PurgeAfter),
		"--protect-label", pol.ProtectLabel,
		"--check-in-use=" + strconv.FormatBool(pol.CheckInUse),
	}
}

// Every fixture date is a whole number of hours plus 17 minutes away from
// base: far enough from any time a run writes (now, now+obsolete_after,
// now+obsolete_after+delete_after) that normalising those (see normalize)
// cannot catch a fixture date, and from min_age's edge.
const offMinutes = 17 * time.Minute

func genFixture(t testing.TB, seed int64) fixture {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	f := fixture{seed: seed, base: time.Now().UTC().Truncate(time.Second), families: []string{"web", "api"}}
	f.policy = lifecycle.Policy{
		KeepActive: 1 + r.Intn(3), MinAge: day, ObsoleteAfter: 7 * day, DeleteAfter: 30 * day, PurgeAfter: 7 * day,
		ProtectLabel: lifecycle.DefaultProtectLabel, CheckInUse: true,
	}
	ps := emulator.ProjectState{}
	var webImages []string
	for _, fam := range f.families {
		n := 4 + r.Intn(10)
		if fam == "web" {
			n = 8 + r.Intn(12)
		}
		young := r.Intn(3)
		hasActive := false
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("%s-v%03d", fam, i+1)
			age := time.Duration(n-i)*40*time.Hour + offMinutes
			if i >= n-young {
				age = time.Duration(2*(n-i)+1)*time.Hour + offMinutes // younger than min_age
			}
			img := &computepb.Image{
				Name: proto.String(name), Family: proto.String(fam),
				CreationTimestamp: proto.String(stampMillis(f.base.Add(-age))),
				RawDisk:           &computepb.RawDisk{Source: proto.String("gs://acme/" + name + ".tar.gz")},
				Labels:            map[string]string{"team": fam},
			}
			state := []string{"", "ACTIVE", "ACTIVE", "ACTIVE", "DEPRECATED", "DEPRECATED", "OBSOLETE", "DELETED", "DELETED"}[r.Intn(9)]
			if i == n-1 && fam == "web" && !hasActive {
				state = "" // web always has a head
			}
			if state == "" || state == "ACTIVE" {
				hasActive = true
			}
			dep := &computepb.DeprecationStatus{State: proto.String(state)}
			date := func() *string {
				switch r.Intn(5) {
				case 0:
					return nil
				case 1, 2:
					return proto.String(stampRFC(f.base.Add(-time.Duration(1+r.Intn(60*24)) * time.Hour).Add(-offMinutes)))
				default:
					return proto.String(stampRFC(f.base.Add(time.Duration(1+r.Intn(60*24)) * time.Hour).Add(offMinutes)))
				}
			}
			if state != "" && state != "ACTIVE" || r.Intn(6) == 0 {
				dep.Deprecated, dep.Obsolete, dep.Deleted = date(), date(), date()
			}
			if state == "" {
				dep.State = nil
			}
			if dep.State != nil || dep.Deprecated != nil || dep.Obsolete != nil || dep.Deleted != nil {
				if dep.State == nil {
					dep.State = proto.String("ACTIVE")
				}
				img.Deprecated = dep
			}
			switch r.Intn(12) {
			case 0:
				img.Labels[lifecycle.DefaultProtectLabel] = "true"
			case 1:
				img.Labels[lifecycle.DefaultProtectLabel] = "false"
			case 2:
				img.Labels[lifecycle.LabelRotatedAt] = lifecycle.LabelTimestamp(f.base.Add(-3 * day))
			}
			if r.Intn(25) == 0 {
				img.Status = proto.String("PENDING")
			}
			ps.Images = append(ps.Images, marshal(t, img))
			if fam == "web" {
				webImages = append(webImages, name)
			}
		}
	}
	// An image outside any family, which nothing may touch.
	ps.Images = append(ps.Images, marshal(t, &computepb.Image{Name: proto.String("scratch-1"),
		CreationTimestamp: proto.String(stampMillis(f.base.Add(-90*day - offMinutes))),
		RawDisk:           &computepb.RawDisk{Source: proto.String("gs://acme/scratch.tar.gz")},
		Deprecated:        &computepb.DeprecationStatus{State: proto.String("DELETED"), Deleted: proto.String(stampRFC(f.base.Add(-80*day - offMinutes)))}}))

	// Users: global templates naming an image by self link, a regional one
	// by path, instances through their boot disks, and a template following
	// the family.
	tpl := func(name, src string) *computepb.InstanceTemplate {
		return &computepb.InstanceTemplate{Name: proto.String(name), Properties: &computepb.InstanceProperties{
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String(src)}}}}}
	}
	pickWeb := func() string { return webImages[r.Intn(len(webImages))] }
	for i := range r.Intn(3) {
		ps.InstanceTemplates = append(ps.InstanceTemplates, marshal(t, tpl(fmt.Sprintf("web-tpl-%d", i),
			"https://www.googleapis.com/compute/v1/projects/"+project+"/global/images/"+pickWeb())))
	}
	ps.InstanceTemplates = append(ps.InstanceTemplates, marshal(t, tpl("web-follows-family", "projects/"+project+"/global/images/family/web")))
	if r.Intn(2) == 0 {
		rt := tpl("web-regional", "projects/"+project+"/global/images/"+pickWeb())
		rt.Region = proto.String("us-central1")
		ps.RegionInstanceTemplates = append(ps.RegionInstanceTemplates, marshal(t, rt))
	}
	for i := range r.Intn(3) {
		vm := fmt.Sprintf("web-vm-%d", i)
		ps.Disks = append(ps.Disks, marshal(t, &computepb.Disk{Name: proto.String(vm), Zone: proto.String(zone),
			SourceImage: proto.String("global/images/" + pickWeb())}))
		ps.Instances = append(ps.Instances, marshal(t, &computepb.Instance{Name: proto.String(vm), Zone: proto.String(zone),
			Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), Source: proto.String("projects/" + project + "/zones/" + zone + "/disks/" + vm)}}}))
	}
	f.state = emulator.State{Projects: map[string]emulator.ProjectState{project: ps}}
	return f
}

// load lays the fixture into a running emulator.
func (f fixture) load(t testing.TB, e *emu) {
	t.Helper()
	if err := e.srv.LoadState(f.state); err != nil {
		t.Fatalf("loading fixture %d: %v", f.seed, err)
	}
}

func marshal(t testing.TB, m proto.Message) json.RawMessage {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func stampMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
func stampRFC(t time.Time) string    { return t.UTC().Format(time.RFC3339) }

var fixtures sync.Map // seed -> fixture

// fixtureFor is genFixture, once per seed and test process: tests that
// compare outcomes of one fixture need the same dates. Fixture dates are at
// least 1h17m from the time they were generated, so a process that runs
// less than that never sees one of them fall due.
func fixtureFor(t testing.TB, seed int64) fixture {
	t.Helper()
	if f, ok := fixtures.Load(seed); ok {
		return f.(fixture)
	}
	f, _ := fixtures.LoadOrStore(seed, genFixture(t, seed))
	return f.(fixture)
}
