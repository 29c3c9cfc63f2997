package sources_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// baseFamily is a family whose newest image is DEPRECATED: its head is the
// next ACTIVE one, v2.
func baseFamily(f *fakeGCE, t *testing.T) {
	f.put(t,
		image{project: "acme-images", name: "base-debian-12-v1", family: "base-debian-12", created: "2026-11-01T00:00:00.000Z"},
		image{project: "acme-images", name: "base-debian-12-v2", family: "base-debian-12", created: "2026-11-10T00:00:00.000Z",
			labels: map[string]string{"team": "platform"}},
		image{project: "acme-images", name: "base-debian-12-v3", family: "base-debian-12", created: "2026-11-20T00:00:00.000Z", state: "DEPRECATED"},
	)
}

// The shape of a release (README, "A complete template"): the data sources
// feed the official googlecompute builder (communicator none) and, in the
// same build, a file builder writes every output as JSON so that the test
// reads what Packer saw.
const dataSourcesTemplate = `
data "imagefamily" "head" {
  project_id       = "acme-images"
  family           = "base-debian-12"
  custom_endpoints = { compute = "ENDPOINT" }
}

data "imagefamily" "pinned" {
  project_id       = "acme-images"
  family           = "base-debian-12"
  image            = "base-debian-12-v1"
  custom_endpoints = { compute = "ENDPOINT" }
}

data "imagefamily" "zonal" {
  project_id       = "acme-images"
  family           = "base-debian-12"
  zone             = "us-central1-a"
  custom_endpoints = { compute = "ENDPOINT" }
}

data "imagefamily-name" "app" {
  os        = "Debian 12"
  software  = "nginx"
  version   = "1.24.0"
  timestamp = "2026-11-26T06:47:30Z"
}

source "file" "outputs" {
  content = jsonencode({
    head   = data.imagefamily.head
    pinned = data.imagefamily.pinned
    zonal  = data.imagefamily.zonal
    name   = data.imagefamily-name.app
  })
  target = "outputs.json"
}

source "googlecompute" "app" {
  project_id              = "acme-images"
  zone                    = "us-central1-a"
  source_image            = data.imagefamily.head.name
  source_image_project_id = [data.imagefamily.head.project_id]
  image_name              = data.imagefamily-name.app.name
  image_labels            = merge(data.imagefamily.head.lineage_labels, { team = "web" })
  communicator            = "none"
  access_token            = "x"
  custom_endpoints        = { compute = "ENDPOINT" }
}

build {
  sources = ["source.file.outputs", "source.googlecompute.app"]
}
`

type familyOutput struct {
	Name              string            `json:"name"`
	ID                string            `json:"id"`
	SelfLink          string            `json:"self_link"`
	ProjectID         string            `json:"project_id"`
	Family            string            `json:"family"`
	CreationTimestamp string            `json:"creation_timestamp"`
	Labels            map[string]string `json:"labels"`
	DeprecationState  string            `json:"deprecation_state"`
	Architecture      string            `json:"architecture"`
	DiskSizeGB        int64             `json:"disk_size_gb"`
	LineageLabels     map[string]string `json:"lineage_labels"`
}

type nameOutput struct {
	Name, Timestamp, Time, OS, Software, Version, Template string
	Shortened                                              bool
}

