package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gcloudrun"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// callLog records the API calls a real client makes, as "METHOD /path" with
// generated names (instances, operations) replaced by placeholders, so that
// a test can assert the exact sequence.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

var generatedNames = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`operation-[0-9]+-[0-9a-f]+`), "OP"},
	{regexp.MustCompile(`packer-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "INSTANCE"},
}

var embeddedCallRE = regexp.MustCompile(`(?m)^(GET|POST|DELETE|PATCH|PUT) (/\S+) HTTP/1\.1\r?$`)

func (l *callLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := r.Method + " " + r.URL.Path
		if r.URL.Path == "/batch/compute/v1" {
			// Name the embedded calls too: "POST /batch/compute/v1 [GET /a, GET /b]".
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var inner []string
			for _, m := range embeddedCallRE.FindAllStringSubmatch(string(body), -1) {
				path, _, _ := strings.Cut(m[2], "?")
				inner = append(inner, m[1]+" "+path)
			}
			call += " [" + strings.Join(inner, ", ") + "]"
		}
		for _, g := range generatedNames {
			call = g.re.ReplaceAllString(call, g.repl)
		}
		l.mu.Lock()
		l.calls = append(l.calls, call)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *callLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// startRecorded starts an emulator on a real TCP port (packer's plugin
// process must reach it), recording every call.
func startRecorded(t *testing.T, opts emulator.Options) (*emulator.Server, string, *callLog) {
	t.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	log := &callLog{}
	hs := httptest.NewServer(log.wrap(srv))
	t.Cleanup(hs.Close)
	return srv, hs.URL, log
}

// builderCalls is what googlecompute v1.2.7 does for a build with
// communicator "none", a source family and an image: learned by running it,
// and kept exact so that a new builder version that calls something else is
// noticed here rather than as a puzzling build failure.
var builderCalls = []string{
	"GET /compute/v1/projects/acme-images/global/images/app-v1",                // StepCheckExistingImage: 404 expected
	"GET /compute/v1/projects/acme-images",                                     // projects.get (default service account)
	"GET /compute/v1/projects/acme-images/global/images/family/base-debian-12", // source_image_family
	"GET /compute/v1/projects/acme-images/zones/us-central1-a",
	"GET /compute/v1/projects/acme-images/zones/us-central1-a/machineTypes/e2-standard-2",
	"POST /compute/v1/projects/acme-images/zones/us-central1-a/instances",
	"GET /compute/v1/projects/acme-images/zones/us-central1-a/operations/OP",
	"GET /compute/v1/projects/acme-images/zones/us-central1-a/instances/INSTANCE", // wait for RUNNING
	"GET /compute/v1/projects/acme-images/zones/us-central1-a/instances/INSTANCE", // NAT IP
	"GET /compute/v1/projects/acme-images/zones/us-central1-a/instances/INSTANCE/serialPort",
	"DELETE /compute/v1/projects/acme-images/zones/us-central1-a/instances/INSTANCE",
	"GET /compute/v1/projects/acme-images/zones/us-central1-a/operations/OP",
	"POST /compute/v1/projects/acme-images/global/images", // sourceDisk: the boot disk
	"GET /compute/v1/projects/acme-images/global/operations/OP",
	"GET /compute/v1/projects/acme-images/global/images/app-v1",
	"POST /compute/v1/projects/acme-images/global/images/app-v1/deprecate", // empty body
	"DELETE /compute/v1/projects/acme-images/zones/us-central1-a/disks/INSTANCE",
	"GET /compute/v1/projects/acme-images/zones/us-central1-a/operations/OP",
}

const builderTemplate = `
source "googlecompute" "x" {
  project_id              = "acme-images"
  zone                    = "us-central1-a"
  source_image_family     = "base-debian-12"
  source_image_project_id = ["acme-images"]
  image_name              = "app-v1"
  image_labels            = { team = "web" }
  communicator            = "none"
  access_token            = "x"
  custom_endpoints        = { compute = "ENDPOINT" }
  skip_create_image       = false
}

build {
  sources = ["source.googlecompute.x"]
}
`

// TestGooglecomputeBuilderBuildsImageFromFamily runs the official
// googlecompute builder (a real packer build, communicator "none") against the
// emulator and checks what it leaves behind: the image, READY, made from the
// builder's boot disk, which was made from the family head; no instance and
// no disk left over. gcloud then reads the image back from the same emulator.
func TestGooglecomputeBuilderBuildsImageFromFamily(t *testing.T) {
	env := packerrun.Env(t)
	srv, url, calls := startRecorded(t, emulator.Options{})
	for _, img := range []*computepb.Image{
		// The family head is the newest ACTIVE image; older and deprecated
		// ones must not be picked.
		{Name: proto.String("base-debian-12-v1"), Family: proto.String("base-debian-12"), DiskSizeGb: proto.Int64(10),
			CreationTimestamp: proto.String("2026-11-01T00:00:00.000Z")},
		{Name: proto.String("base-debian-12-v2"), Family: proto.String("base-debian-12"), DiskSizeGb: proto.Int64(10),
			CreationTimestamp: proto.String("2026-11-10T00:00:00.000Z"), Licenses: []string{"https://www.googleapis.com/compute/v1/projects/debian-cloud/global/licenses/debian-12-bookworm"}},
		{Name: proto.String("base-debian-12-v3"), Family: proto.String("base-debian-12"), DiskSizeGb: proto.Int64(10),
			CreationTimestamp: proto.String("2026-11-20T00:00:00.000Z"), Deprecated: &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}},
	} {
		if err := srv.PutImage("acme-images", img); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	tmpl := strings.Replace(builderTemplate, "ENDPOINT", url+"/compute/v1/", 1)
	if err := os.WriteFile(filepath.Join(dir, "build.pkr.hcl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	packerrun.InstallPlugin(t, env, env.Bins.GoogleCompute, "github.com/hashicorp/googlecompute")
	stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", ".")
	if err != nil {
		t.Fatalf("packer build failed: %v\nstdout:\n%s\nstderr:\n%s\ncalls:\n%s", err, stdout, stderr, strings.Join(calls.list(), "\n"))
	}

	if got := calls.list(); strings.Join(got, "\n") != strings.Join(builderCalls, "\n") {
		t.Errorf("googlecompute made other calls than expected\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(builderCalls, "\n"))
	}
	if !strings.Contains(stdout, "A disk image was created in the 'acme-images' project: app-v1") {
		t.Errorf("packer output does not report the image:\n%s", stdout)
	}

	state, err := srv.SnapshotState()
	if err != nil {
		t.Fatal(err)
	}
	ps := state.Projects["acme-images"]
	if len(ps.Instances) != 0 || len(ps.Disks) != 0 {
		t.Errorf("the build left %d instances and %d disks behind:\n%s\n%s", len(ps.Instances), len(ps.Disks), ps.Instances, ps.Disks)
	}
	var image *computepb.Image
	for _, raw := range ps.Images {
		img := &computepb.Image{}
		if err := protojson.Unmarshal(raw, img); err != nil {
			t.Fatal(err)
		}
		if img.GetName() == "app-v1" {
			image = img
		}
	}
	if image == nil {
		t.Fatalf("image app-v1 was not created; images: %s", ps.Images)
	}
	diskRE := regexp.MustCompile(`^https://www\.googleapis\.com/compute/v1/projects/acme-images/zones/us-central1-a/disks/packer-[0-9a-f-]{36}$`)
	for _, c := range []struct{ field, got, want string }{
		{"status", image.GetStatus(), "READY"},
		{"deprecated.state", image.GetDeprecated().GetState(), ""},
		{"labels.team", image.GetLabels()["team"], "web"},
		{"family", image.GetFamily(), ""},
	} {
		if c.got != c.want {
			t.Errorf("app-v1 %s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if !diskRE.MatchString(image.GetSourceDisk()) {
		t.Errorf("app-v1 sourceDisk = %q, want the builder's boot disk (%s)", image.GetSourceDisk(), diskRE)
	}
	if image.GetSourceDiskId() == "" {
		t.Errorf("app-v1 sourceDiskId is empty")
	}
	if got := image.GetLicenses(); len(got) != 1 || !strings.HasSuffix(got[0], "/debian-12-bookworm") {
		t.Errorf("app-v1 licenses = %q, want the family head's (base-debian-12-v2) license", got)
	}

	t.Run("GcloudDescribesTheBuiltImage", func(t *testing.T) {
		gcloudrun.Path(t)
		genv := gcloudrun.Env(url+"/compute/v1/", "acme-images", t.TempDir())
		out, errOut, err := gcloudrun.Run(t, genv, "compute", "images", "describe", "app-v1", "--format=json")
		if err != nil {
			t.Fatalf("gcloud compute images describe: %v\n%s", err, errOut)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("gcloud printed no JSON: %v\n%s", err, out)
		}
		for field, want := range map[string]any{
			"name":       "app-v1",
			"status":     "READY",
			"kind":       "compute#image",
			"sourceDisk": image.GetSourceDisk(),
			"selfLink":   "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/app-v1",
			"sourceType": "RAW",
		} {
			if got[field] != want {
				t.Errorf("gcloud describe: %s = %v, want %v", field, got[field], want)
			}
		}
		if labels, _ := got["labels"].(map[string]any); labels["team"] != "web" {
			t.Errorf("gcloud describe: labels = %v, want team=web", got["labels"])
		}
	})
}
