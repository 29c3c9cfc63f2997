// Package bench measures what a rotation costs against the local Compute
// Engine emulator: wall time, API requests by method (counted at the
// emulator through emulator.Options.OnRequest), the peak memory of the
// `imagefamily` process, and the bound T* that the API itself forces. The
// program bench/cmd/rotatebench runs the whole matrix (`make bench`);
// bench_test.go runs a small version of it in `make test` and asserts the
// request-count bounds. BENCHMARKS.md holds the figures.
package bench

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// The fixture's names.
const (
	Project = "acme-images"
	Family  = "app"
)

// Fixture describes one benchmark project: a family of Images images whose
// states and dates make some of them due under the default policy, plus
// instance templates and instances (each with its boot disk) for the in-use
// scan, and OtherImages images of other families in the same project.
type Fixture struct {
	Images      int
	Templates   int // global and regional instance templates
	Instances   int // instances, each with a boot disk
	OtherImages int // images of other families, which the family list must skip
	// OtherFamilies is how many families the OtherImages are spread over
	// (20 when zero).
	OtherFamilies int
	// AllActive makes every image ACTIVE (a family no rotator has touched
	// yet, what the gcloud baseline handles): all but the two newest are due
	// for deprecation.
	AllActive bool
	// CatchUp gives the DEPRECATED images that are due a deleted date that
	// has passed too (a rotation that did not run for a month): after the
	// obsolete step, the next one is due already, so the plan stamps
	// imagefamily-rotated-at first: a label write, a second mutation.
	CatchUp bool
}

// kindAt is the kind of the image at position i.
func (f Fixture) kindAt(i int) kind {
	if f.AllActive {
		if i < 2 {
			return kindKept
		}
		return kindDeprecateDue
	}
	return kindOf(i, f.Images)
}

// kind is an image's place in the fixture, by its position i from the
// newest (0) in a family of n.
type kind int

const (
	kindKept           kind = iota // ACTIVE head or keep_active: untouched
	kindDeprecateDue               // ACTIVE, beyond keep_active: deprecate
	kindDeprecatedWait             // DEPRECATED, obsolete date to come
	kindObsoleteDue                // DEPRECATED, obsolete date passed: obsolete
	kindMarkDeletedDue             // OBSOLETE, deleted date passed: mark DELETED
	kindObsoleteWait               // OBSOLETE, deleted date to come
	kindPurgeDue                   // DELETED for longer than purge_after: delete
	kindDeletedWait                // DELETED, purge_after not over
	numKinds
)

var kindNames = [numKinds]string{"kept", "deprecate", "deprecated-waiting", "obsolete", "mark-deleted",
	"obsolete-waiting", "purge", "deleted-waiting"}

func (k kind) String() string { return kindNames[k] }

// due reports whether the default policy moves an image of this kind now.
func (k kind) due() bool {
	switch k {
	case kindDeprecateDue, kindObsoleteDue, kindMarkDeletedDue, kindPurgeDue:
		return true
	}
	return false
}

// kindOf spreads a family over the life cycle by age: the newest fifth
// ACTIVE (the two newest kept), then DEPRECATED, OBSOLETE and DELETED images,
// each partly due and partly waiting. About 65% of a large family is due.
func kindOf(i, n int) kind {
	f := float64(i) / float64(n)
	switch {
	case i < 2: // head + keep_active = 2
		return kindKept
	case f < 0.20:
		return kindDeprecateDue
	case f < 0.35:
		return kindDeprecatedWait
	case f < 0.50:
		return kindObsoleteDue
	case f < 0.65:
		return kindMarkDeletedDue
	case f < 0.75:
		return kindObsoleteWait
	case f < 0.90:
		return kindPurgeDue
	}
	return kindDeletedWait
}

// ImageName is the name of the image at position i from the newest.
func ImageName(i, n int) string { return fmt.Sprintf("%s-v%05d", Family, n-i) }

// heldBy returns the family image (position from the newest) that template
// or instance j uses directly, or -1: one resource in 500 names a family
// image (at most one per 200 images of the family), so the in-use check
// holds back a few images.
func heldBy(j, n int) int {
	k := j / 500
	if j%500 != 7 || k >= max(1, n/200) {
		return -1 // at most one held image per 200 in the family
	}
	return 2 + k*7%max(1, n-2)
}

// Expected is what a rotation of the fixture must do.
type Expected struct {
	Actions  int            // M: actions due
	ByAction map[string]int // deprecate, obsolete, mark-deleted, purge
	Held     int            // due images the in-use check holds back
	// Stamps is the actions that write imagefamily-rotated-at first
	// (Fixture.CatchUp).
	Stamps int
}

// Expect computes the actions due from the fixture's design, independently
// of the planner.
func (f Fixture) Expect() Expected {
	held := map[int]bool{}
	for j := 0; j < f.Templates; j++ {
		if i := heldBy(j, f.Images); i >= 0 && i < f.Images {
			held[i] = true
		}
	}
	for j := 0; j < f.Instances; j++ {
		if i := heldBy(j+1, f.Images); i >= 0 && i < f.Images {
			held[i] = true
		}
	}
	e := Expected{ByAction: map[string]int{}}
	for i := 0; i < f.Images; i++ {
		k := f.kindAt(i)
		if !k.due() {
			continue
		}
		if held[i] {
			e.Held++
			continue
		}
		e.Actions++
		e.ByAction[k.String()]++
		if f.CatchUp && k == kindObsoleteDue {
			e.Stamps++
		}
	}
	return e
}

const stamp = "2006-01-02T15:04:05.000Z07:00"

