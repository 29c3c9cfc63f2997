package emulator_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gcloudrun"
)

// gcloudStep is one gcloud call and what it must print.
type gcloudStep struct {
	name  string
	args  []string
	check func(t *testing.T, out string)
}

// TestGcloudImageLifecycle drives the real gcloud CLI through an image's life
// against the emulator: create (from an image and from a Cloud Storage
// tarball), list and filter, describe, resolve the family (globally and
// zonally), label, deprecate, delete; then instance templates (global and
// regional, by image and by family) and the operations list. The steps share
// one emulator and run in order: each builds on the state the earlier ones
// left.
func TestGcloudImageLifecycle(t *testing.T) {
	gcloudrun.Path(t)
	srv, url, calls := startRecorded(t, emulator.Options{})
	if err := srv.PutImage("p", &computepb.Image{Name: proto.String("base-v1"), Family: proto.String("base"),
		DiskSizeGb: proto.Int64(10), Labels: map[string]string{"os": "debian-12"}}); err != nil {
		t.Fatal(err)
	}
	env := gcloudrun.Env(url+"/compute/v1/", "p", t.TempDir())
	endpointImages := url + "/compute/v1/projects/p/global/images/"
	started := time.Now().UTC()

	steps := []gcloudStep{
		{"CreateFromImage", []string{"compute", "images", "create", "web-v1", "--source-image=base-v1", "--family=web",
			"--labels=team=web", "--description=first", "--format=json"}, func(t *testing.T, out string) {
			img := oneObject(t, out)
			wantFields(t, img, map[string]any{"name": "web-v1", "family": "web", "status": "READY", "description": "first",
				"sourceImage": "https://www.googleapis.com/compute/v1/projects/p/global/images/base-v1", "diskSizeGb": "10"})
			wantLabels(t, img, map[string]string{"team": "web"})
		}},
		{"CreateFromStorageTarball", []string{"compute", "images", "create", "web-v2", "--source-uri=gs://acme-raw/web-v2.tar.gz",
			"--family=web", "--format=json"}, func(t *testing.T, out string) {
			img := oneObject(t, out)
			wantFields(t, img, map[string]any{"name": "web-v2", "family": "web", "status": "READY"})
			raw, _ := img["rawDisk"].(map[string]any)
			// gcloud sends gs:// URIs as Cloud Storage JSON API links; the
			// image keeps what was sent.
			const want = "https://storage.googleapis.com/storage/v1/b/acme-raw/o/web-v2.tar.gz"
			if src, _ := raw["source"].(string); src != want {
				t.Errorf("rawDisk.source = %q, want %q", src, want)
			}
		}},
		// With the standard image projects, gcloud lists ~20 projects in
		// one POST /batch/compute/v1; they are empty here.
		{"ListWithStandardImagesInOneBatch", []string{"compute", "images", "list", "--format=json"}, func(t *testing.T, out string) {
			wantNames(t, objects(t, out), "base-v1", "web-v1", "web-v2")
		}},
		{"ListFilteredByFamily", []string{"compute", "images", "list", "--no-standard-images", "--filter=family=web", "--format=value(name)"},
			func(t *testing.T, out string) { wantLines(t, out, "web-v1", "web-v2") }},
		{"Describe", []string{"compute", "images", "describe", "web-v1", "--format=json"}, func(t *testing.T, out string) {
			var img map[string]any
			mustJSON(t, out, &img)
			wantFields(t, img, map[string]any{"name": "web-v1", "kind": "compute#image", "sourceType": "RAW",
				"selfLink": "https://www.googleapis.com/compute/v1/projects/p/global/images/web-v1"})
			created, err := time.Parse(time.RFC3339Nano, img["creationTimestamp"].(string))
			if err != nil || created.Before(started.Add(-time.Minute)) {
				t.Errorf("creationTimestamp = %v (%v), want about now", img["creationTimestamp"], err)
			}
		}},
		{"FamilyHeadIsNewest", []string{"compute", "images", "describe-from-family", "web", "--format=value(name)"},
			func(t *testing.T, out string) { wantLines(t, out, "web-v2") }},
		{"AddLabels", []string{"compute", "images", "add-labels", "web-v1", "--labels=env=prod,tier=one"}, nil},
		{"RemoveLabels", []string{"compute", "images", "remove-labels", "web-v1", "--labels=tier"}, nil},
		{"LabelsAfterUpdate", []string{"compute", "images", "describe", "web-v1", "--format=json(labels,labelFingerprint)"}, func(t *testing.T, out string) {
			var img map[string]any
			mustJSON(t, out, &img)
			wantLabels(t, img, map[string]string{"team": "web", "env": "prod"})
			if fp, _ := img["labelFingerprint"].(string); fp == "" || fp == "42WmSpB8rSM=" {
				t.Errorf("labelFingerprint = %q, want the fingerprint of a non-empty label set", fp)
			}
		}},
		// --obsolete-in/--delete-in reach the server as UTC times without an
		// offset ("2026-11-28T08:16:10", Python's naive isoformat()), which
		// Compute Engine accepts.
		{"Deprecate", []string{"compute", "images", "deprecate", "web-v2", "--state=DEPRECATED", "--replacement=web-v1",
			"--obsolete-in=1d", "--delete-in=2d"}, nil},
		{"DeprecationStatus", []string{"compute", "images", "describe", "web-v2", "--format=json(deprecated)"}, func(t *testing.T, out string) {
			var img struct{ Deprecated map[string]string }
			mustJSON(t, out, &img)
			d := img.Deprecated
			if d["state"] != "DEPRECATED" {
				t.Errorf("deprecated.state = %q, want DEPRECATED", d["state"])
			}
			if !strings.HasSuffix(d["replacement"], "/projects/p/global/images/web-v1") {
				t.Errorf("deprecated.replacement = %q, want a link to web-v1", d["replacement"])
			}
			for field, days := range map[string]int{"obsolete": 1, "deleted": 2} {
				at, err := parseGcloudTime(d[field])
				want := started.Add(time.Duration(days) * 24 * time.Hour)
				if err != nil || at.Before(want.Add(-time.Minute)) || at.After(want.Add(5*time.Minute)) {
					t.Errorf("deprecated.%s = %q (%v), want about %s", field, d[field], err, want.Format(time.RFC3339))
				}
			}
		}},
		{"ZonalFamilyViewSkipsDeprecated", []string{"compute", "images", "describe-from-family", "web", "--zone=us-central1-a", "--format=value(image.name)"},
			func(t *testing.T, out string) { wantLines(t, out, "web-v1") }},
		{"TemplateFromImage", []string{"compute", "instance-templates", "create", "web-tmpl", "--image=web-v1", "--image-project=p",
			"--machine-type=e2-medium", "--format=json"}, func(t *testing.T, out string) {
			tmpl := oneObject(t, out)
			wantFields(t, tmpl, map[string]any{"name": "web-tmpl", "kind": "compute#instanceTemplate"})
			// gcloud builds the link from its endpoint override; the
			// template keeps it as sent.
			if got := templateSourceImage(tmpl); got != endpointImages+"web-v1" {
				t.Errorf("template sourceImage = %q, want %q as gcloud sent it", got, endpointImages+"web-v1")
			}
		}},
		{"RegionalTemplateFromFamily", []string{"compute", "instance-templates", "create", "web-family-tmpl", "--image-family=web",
			"--image-project=p", "--instance-template-region=us-central1", "--format=json"}, func(t *testing.T, out string) {
			tmpl := oneObject(t, out)
			// gcloud resolves the family first (getFromFamily) but sends
			// the family link: the template follows the family.
			if got := templateSourceImage(tmpl); got != endpointImages+"family/web" {
				t.Errorf("template sourceImage = %q, want the family link %q kept as given", got, endpointImages+"family/web")
			}
			if r, _ := tmpl["region"].(string); !strings.HasSuffix(r, "/regions/us-central1") {
				t.Errorf("template region = %q, want us-central1", r)
			}
		}},
		{"ListTemplates", []string{"compute", "instance-templates", "list", "--format=json"}, func(t *testing.T, out string) {
			wantNames(t, objects(t, out), "web-tmpl", "web-family-tmpl") // scope order: global, then regions
		}},
		// Several images: one batch of deletes, then one of operation waits.
		{"DeleteSeveral", []string{"compute", "images", "delete", "web-v2", "base-v1"}, nil},
		{"ListAfterDelete", []string{"compute", "images", "list", "--no-standard-images", "--show-deprecated", "--format=value(name)"},
			func(t *testing.T, out string) { wantLines(t, out, "web-v1") }},
		{"ListOperations", []string{"compute", "operations", "list", "--format=json"}, func(t *testing.T, out string) {
			seen := map[string]bool{}
			for _, op := range objects(t, out) {
				if op["status"] != "DONE" {
					t.Errorf("operation %v status = %v, want DONE", op["name"], op["status"])
				}
				link, _ := op["targetLink"].(string)
				seen[op["operationType"].(string)+" "+link[strings.LastIndex(link, "/")+1:]] = true
			}
			for _, want := range []string{"insert web-v1", "insert web-v2", "setLabels web-v1", "deprecate web-v2", "delete web-v2",
				"delete base-v1", "compute.instanceTemplates.insert web-tmpl", "compute.regionInstanceTemplates.insert web-family-tmpl"} {
				if !seen[want] {
					t.Errorf("operations list lacks %q; has %v", want, seen)
				}
			}
		}},
	}
	for _, step := range steps {
		ok := t.Run(step.name, func(t *testing.T) {
			before := len(calls.list())
			out, errOut, err := gcloudrun.Run(t, env, step.args...)
			t.Logf("calls: %s", strings.Join(calls.list()[before:], ", "))
			if err != nil {
				t.Fatalf("gcloud %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(step.args, " "), err, out, errOut)
			}
			if step.check != nil {
				step.check(t, out)
			}
		})
		if !ok {
			t.FailNow() // later steps depend on this one
		}
	}
}

func mustJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("gcloud did not print JSON: %v\n%s", err, out)
	}
}

