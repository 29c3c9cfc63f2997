package reliability

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

var (
	packerEnvOnce sync.Once
	sharedPacker  *packerrun.Environment
)

// packerEnv is one isolated packer environment per test process, with
// googlecompute and this plugin (built from this tree) installed through
// `packer plugins install --path`. Runs only read it, so tests share it.
func packerEnv(t *testing.T) *packerrun.Environment {
	t.Helper()
	packerEnvOnce.Do(func() {
		// The environment must outlive the test that makes it: it is
		// built on a TB whose cleanups run when the process ends.
		tb := &processTB{TB: t}
		env := packerrun.Env(tb)
		packerrun.InstallPlugins(t, env)
		sharedPacker = env
	})
	if sharedPacker == nil {
		t.Fatal("the shared packer environment could not be set up (see the first test that tried)")
	}
	return sharedPacker
}

// processTB hands out directories under processDir, removed with it when the
// process ends, instead of the test's own.
type processTB struct{ testing.TB }

func (p *processTB) TempDir() string {
	d, err := os.MkdirTemp(processDir, "packer-")
	if err != nil {
		p.Fatal(err)
	}
	return d
}

func (p *processTB) Cleanup(func()) {}

// badInput is one invalid configuration: packer validate must refuse it with
// a message holding every one of want (the option and the rule).
type badInput struct {
	component string // for the figures
	name      string
	hcl       string
	want      []string
}

const (
	nullBuild = "source \"null\" \"x\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"source.null.x\"]\n%s}\n"
	endpoint  = `custom_endpoints = { compute = "http://127.0.0.1:9/compute/v1/" }`
)

func dataFamily(body string) string {
	return "data \"imagefamily\" \"x\" {\n" + body + "\n  " + endpoint + "\n}\n" + fmt.Sprintf(nullBuild, "")
}

func dataName(body string) string {
	return "data \"imagefamily-name\" \"x\" {\n" + body + "\n}\n" + fmt.Sprintf(nullBuild, "")
}

func postProcessor(body string) string {
	return fmt.Sprintf(nullBuild, "  post-processor \"imagefamily-release\" {\n"+body+"\n    "+endpoint+"\n  }\n")
}

// promote wraps a promote source; the build uses it.
func promote(body string) string {
	return "source \"imagefamily-promote\" \"x\" {\n" + body + "\n  " + endpoint + "\n}\nbuild {\n  sources = [\"source.imagefamily-promote.x\"]\n}\n"
}

const (
	okFamily = `  project_id = "acme-images"
  family     = "base-debian-12"`
	okRelease = `    project_id = "acme-images"
    family     = "app-nginx"`
	okPromote = `  source_image = "projects/acme-images/global/images/base-v1"
  project_id   = "acme-prod"
  image_name   = "base-v1-prod"`
)