// State builds the fixture in the emulator's state format (what
// `imagefamily emulator --state` loads), with dates relative to now.
func (f Fixture) State(now time.Time) (emulator.State, error) {
	now = now.UTC()
	day := 24 * time.Hour
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	var ps emulator.ProjectState
	add := func(list *[]json.RawMessage, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		*list = append(*list, b)
		return nil
	}
	type obj = map[string]any
	headLink := "https://www.googleapis.com/compute/v1/projects/" + Project + "/global/images/" + ImageName(0, f.Images)
	for i := 0; i < f.Images; i++ {
		img := obj{
			"name":              ImageName(i, f.Images),
			"family":            Family,
			"creationTimestamp": now.Add(-time.Duration(i+2) * time.Hour).Format(stamp),
			"diskSizeGb":        "10",
			"labels":            obj{"team": "web", "os": "debian-12"},
			"rawDisk":           obj{"source": "https://storage.googleapis.com/acme/app.tar.gz"},
		}
		dep := func(state string, deprecated, obsolete, deleted time.Duration) {
			img["deprecated"] = obj{"state": state, "replacement": headLink,
				"deprecated": at(deprecated), "obsolete": at(obsolete), "deleted": at(deleted)}
		}
		switch f.kindAt(i) {
		case kindDeprecatedWait:
			dep("DEPRECATED", -day, 6*day, 36*day)
		case kindObsoleteDue: // the step after (mark-deleted) is not due: no label stamp
			if f.CatchUp {
				dep("DEPRECATED", -40*day, -33*day, -day)
			} else {
				dep("DEPRECATED", -8*day, -day, 29*day)
			}
		case kindMarkDeletedDue: // purge comes 7 days after deleted: not due
			dep("OBSOLETE", -40*day, -33*day, -day)
		case kindObsoleteWait:
			dep("OBSOLETE", -20*day, -13*day, 10*day)
		case kindPurgeDue:
			dep("DELETED", -50*day, -43*day, -10*day)
		case kindDeletedWait:
			dep("DELETED", -40*day, -33*day, -2*day)
		}
		if err := add(&ps.Images, img); err != nil {
			return emulator.State{}, err
		}
	}
	others := f.OtherFamilies
	if others <= 0 {
		others = 20
	}
	for i := 0; i < f.OtherImages; i++ {
		img := obj{
			"name":              fmt.Sprintf("other-%02d-v%05d", i%others, i),
			"family":            fmt.Sprintf("other-%02d", i%others),
			"creationTimestamp": now.Add(-time.Duration(i+2) * time.Minute).Format(stamp),
			"rawDisk":           obj{"source": "https://storage.googleapis.com/acme/other.tar.gz"},
		}
		if err := add(&ps.Images, img); err != nil {
			return emulator.State{}, err
		}
	}
	// sourceOf is what resource j boots from: mostly images of other
	// projects, one in ten follows the family, one in 500 names a family
	// image (in the spellings real resources use).
	sourceOf := func(j int) string {
		if i := heldBy(j, f.Images); i >= 0 && i < f.Images {
			if j%2 == 0 {
				return "projects/" + Project + "/global/images/" + ImageName(i, f.Images)
			}
			return "https://www.googleapis.com/compute/v1/projects/" + Project + "/global/images/" + ImageName(i, f.Images)
		}
		if j%10 == 3 {
			return "projects/" + Project + "/global/images/family/" + Family
		}
		return fmt.Sprintf("https://www.googleapis.com/compute/v1/projects/debian-cloud/global/images/debian-12-bookworm-v2026%04d", 101+j%30)
	}
	regions := []string{"us-central1", "europe-west1", "asia-east1", "us-east1", "europe-west4"}
	for j := 0; j < f.Templates; j++ {
		t := obj{
			"name": fmt.Sprintf("tpl-%05d", j),
			"properties": obj{
				"machineType": "e2-small",
				"disks": []obj{{"boot": true, "autoDelete": true, "type": "PERSISTENT",
					"initializeParams": obj{"sourceImage": sourceOf(j), "diskSizeGb": "10"}}},
				"networkInterfaces": []obj{{"network": "global/networks/default"}},
			},
		}
		list := &ps.InstanceTemplates
		if j%5 == 4 {
			t["region"] = "https://www.googleapis.com/compute/v1/projects/" + Project + "/regions/" + regions[j%len(regions)]
			list = &ps.RegionInstanceTemplates
		}
		if err := add(list, t); err != nil {
			return emulator.State{}, err
		}
	}
	zones := []string{"us-central1-a", "us-central1-b", "europe-west1-b", "asia-east1-a", "us-east1-c", "europe-west4-a"}
	for j := 0; j < f.Instances; j++ {
		name := fmt.Sprintf("vm-%05d", j)
		zone := zones[j%len(zones)]
		disk := obj{"name": name, "zone": zone, "sizeGb": "10", "sourceImage": sourceOf(j + 1),
			"type": "https://www.googleapis.com/compute/v1/projects/" + Project + "/zones/" + zone + "/diskTypes/pd-balanced"}
		if err := add(&ps.Disks, disk); err != nil {
			return emulator.State{}, err
		}
		in := obj{"name": name, "zone": zone,
			"machineType": "https://www.googleapis.com/compute/v1/projects/" + Project + "/zones/" + zone + "/machineTypes/e2-small",
			"disks": []obj{{"boot": true, "autoDelete": true, "deviceName": "persistent-disk-0", "type": "PERSISTENT",
				"source": "https://www.googleapis.com/compute/v1/projects/" + Project + "/zones/" + zone + "/disks/" + name}}}
		if err := add(&ps.Instances, in); err != nil {
			return emulator.State{}, err
		}
	}
	return emulator.State{Projects: map[string]emulator.ProjectState{Project: ps}}, nil
}