func TestDataSourcesFeedARealBuild(t *testing.T) {
	f := startEmulator(t)
	baseFamily(f, t)
	env := packerEnv(t)
	dir := f.template(t, dataSourcesTemplate)

	out, err := packer(t, env, dir, "build", "-color=false", ".")
	if err != nil {
		t.Fatalf("packer build: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "outputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Head, Pinned, Zonal familyOutput
		Name                nameOutput
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}

	t.Run("the family resolves past its DEPRECATED newest image", func(t *testing.T) {
		h := got.Head
		want := familyOutput{
			Name: "base-debian-12-v2", ID: strconv.FormatUint(f.get(t, "acme-images", "base-debian-12-v2").GetId(), 10),
			SelfLink:  "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/base-debian-12-v2",
			ProjectID: "acme-images", Family: "base-debian-12", CreationTimestamp: "2026-11-10T00:00:00.000Z",
			DeprecationState: "ACTIVE", Architecture: "X86_64", DiskSizeGB: 10,
		}
		if h.Name != want.Name || h.SelfLink != want.SelfLink || h.ProjectID != want.ProjectID || h.Family != want.Family ||
			h.CreationTimestamp != want.CreationTimestamp || h.DeprecationState != want.DeprecationState ||
			h.Architecture != want.Architecture || h.DiskSizeGB != want.DiskSizeGB || h.ID != want.ID {
			t.Errorf("head output:\n got %+v\nwant %+v", h, want)
		}
		if !maps.Equal(h.Labels, map[string]string{"team": "platform"}) {
			t.Errorf("labels = %v", h.Labels)
		}
		wantLineage := map[string]string{
			"imagefamily-parent-image":   "base-debian-12-v2",
			"imagefamily-parent-family":  "base-debian-12",
			"imagefamily-parent-project": "acme-images",
		}
		if !maps.Equal(h.LineageLabels, wantLineage) {
			t.Errorf("lineage_labels = %v, want %v", h.LineageLabels, wantLineage)
		}
	})
	t.Run("a pin returns the pinned image", func(t *testing.T) {
		if got.Pinned.Name != "base-debian-12-v1" || got.Pinned.LineageLabels["imagefamily-parent-image"] != "base-debian-12-v1" {
			t.Errorf("pinned output: %+v", got.Pinned)
		}
	})
	t.Run("the zonal view resolves the family", func(t *testing.T) {
		if got.Zonal.Name != "base-debian-12-v2" {
			t.Errorf("zonal output: %+v", got.Zonal)
		}
	})
	t.Run("the name is conventional and sanitised", func(t *testing.T) {
		want := nameOutput{Name: "debian-12-nginx-1-24-0-v20261126t064730", Timestamp: "20261126t064730", Time: "2026-11-26T06:47:30Z",
			OS: "debian-12", Software: "nginx", Version: "1-24-0", Template: "{os}-{software}-{version}-v{timestamp}"}
		if got.Name != want {
			t.Errorf("name output:\n got %+v\nwant %+v", got.Name, want)
		}
	})
	t.Run("each data source makes one call and none lists", func(t *testing.T) {
		for call, want := range map[string]int{
			"GET /compute/v1/projects/acme-images/global/images/family/base-debian-12":                 1,
			"GET /compute/v1/projects/acme-images/zones/us-central1-a/imageFamilyViews/base-debian-12": 1,
			"GET /compute/v1/projects/acme-images/global/images/base-debian-12-v1":                     1,
			"GET /compute/v1/projects/acme-images/global/images":                                       0,
		} {
			if n := f.count(call); n != want {
				t.Errorf("%s: %d calls, want %d\nall calls:\n%s", call, n, want, strings.Join(f.calls(), "\n"))
			}
		}
	})
	t.Run("googlecompute builds on the head with the lineage labels and the name", func(t *testing.T) {
		img := f.get(t, "acme-images", "debian-12-nginx-1-24-0-v20261126t064730")
		wantLabels := map[string]string{
			"imagefamily-parent-image":   "base-debian-12-v2",
			"imagefamily-parent-family":  "base-debian-12",
			"imagefamily-parent-project": "acme-images",
			"team":                       "web",
		}
		if !maps.Equal(img.GetLabels(), wantLabels) {
			t.Errorf("built image labels = %v, want %v", img.GetLabels(), wantLabels)
		}
	})
}

func TestFamilyWithNoUsableImageFailsTheBuildPointingAtStatus(t *testing.T) {
	f := startEmulator(t)
	f.put(t,
		image{project: "acme-images", name: "gone-v1", family: "gone", created: "2026-11-01T00:00:00.000Z", state: "OBSOLETE"},
		image{project: "acme-images", name: "gone-v2", family: "gone", created: "2026-11-02T00:00:00.000Z", state: "DEPRECATED"},
	)
	env := packerEnv(t)
	dir := f.template(t, `
data "imagefamily" "base" {
  project_id       = "acme-images"
  family           = "gone"
  custom_endpoints = { compute = "ENDPOINT" }
}
source "file" "x" {
  content = data.imagefamily.base.name
  target  = "out.txt"
}
build { sources = ["source.file.x"] }
`)
	out, err := packer(t, env, dir, "build", "-color=false", ".")
	if err == nil {
		t.Fatalf("packer build succeeded:\n%s", out)
	}
	want := "family \"gone\" in project \"acme-images\" has no usable image: it has no image, or every image is DEPRECATED, OBSOLETE or DELETED, or the project does not exist (images.getFromFamily projects/acme-images/global/images/family/gone: The resource 'projects/acme-images/global/images/family/gone' was not found (404 notFound)); see `imagefamily status --project acme-images --family gone`"
	if !strings.Contains(out, want) {
		t.Errorf("packer output does not say:\n%s\noutput:\n%s", want, out)
	}
}

func TestPackerValidateChecksOptionsWithoutCallingComputeEngine(t *testing.T) {
	f := startEmulator(t)
	env := packerEnv(t)
	const tmpl = `
data "imagefamily" "dev" {
  project_id       = "acme-dev"
  family           = "app-nginx"
  custom_endpoints = { compute = "ENDPOINT" }
}
data "imagefamily-name" "app" {
  os       = "debian-12"
  software = "SOFTWARE"
  version  = "1.24.0"
}
source "imagefamily-promote" "prod" {
  source_image     = data.imagefamily.dev.self_link
  project_id       = "acme-prod"
  image_name       = data.imagefamily-name.app.name
  labels           = merge(data.imagefamily.dev.lineage_labels, { env = "prod" })
  custom_endpoints = { compute = "ENDPOINT" }
}
build { sources = ["source.imagefamily-promote.prod"] }
`
	t.Run("values other data sources give are not judged before they are known", func(t *testing.T) {
		dir := f.template(t, strings.Replace(tmpl, "SOFTWARE", "nginx", 1))
		if out, err := packer(t, env, dir, "validate", "."); err != nil {
			t.Errorf("packer validate: %v\n%s", err, out)
		}
	})
	t.Run("a bad part of the name fails with the part and the rule", func(t *testing.T) {
		dir := f.template(t, strings.Replace(tmpl, "SOFTWARE", "+++", 1))
		out, err := packer(t, env, dir, "validate", ".")
		want := `software "+++" sanitises to nothing: each part needs at least one letter or digit`
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("packer validate (err %v) does not say %q:\n%s", err, want, out)
		}
	})
	if calls := f.calls(); len(calls) != 0 {
		t.Errorf("packer validate called Compute Engine:\n%s", strings.Join(calls, "\n"))
	}
}