var badInputs = []badInput{
	// data "imagefamily"
	{"data imagefamily", "project_id missing", dataFamily(`  family = "base"`), []string{"project_id must be set"}},
	{"data imagefamily", "project_id upper case", dataFamily(`  project_id = "Acme"
  family = "base"`), []string{`project_id "Acme" is not a Google Cloud project ID`, "lower-case letters"}},
	{"data imagefamily", "family missing", dataFamily(`  project_id = "acme-images"`), []string{"family must be set"}},
	{"data imagefamily", "family underscore", dataFamily(`  project_id = "acme-images"
  family = "Base_Debian"`), []string{`family "Base_Debian" is not a valid Compute Engine name`}},
	{"data imagefamily", "family too long", dataFamily(`  project_id = "acme-images"
  family = "` + strings.Repeat("a", 64) + `"`), []string{"family", "is 64 characters long", "at most 63"}},
	{"data imagefamily", "zone malformed", dataFamily(okFamily + `
  zone = "uscentral1"`), []string{`zone "uscentral1" is not a Compute Engine zone`, "REGION-LETTER"}},
	{"data imagefamily", "image names a family", dataFamily(okFamily + `
  image = "projects/acme-images/global/images/family/base"`), []string{"image", "names a family, not an image"}},
	{"data imagefamily", "image with zone", dataFamily(okFamily + `
  image = "base-v1"
  zone  = "us-central1-a"`), []string{"image and zone cannot both be set"}},
	{"data imagefamily", "image in another project", dataFamily(okFamily + `
  image = "projects/other-project/global/images/base-v1"`), []string{`image "projects/other-project/global/images/base-v1" is in project "other-project" but project_id is "acme-images"`}},
	{"data imagefamily", "two credentials", `data "imagefamily" "x" {
` + okFamily + `
  access_token     = "t"
  credentials_json = "{\"type\":\"service_account\"}"
}
` + fmt.Sprintf(nullBuild, ""), []string{"access_token", "credentials_json", "choose one way to authenticate"}},
	{"data imagefamily", "endpoint without scheme", `data "imagefamily" "x" {
` + okFamily + `
  custom_endpoints = { compute = "127.0.0.1:8080" }
}
` + fmt.Sprintf(nullBuild, ""), []string{"custom_endpoints.compute", "must start with http:// or https://"}},
	{"data imagefamily", "credentials_json not JSON", `data "imagefamily" "x" {
` + okFamily + `
  credentials_json = "{not json"
}
` + fmt.Sprintf(nullBuild, ""), []string{"credentials_json", "is not valid JSON"}},
	{"data imagefamily", "impersonation not an email", dataFamily(okFamily + `
  impersonate_service_account = "robot"`), []string{`impersonate_service_account "robot" is not a service account email`}},

	// data "imagefamily-name"
	{"data imagefamily-name", "os missing", dataName(`  software = "nginx"
  version = "1.26"`), []string{"os must be set", "uses {os}"}},
	{"data imagefamily-name", "unknown placeholder", dataName(`  os = "debian-12"
  template = "{os}-{bad}"`), []string{"template", "{bad}"}},
	{"data imagefamily-name", "timestamp not RFC 3339", dataName(`  os = "debian-12"
  software = "nginx"
  version = "1.26"
  timestamp = "yesterday"`), []string{`timestamp "yesterday" is not an RFC 3339 time`}},
	{"data imagefamily-name", "part sanitises to nothing", dataName(`  os = "debian-12"
  software = "+++"
  version = "1.26"`), []string{`software "+++" sanitises to nothing`}},
	{"data imagefamily-name", "name starts with a digit", dataName(`  os = "12-debian"
  software = "nginx"
  version = "1.26"`), []string{"os", "starts the name with the digit", "must start with a letter"}},
	{"data imagefamily-name", "template repeats a placeholder", dataName(`  os = "debian-12"
  template = "{os}-{os}-{timestamp}"`), []string{"template", "{os}"}},
	{"data imagefamily-name", "template with upper case", dataName(`  os = "debian-12"
  template = "Img-{os}"`), []string{"template", "Img-{os}"}},

	// post-processor "imagefamily-release"
	{"post-processor imagefamily-release", "project_id missing", postProcessor(`    family = "app-nginx"`), []string{"project_id must be set"}},
	{"post-processor imagefamily-release", "project_id upper case", postProcessor(`    project_id = "Acme"
    family = "app-nginx"`), []string{`project_id "Acme" is not a Google Cloud project ID`}},
	{"post-processor imagefamily-release", "family missing", postProcessor(`    project_id = "acme-images"`), []string{"family must be set"}},
	{"post-processor imagefamily-release", "family underscore", postProcessor(`    project_id = "acme-images"
    family = "App_Nginx"`), []string{`family "App_Nginx" is not a valid Compute Engine name`}},
	{"post-processor imagefamily-release", "parent names a family", postProcessor(okRelease + `
    parent = "projects/acme/global/images/family/base"`), []string{`parent "projects/acme/global/images/family/base" names a family, not an image`}},
	{"post-processor imagefamily-release", "parent malformed", postProcessor(okRelease + `
    parent = "projects//global/images/"`), []string{`parent "projects//global/images/" is not an image reference`}},
	{"post-processor imagefamily-release", "lineage label", postProcessor(okRelease + `
    labels = { "imagefamily-parent-image" = "mine" }`), []string{`labels: "imagefamily-parent-image" is a lineage label the release writes itself`}},
	{"post-processor imagefamily-release", "label value with a space", postProcessor(okRelease + `
    labels = { team = "Web Team" }`), []string{`labels: value of "team"`, "not a label value"}},
	{"post-processor imagefamily-release", "label key upper case", postProcessor(okRelease + `
    labels = { Team = "web" }`), []string{`labels: key "Team" is not a label key`}},
	{"post-processor imagefamily-release", "rename unknown", postProcessor(okRelease + `
    rename = "sometimes"`), []string{`rename "sometimes" is not allowed`, `"never"`, `"copy"`}},
	{"post-processor imagefamily-release", "rename copy without naming", postProcessor(okRelease + `
    rename = "copy"`), []string{`rename = "copy" needs a naming block`}},
	{"post-processor imagefamily-release", "description without copy", postProcessor(okRelease + `
    description = "x"`), []string{`description is the description of the copy made by rename = "copy"`}},
	{"post-processor imagefamily-release", "naming placeholder", postProcessor(okRelease + `
    naming {
      template = "{os}-{bad}"
      os = "debian-12"
    }`), []string{"{bad}"}},
	{"post-processor imagefamily-release", "keep_active negative", postProcessor(okRelease + `
    rotation { keep_active = -1 }`), []string{"rotation.keep_active: -1 is negative"}},
	{"post-processor imagefamily-release", "min_age unreadable", postProcessor(okRelease + `
    rotation { min_age = "soon" }`), []string{`rotation.min_age: "soon" is not a duration`}},
	{"post-processor imagefamily-release", "obsolete_after bad unit", postProcessor(okRelease + `
    rotation { obsolete_after = "7x" }`), []string{`rotation.obsolete_after: "7x" is not a duration`}},
	{"post-processor imagefamily-release", "delete_after negative", postProcessor(okRelease + `
    rotation { delete_after = "-1h" }`), []string{"rotation.delete_after", "is negative"}},
	{"post-processor imagefamily-release", "purge_after with a space", postProcessor(okRelease + `
    rotation { purge_after = "1 week" }`), []string{`rotation.purge_after: "1 week" is not a duration`}},
	{"post-processor imagefamily-release", "protect_label invalid", postProcessor(okRelease + `
    rotation { protect_label = "Keep Me" }`), []string{"rotation.protect_label", `"Keep Me"`, "not a label key"}},
	{"post-processor imagefamily-release", "protect_label a lineage key", postProcessor(okRelease + `
    rotation { protect_label = "imagefamily-rotated-at" }`), []string{"rotation.protect_label", "is a lineage key imagefamily writes itself"}},
	{"post-processor imagefamily-release", "in_use_projects invalid", postProcessor(okRelease + `
    rotation { in_use_projects = ["BAD"] }`), []string{`rotation.in_use_projects[0] "BAD" is not a Google Cloud project ID`}},
	{"post-processor imagefamily-release", "parallelism negative", postProcessor(okRelease + `
    rotation { parallelism = -1 }`), []string{"rotation.parallelism -1 is negative"}},
	{"post-processor imagefamily-release", "report_file padded", postProcessor(okRelease + `
    report_file = " report.json"`), []string{`report_file " report.json" starts or ends with white space`}},
	{"post-processor imagefamily-release", "endpoint names another API", fmt.Sprintf(nullBuild, `  post-processor "imagefamily-release" {
`+okRelease+`
    custom_endpoints = { compute = "http://127.0.0.1:9/compute/beta/" }
  }
`), []string{"custom_endpoints.compute", "names the beta API"}},

	// source "imagefamily-promote"
	{"source imagefamily-promote", "no source", promote(`  project_id = "acme-prod"
  image_name = "x-prod"`), []string{"one of source_image and source_family must be set"}},
	{"source imagefamily-promote", "both sources", promote(okPromote + `
  source_family = "base"`), []string{"source_image and source_family are both set"}},
	{"source imagefamily-promote", "family without project", promote(`  source_family = "base"
  project_id = "acme-prod"
  image_name = "x-prod"`), []string{`source_project_id must be set with source_family`}},
	{"source imagefamily-promote", "source_image a family", promote(`  source_image = "projects/acme-images/global/images/family/base"
  project_id = "acme-prod"
  image_name = "x-prod"`), []string{"source_image", "follows a family", `source_family = "base"`}},
	{"source imagefamily-promote", "source_image without project", promote(`  source_image = "base-v1"
  project_id = "acme-prod"
  image_name = "x-prod"`), []string{`source_project_id must be set: source_image "base-v1" names no project`}},
	{"source imagefamily-promote", "source projects disagree", promote(okPromote + `
  source_project_id = "acme-other"`), []string{`source_image "projects/acme-images/global/images/base-v1" is in project "acme-images" but source_project_id is "acme-other"`}},
	{"source imagefamily-promote", "project_id missing", promote(`  source_image = "projects/acme-images/global/images/base-v1"
  image_name = "x-prod"`), []string{"project_id must be set"}},
	{"source imagefamily-promote", "no name", promote(`  source_image = "projects/acme-images/global/images/base-v1"
  project_id = "acme-prod"`), []string{"one of image_name and naming must be set"}},
	{"source imagefamily-promote", "name and naming", promote(okPromote + `
  naming {
    os = "debian-12"
    software = "nginx"
    version = "1"
  }`), []string{"image_name and naming are both set"}},
	{"source imagefamily-promote", "storage location upper case", promote(okPromote + `
  storage_locations = ["US"]`), []string{`storage_locations[0] "US" is not a storage location`}},
	{"source imagefamily-promote", "architecture unknown", promote(okPromote + `
  architecture = "x86"`), []string{`architecture "X86" is not an architecture Compute Engine knows`, "X86_64 or ARM64"}},
	{"source imagefamily-promote", "guest OS feature unknown", promote(okPromote + `
  guest_os_features = ["FAST"]`), []string{`guest_os_features[0] "FAST" is not a guest OS feature`}},
	{"source imagefamily-promote", "license malformed", promote(okPromote + `
  licenses = ["gpl"]`), []string{`licenses[0] "gpl" is not a license`}},
	{"source imagefamily-promote", "image_name invalid", promote(`  source_image = "projects/acme-images/global/images/base-v1"
  project_id = "acme-prod"
  image_name = "Base_V1"`), []string{"image_name", "Base_V1"}},
	{"source imagefamily-promote", "family invalid", promote(okPromote + `
  family = "App_Nginx"`), []string{`family "App_Nginx"`}},
	{"source imagefamily-promote", "label lineage key", promote(okPromote + `
  labels = { "imagefamily-promoted-from" = "x" }`), []string{"labels", "imagefamily-promoted-from"}},
}

