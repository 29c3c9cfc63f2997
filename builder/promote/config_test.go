package promote

import (
	"slices"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/configtest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/credtest"
)

// valid is a configuration that passes; each case changes it.
func valid() map[string]interface{} {
	return map[string]interface{}{
		"project_id":        "acme-prod",
		"source_family":     "app-nginx",
		"source_project_id": "acme-dev",
		"image_name":        "app-nginx-v1",
	}
}

// with is valid() with the options in kv set (a nil value removes one).
func with(kv ...interface{}) map[string]interface{} { return configtest.With(valid(), kv...) }

func TestPrepareRejectsEachBadOptionByName(t *testing.T) {
	tests := []configtest.Case{
		{
			Name: "nothing set",
			Raw:  map[string]interface{}{},
			Want: []string{
				"project_id must be set: the destination project, where the promoted image is created",
				"one of source_image and source_family must be set: the image to promote, or the family whose current image is promoted",
				"one of image_name and naming must be set: the promoted image's name (e.g. image_name = data.imagefamily-name.app.name)",
			},
		},
		{
			Name: "bad destination project",
			Raw:  with("project_id", "prod"),
			Want: []string{`project_id "prod" is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`},
		},
		{
			Name: "both sources",
			Raw:  with("source_image", "app-nginx-v1"),
			Want: []string{"source_image and source_family are both set: choose one (source_image pins an image, source_family promotes what the family points to now)"},
		},
		{
			Name: "family without its project",
			Raw:  with("source_project_id", nil),
			Want: []string{`source_project_id must be set with source_family: the project that owns the family "app-nginx"`},
		},
		{
			Name: "bad source family",
			Raw:  with("source_family", "App"),
			Want: []string{`source_family "App" is not a valid Compute Engine name: a lower-case letter, then lower-case letters, digits and "-", not ending with "-" (e.g. base-debian-12)`},
		},
		{
			Name: "bare source image without a project",
			Raw:  with("source_family", nil, "source_project_id", nil, "source_image", "app-nginx-v1"),
			Want: []string{`source_project_id must be set: source_image "app-nginx-v1" names no project (or write it as projects/P/global/images/NAME or a self link)`},
		},
		{
			Name: "source image following a family",
			Raw:  with("source_family", nil, "source_image", "projects/acme-dev/global/images/family/app-nginx"),
			Want: []string{`source_image "projects/acme-dev/global/images/family/app-nginx" follows a family: set source_family = "app-nginx" and source_project_id instead`},
		},
		{
			Name: "source image in another project than source_project_id",
			Raw:  with("source_family", nil, "source_image", "https://www.googleapis.com/compute/v1/projects/acme-stage/global/images/app-v1"),
			Want: []string{`source_image "https://www.googleapis.com/compute/v1/projects/acme-stage/global/images/app-v1" is in project "acme-stage" but source_project_id is "acme-dev"`},
		},
		{
			Name: "both names",
			Raw:  with("naming", map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1"}),
			Want: []string{"image_name and naming are both set: choose one"},
		},
		{
			Name: "bad image name",
			Raw:  with("image_name", "app_nginx"),
			Want: []string{`image_name "app_nginx" is not a valid Compute Engine name: a lower-case letter, then lower-case letters, digits and "-", not ending with "-" (e.g. base-debian-12)`},
		},
		{
			Name: "naming with a bad part",
			Raw:  with("image_name", nil, "naming", map[string]interface{}{"os": "debian-12", "software": "...", "version": "1"}),
			Want: []string{`naming.software "..." sanitises to nothing: each part needs at least one letter or digit`},
		},
		{
			Name: "naming without its parts",
			Raw:  with("image_name", nil, "naming", map[string]interface{}{"template": "web-{version}-v{timestamp}"}),
			Want: []string{`naming.version must be set: the template "web-{version}-v{timestamp}" uses {version}`},
		},
		{
			Name: "bad family",
			Raw:  with("family", "App-Nginx"),
			Want: []string{`family "App-Nginx" is not a valid Compute Engine name: a lower-case letter, then lower-case letters, digits and "-", not ending with "-" (e.g. base-debian-12)`},
		},
		{
			Name: "labels that Compute Engine refuses and a lineage key",
			Raw:  with("labels", map[string]interface{}{"Team": "web", "imagefamily-parent-image": "x", "version": "1.2"}),
			Want: []string{
				`labels: user label "imagefamily-parent-image" collides with a lineage key: imagefamily writes the imagefamily-* lineage labels itself; choose another key`,
			},
		},
		{
			Name: "labels that Compute Engine refuses",
			Raw:  with("labels", map[string]interface{}{"Team": "web", "version": "1.2"}),
			Want: []string{
				`labels: key "Team" is not a label key: it must start with a lower-case letter and hold only lower-case letters, digits, "_" and "-" (no upper case, dots, colons or spaces)`,
				`labels: value of "version" ("1.2") is not a label value: only lower-case letters, digits, "_" and "-" (no upper case, dots, colons, slashes or spaces; SanitizeLabelValue turns "v1.24.0" into "v1-24-0")`,
			},
		},
		{
			Name: "bad storage location",
			Raw:  with("storage_locations", []interface{}{"us", "US East"}),
			Want: []string{`storage_locations[1] "US East" is not a storage location: a multi-region (us, eu, asia) or a region (us-central1), in lower case`},
		},
		{
			Name: "bad architecture",
			Raw:  with("architecture", "amd64"),
			Want: []string{`architecture "AMD64" is not an architecture Compute Engine knows: X86_64 or ARM64 (or leave it out to keep the source image's)`},
		},
		{
			Name: "bad license",
			Raw:  with("licenses", []interface{}{"debian-12-bookworm"}),
			Want: []string{`licenses[0] "debian-12-bookworm" is not a license: write projects/P/global/licenses/NAME or its https://www.googleapis.com/compute/v1/... URL`},
		},
		{
			Name: "two ways to authenticate",
			Raw:  with("access_token", "x", "credentials_json", `{"type":"service_account"}`),
			Want: []string{"credentials_json and access_token are both set: choose one way to authenticate"},
		},
	}
	configtest.Check(t, func(raw map[string]interface{}) error {
		var b Builder
		_, _, err := b.Prepare(raw)
		return err
	}, tests)
}

func TestPrepareRejectsAnUnknownGuestOSFeatureListingTheKnownOnes(t *testing.T) {
	var b Builder
	_, _, err := b.Prepare(with("guest_os_features", []interface{}{"gvnic", "UEFI"}))
	got := configtest.Errors(err)
	if len(got) != 1 || !strings.HasPrefix(got[0], `guest_os_features[1] "UEFI" is not a guest OS feature: one of `) ||
		!strings.Contains(got[0], "UEFI_COMPATIBLE") || !strings.Contains(got[0], "GVNIC") {
		t.Errorf("Prepare errors: %q", got)
	}
}

func TestPrepareAcceptsValidAndNotYetKnownValues(t *testing.T) {
	for _, raw := range []map[string]interface{}{
		valid(),
		with("source_family", nil, "source_project_id", nil, "source_image", "projects/acme-dev/global/images/app-v1"),
		with("source_family", nil, "source_image", "app-v1"),
		with("image_name", nil, "naming", map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1.24.0"}),
		with("architecture", "arm64", "guest_os_features", []interface{}{"uefi_compatible"}, "storage_locations", []interface{}{"eu"},
			"licenses", []interface{}{"https://www.googleapis.com/compute/v1/projects/debian-cloud/global/licenses/debian-12-bookworm"},
			"labels", map[string]interface{}{"team": "web"}, "family", "app-nginx", "description", "x"),
		// packer validate does not run data sources: their outputs arrive
		// as this placeholder and must not be judged.
		with("source_family", nil, "source_project_id", nil, "source_image", "<unknown>", "image_name", "<unknown>",
			"project_id", "<unknown>", "labels", map[string]interface{}{"parent": "<unknown>"}),
	} {
		var b Builder
		vars, _, err := b.Prepare(raw)
		if err != nil {
			t.Errorf("Prepare(%v): %v", raw, err)
		}
		if !slices.Equal(vars, []string{"SourceImageName", "SourceImageProjectId", "SourceImageSelfLink"}) {
			t.Errorf("generated data keys = %q", vars)
		}
	}
}

func TestPrepareNormalisesArchitectureAndFeatures(t *testing.T) {
	var b Builder
	if _, _, err := b.Prepare(with("architecture", "arm64", "guest_os_features", []interface{}{"gvnic"})); err != nil {
		t.Fatal(err)
	}
	if b.config.Architecture != "ARM64" || !slices.Equal(b.config.GuestOSFeatures, []string{"GVNIC"}) {
		t.Errorf("architecture %q, guest_os_features %q", b.config.Architecture, b.config.GuestOSFeatures)
	}
}

func TestPrepareWarnsThatAccountFileIsDeprecated(t *testing.T) {
	key := credtest.WriteFile(t, "sa.json", credtest.ServiceAccountJSON(t))
	tests := []struct {
		name string
		raw  map[string]interface{}
		want []string
	}{
		{"account_file as a path", with("account_file", key), []string{"account_file is deprecated (as in googlecompute): set credentials_file to the path, or credentials_json to the contents"}},
		{"credentials_file", with("credentials_file", key), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Builder
			_, warnings, err := b.Prepare(tt.raw)
			if err != nil || !slices.Equal(warnings, tt.want) {
				t.Errorf("Prepare = warnings %q, %v; want %q", warnings, err, tt.want)
			}
		})
	}
}
