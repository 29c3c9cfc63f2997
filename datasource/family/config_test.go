package family

import (
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/configtest"
)

func TestConfigureRejectsEachBadOptionByName(t *testing.T) {
	valid := map[string]interface{}{"project_id": "acme-images", "family": "base-debian-12"}
	with := func(kv ...interface{}) map[string]interface{} { return configtest.With(valid, kv...) }
	tests := []configtest.Case{
		{
			Name: "project and family missing",
			Raw:  map[string]interface{}{},
			Want: []string{
				"project_id must be set: the project that owns the family, e.g. acme-images",
				"family must be set: the image family to resolve, e.g. base-debian-12",
			},
		},
		{
			Name: "project id with upper case",
			Raw:  with("project_id", "Acme-Images"),
			Want: []string{`project_id "Acme-Images" is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`},
		},
		{
			Name: "family with an underscore",
			Raw:  with("family", "base_debian"),
			Want: []string{`family "base_debian" is not a valid Compute Engine name: a lower-case letter, then lower-case letters, digits and "-", not ending with "-" (e.g. base-debian-12)`},
		},
		{
			Name: "family too long",
			Raw:  with("family", "a234567890123456789012345678901234567890123456789012345678901234"),
			Want: []string{`family "a234567890123456789012345678901234567890123456789012345678901234" is 64 characters long: Compute Engine names have at most 63`},
		},
		{
			Name: "zone that is a region",
			Raw:  with("zone", "us-central1"),
			Want: []string{`zone "us-central1" is not a Compute Engine zone: write REGION-LETTER, e.g. us-central1-a`},
		},
		{
			Name: "image that follows a family",
			Raw:  with("image", "projects/acme-images/global/images/family/base-debian-12"),
			Want: []string{`image "projects/acme-images/global/images/family/base-debian-12" names a family, not an image: set family to follow a family, and image only to pin one of its images`},
		},
		{
			Name: "image in another project",
			Raw:  with("image", "https://www.googleapis.com/compute/v1/projects/other-images/global/images/base-v1"),
			Want: []string{`image "https://www.googleapis.com/compute/v1/projects/other-images/global/images/base-v1" is in project "other-images" but project_id is "acme-images": a pinned image must be in the family's project`},
		},
		{
			Name: "image and zone together",
			Raw:  with("image", "base-v1", "zone", "us-central1-a"),
			Want: []string{"image and zone cannot both be set: a pinned image is the same in every zone; set zone only to follow the family's zonal view"},
		},
		{
			Name: "two ways to authenticate",
			Raw:  with("access_token", "x", "impersonate_service_account", "ci@acme-images.iam.gserviceaccount.com"),
			Want: []string{"access_token and impersonate_service_account are both set: choose one way to authenticate"},
		},
		{
			Name: "endpoint without scheme",
			Raw:  with("custom_endpoints", map[string]interface{}{"compute": "127.0.0.1:8080"}),
			Want: []string{`custom_endpoints.compute: "127.0.0.1:8080" must start with http:// or https:// (e.g. http://127.0.0.1:8080/compute/v1/)`},
		},
	}
	configtest.Check(t, func(raw map[string]interface{}) error {
		var d Datasource
		return d.Configure(raw)
	}, tests)
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