func objects(t *testing.T, out string) []map[string]any {
	t.Helper()
	var list []map[string]any
	mustJSON(t, out, &list)
	return list
}

func oneObject(t *testing.T, out string) map[string]any {
	t.Helper()
	list := objects(t, out)
	if len(list) != 1 {
		t.Fatalf("gcloud printed %d resources, want 1:\n%s", len(list), out)
	}
	return list[0]
}

func wantFields(t *testing.T, obj map[string]any, want map[string]any) {
	t.Helper()
	for field, w := range want {
		if obj[field] != w {
			t.Errorf("%s = %#v, want %#v", field, obj[field], w)
		}
	}
}

func wantLabels(t *testing.T, obj map[string]any, want map[string]string) {
	t.Helper()
	got, _ := obj["labels"].(map[string]any)
	if len(got) != len(want) {
		t.Errorf("labels = %v, want %v", got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("labels = %v, want %v", got, want)
			return
		}
	}
}

func wantNames(t *testing.T, list []map[string]any, want ...string) {
	t.Helper()
	var got []string
	for _, obj := range list {
		got = append(got, obj["name"].(string))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("names = %v, want %v", got, want)
	}
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	got := strings.Fields(out)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("gcloud printed %q, want %q", got, want)
	}
}

func templateSourceImage(tmpl map[string]any) string {
	props, _ := tmpl["properties"].(map[string]any)
	disks, _ := props["disks"].([]any)
	if len(disks) == 0 {
		return ""
	}
	disk, _ := disks[0].(map[string]any)
	ip, _ := disk["initializeParams"].(map[string]any)
	s, _ := ip["sourceImage"].(string)
	return s
}

// parseGcloudTime reads a deprecation date as gcloud writes it: --obsolete-in
// and --delete-in send a UTC time without an offset (Python's naive
// isoformat()), --obsolete-on and --delete-on pass RFC 3339 through.
func parseGcloudTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse("2006-01-02T15:04:05", s)
}