// TestPackerValidateRefusesBadInput runs `packer validate` (the real packer,
// this plugin installed with `packer plugins install --path`) once per
// invalid configuration: each must fail, naming the option and the rule. The
// short version runs every fourth case (each component is covered); the long
// one runs them all.
func TestPackerValidateRefusesBadInput(t *testing.T) {
	t.Parallel()
	if len(badInputs) < 40 {
		t.Fatalf("the table has %d cases, want at least 40", len(badInputs))
	}
	env := packerEnv(t)
	for i, tc := range badInputs {
		if !long && i%4 != 0 {
			continue
		}
		t.Run(strings.ReplaceAll(tc.component+"/"+tc.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			stats.add(&stats.InvalidInputs, tc.component, 1)
			dir := t.TempDir()
			packerrun.WriteTemplate(t, dir, tc.hcl)
			stdout, stderr, err := packerrun.Run(t, env, dir, "validate", ".")
			stats.run("packer validate")
			all := stdout + stderr
			if err == nil {
				t.Fatalf("packer validate accepted:\n%s\noutput:\n%s", tc.hcl, all)
			}
			// Packer wraps some messages at 80 columns.
			flat := strings.Join(strings.Fields(all), " ")
			for _, w := range tc.want {
				if !strings.Contains(flat, w) {
					t.Errorf("packer validate does not say %q:\n%s", w, all)
				}
			}
		})
	}
}
