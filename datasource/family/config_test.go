package family

import (
	"slices"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/configtest"
)

func TestConfigureRejectsEachBadOptionByName(t *testing.T) {
	valid := map[string]interface{}{"project_id": "acme-images", "family": "base-debian-12"}
	with := func(kv ...interface{}) map[string]interface{} { return configtest.With(valid, kv...) }
	tests := []struct {
		name string
		raw  map[string]interface{}
		want []string
	}{
		{
			name: "project and family missing",
			raw:  map[string]interface{}{},
			want: []string{
				"project_id must be set: the project that owns the family, e.g. acme-images",
				"family must be set: the image family to resolve, e.g. base-debian-12",
			},
		},
		{
			name: "project id with upper case",
			raw:  with("project_id", "Acme-Images"),
			want: []string{`project_id "Acme-Images" is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`},
		},
		{
			name: "family with an underscore",
			raw:  with("family", "base_debian"),
			want: []string{`family "base_debian" is not a valid Compute Engine name: a lower-case letter, then lower-case letters, digits and "-", not ending with "-" (e.g. base-debian-12)`},
		},
		{
			name: "family too long",
			raw:  with("family", "a234567890123456789012345678901234567890123456789012345678901234"),
			want: []string{`family "a234567890123456789012345678901234567890123456789012345678901234" is 64 characters long: Compute Engine names have at most 63`},
		},
		{
			name: "zone that is a region",
			raw:  with("zone", "us-central1"),
			want: []string{`zone "us-central1" is not a Compute Engine zone: write REGION-LETTER, e.g. us-central1-a`},
		},
		{
			name: "image that follows a family",
			raw:  with("image", "projects/acme-images/global/images/family/base-debian-12"),
			want: []string{`image "projects/acme-images/global/images/family/base-debian-12" names a family, not an image: set family to follow a family, and image only to pin one of its images`},
		},
		{
			name: "image in another project",
			raw:  with("image", "https://www.googleapis.com/compute/v1/projects/other-images/global/images/base-v1"),
			want: []string{`image "https://www.googleapis.com/compute/v1/projects/other-images/global/images/base-v1" is in project "other-images" but project_id is "acme-images": a pinned image must be in the family's project`},
		},
		{
			name: "image and zone together",
			raw:  with("image", "base-v1", "zone", "us-central1-a"),
			want: []string{"image and zone cannot both be set: a pinned image is the same in every zone; set zone only to follow the family's zonal view"},
		},
		{
			name: "two ways to authenticate",
			raw:  with("access_token", "x", "impersonate_service_account", "ci@acme-images.iam.gserviceaccount.com"),
			want: []string{"access_token and impersonate_service_account are both set: choose one way to authenticate"},
		},
		{
			name: "endpoint without scheme",
			raw:  with("custom_endpoints", map[string]interface{}{"compute": "127.0.0.1:8080"}),
			want: []string{`custom_endpoints.compute: "127.0.0.1:8080" must start with http:// or https:// (e.g. http://127.0.0.1:8080/compute/v1/)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Datasource
			got := configtest.Errors(d.Configure(tc.raw))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Configure errors:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestConfigureAcceptsValidAndNotYetKnownValues(t *testing.T) {
	for _, raw := range []map[string]interface{}{
		{"project_id": "acme-images", "family": "base-debian-12"},
		{"project_id": "acme-images", "family": "base-debian-12", "zone": "europe-west1-b"},
		{"project_id": "acme-images", "family": "base-debian-12", "image": "base-debian-12-v1"},
		{"project_id": "acme-images", "family": "base-debian-12", "image": "projects/acme-images/global/images/base-debian-12-v1"},
		{"project_id": "example.com:acme-images", "family": "b"},
		// packer validate does not run data sources: another one's output
		// arrives as this placeholder and must not be judged.
		{"project_id": "<unknown>", "family": "<unknown>", "image": "<unknown>"},
		{"project_id": "acme-images", "family": "base-debian-12", "access_token": "x",
			"custom_endpoints": map[string]interface{}{"compute": "http://127.0.0.1:8080/compute/v1/"}},
	} {
		var d Datasource
		if err := d.Configure(raw); err != nil {
			t.Errorf("Configure(%v): %v", raw, err)
		}
	}
}