// TestAnEndpointKeyOfNoServiceIsRefusedAndMissingCredentialsAreSaidOnce: a
// mistyped custom_endpoints key used to be ignored, sending the calls to
// Google, where the missing credentials were then reported once per
// generated client (six times).
func TestAnEndpointKeyOfNoServiceIsRefusedAndMissingCredentialsAreSaidOnce(t *testing.T) {
	f := startEmulator(t)
	env := packerEnv(t)
	const tmpl = `
data "imagefamily" "base" {
  project_id = "acme-images"
  family     = "base-debian-12"
  ENDPOINTS
}
source "file" "x" {
  content = data.imagefamily.base.name
  target  = "out.txt"
}
build { sources = ["source.file.x"] }
`
	t.Run("computer is refused, naming the keys", func(t *testing.T) {
		dir := f.template(t, strings.Replace(tmpl, "ENDPOINTS", `custom_endpoints = { computer = "ENDPOINT" }`, 1))
		out, err := packer(t, env, dir, "validate", ".")
		want := `custom_endpoints: "computer" is not a service: the key this plugin uses is compute (googlecompute also reads oauth2, oslogin, secretmanager and storage); did you mean compute?`
		if err == nil || !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("packer validate (err %v) does not say %q:\n%s", err, want, out)
		}
	})
	t.Run("no credentials: one error, once", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "adc.json")
		noCreds := *env
		noCreds.Vars = append(slices.Clone(env.Vars), "GOOGLE_APPLICATION_CREDENTIALS="+missing)
		dir := f.template(t, strings.Replace(tmpl, "ENDPOINTS", "", 1))
		out, err := packer(t, &noCreds, dir, "build", "-color=false", ".")
		if err == nil {
			t.Fatalf("packer build succeeded without credentials:\n%s", out)
		}
		flat := strings.Join(strings.Fields(out), " ")
		if n := strings.Count(flat, "no Google credentials"); n != 1 {
			t.Errorf("the missing credentials are reported %d times, want once:\n%s", n, out)
		}
		if n := strings.Count(flat, missing); n != 1 {
			t.Errorf("the credentials file is named %d times, want once:\n%s", n, out)
		}
		if want := "set one of credentials_file, credentials_json, access_token or impersonate_service_account"; !strings.Contains(flat, want) {
			t.Errorf("the error does not say %q:\n%s", want, out)
		}
	})
	if calls := f.calls(); len(calls) != 0 {
		t.Errorf("the emulator was called:\n%s", strings.Join(calls, "\n"))
	}
}
