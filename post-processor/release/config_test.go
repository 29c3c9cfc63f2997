package release

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/configtest"
)

func validRaw() map[string]interface{} {
	return map[string]interface{}{
		"project_id": "acme-images",
		"family":     "app-nginx",
	}
}

func with(kv map[string]interface{}) map[string]interface{} {
	raw := validRaw()
	for k, v := range kv {
		if v == nil {
			delete(raw, k)
			continue
		}
		raw[k] = v
	}
	return raw
}

func TestConfigureDefaultsAreTheSharedPolicy(t *testing.T) {
	var p PostProcessor
	if err := p.Configure(validRaw()); err != nil {
		t.Fatal(err)
	}
	got, errs := p.config.policy()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got != lifecycle.DefaultPolicy() {
		t.Errorf("policy = %+v, want lifecycle.DefaultPolicy() %+v", got, lifecycle.DefaultPolicy())
	}
	req, err := p.request(built{Image: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Rename != "never" || req.Convention != nil || req.DryRun || req.FailOnRotationError {
		t.Errorf("request = %+v", req)
	}
}

func TestConfigureReadsEveryOption(t *testing.T) {
	var p PostProcessor
	err := p.Configure(with(map[string]interface{}{
		"parent":                 "https://www.googleapis.com/compute/v1/projects/acme-base/global/images/base-v1",
		"labels":                 map[string]string{"team": "web"},
		"naming":                 map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1.26.0"},
		"rename":                 "copy",
		"description":            "nginx",
		"dry_run":                true,
		"report_file":            "out/release.json",
		"fail_on_rotation_error": true,
		"access_token":           "x",
		"custom_endpoints":       map[string]string{"compute": "http://127.0.0.1:1/compute/v1/"},
		"rotation": map[string]interface{}{
			"keep_active": 0, "min_age": "0s", "obsolete_after": "1s", "delete_after": "2d", "purge_after": "1h30m",
			"orphan_grace": "3h", "protect_label": "", "check_in_use": false, "in_use_projects": []string{"acme-prod"}, "parallelism": 8,
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	pol, errs := p.config.policy()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := lifecycle.Policy{KeepActive: 0, MinAge: 0, ObsoleteAfter: time.Second, DeleteAfter: 48 * time.Hour,
		PurgeAfter: 90 * time.Minute, OrphanGrace: 3 * time.Hour, ProtectLabel: "", CheckInUse: false}
	if pol != want {
		t.Errorf("policy = %+v, want %+v", pol, want)
	}
	req, err := p.request(built{Image: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if req.Rename != "copy" || req.Convention == nil || req.Convention.Software != "nginx" || !req.DryRun ||
		!req.FailOnRotationError || req.Parallelism != 8 || req.InUseProjects[0] != "acme-prod" || req.Description != "nginx" ||
		req.Parent != "https://www.googleapis.com/compute/v1/projects/acme-base/global/images/base-v1" {
		t.Errorf("request = %+v", req)
	}
	if p.config.AccessToken.Value() != "x" {
		t.Error("access_token not read")
	}
}

func TestConfigureRejectsEveryBadValueNamingTheOption(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]interface{}
		want []string
	}{
		{"project_id missing", with(map[string]interface{}{"project_id": nil}), []string{"project_id must be set"}},
		{"project_id bad", with(map[string]interface{}{"project_id": "Acme"}), []string{"project_id \"Acme\""}},
		{"family missing", with(map[string]interface{}{"family": nil}), []string{"family must be set"}},
		{"family bad", with(map[string]interface{}{"family": "App_Nginx"}), []string{"family \"App_Nginx\""}},
		{"parent not a reference", with(map[string]interface{}{"parent": "projects//x"}), []string{"parent \"projects//x\""}},
		{"parent a family", with(map[string]interface{}{"parent": "projects/p/global/images/family/base"}), []string{"parent", "names a family"}},
		{"label key lineage", with(map[string]interface{}{"labels": map[string]string{"imagefamily-parent-image": "x"}}), []string{"labels", "imagefamily-parent-image"}},
		{"label value bad", with(map[string]interface{}{"labels": map[string]string{"team": "Web Team"}}), []string{"labels", "team"}},
		{"naming template bad", with(map[string]interface{}{"naming": map[string]interface{}{"template": "{os}-{bad}", "os": "x"}}), []string{"naming", "{bad}"}},
		{"naming part missing", with(map[string]interface{}{"naming": map[string]interface{}{"os": "debian-12"}}), []string{"naming.software must be set", "naming.version must be set"}},
		{"rename unknown", with(map[string]interface{}{"rename": "always"}), []string{"rename \"always\"", "never", "copy"}},
		{"rename copy without naming", with(map[string]interface{}{"rename": "copy"}), []string{"rename = \"copy\" needs a naming block"}},
		{"description without copy", with(map[string]interface{}{"description": "x"}), []string{"description", "image_description"}},
		{"keep_active negative", with(map[string]interface{}{"rotation": map[string]interface{}{"keep_active": -1}}), []string{"rotation.keep_active"}},
		{"min_age bad", with(map[string]interface{}{"rotation": map[string]interface{}{"min_age": "soon"}}), []string{"rotation.min_age"}},
		{"obsolete_after bad", with(map[string]interface{}{"rotation": map[string]interface{}{"obsolete_after": "7x"}}), []string{"rotation.obsolete_after"}},
		{"delete_after negative", with(map[string]interface{}{"rotation": map[string]interface{}{"delete_after": "-1h"}}), []string{"rotation.delete_after"}},
		{"purge_after bad", with(map[string]interface{}{"rotation": map[string]interface{}{"purge_after": "1 week"}}), []string{"rotation.purge_after"}},
		{"orphan_grace bad", with(map[string]interface{}{"rotation": map[string]interface{}{"orphan_grace": "soon"}}), []string{"rotation.orphan_grace"}},
		{"protect_label bad", with(map[string]interface{}{"rotation": map[string]interface{}{"protect_label": "Keep Me"}}), []string{"rotation.protect_label"}},
		{"in_use_projects bad", with(map[string]interface{}{"rotation": map[string]interface{}{"in_use_projects": []string{"ok-project", "BAD"}}}), []string{"rotation.in_use_projects[1]"}},
		{"parallelism negative", with(map[string]interface{}{"rotation": map[string]interface{}{"parallelism": -2}}), []string{"rotation.parallelism: -2 is less than 1"}},
		{"parallelism zero, as the CLI refuses --parallelism 0", with(map[string]interface{}{"rotation": map[string]interface{}{"parallelism": 0}}),
			[]string{"rotation.parallelism: 0 is less than 1: it counts the image requests in flight at once; use 1 or more, e.g. 4 (the default)"}},
		{"two credentials", with(map[string]interface{}{"access_token": "x", "credentials_json": `{"type":"service_account"}`}), []string{"credentials_json and access_token"}},
		{"endpoint bad", with(map[string]interface{}{"custom_endpoints": map[string]string{"compute": "127.0.0.1:8080"}}), []string{"custom_endpoints.compute"}},
		{"unknown option", with(map[string]interface{}{"image_family": "x"}), []string{"image_family"}},
		{"content_manifest a directory", with(map[string]interface{}{"content_manifest": "manifests/"}), []string{`content_manifest "manifests/" ends with "/": name a file, not a directory`}},
		{"content_manifest padded", with(map[string]interface{}{"content_manifest": "packages.txt "}), []string{`content_manifest "packages.txt " starts or ends with white space`}},
		{"content_manifest is the report", with(map[string]interface{}{"content_manifest": "out/release.json", "report_file": "out/release.json"}),
			[]string{`content_manifest "out/release.json" is report_file too`}},
		{"report_file padded", with(map[string]interface{}{"report_file": " out.json"}), []string{`report_file " out.json" starts or ends with white space`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p PostProcessor
			err := p.Configure(tc.raw)
			if err == nil {
				t.Fatalf("Configure accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestConfigureReportsEveryProblemAtOnce(t *testing.T) {
	var p PostProcessor
	err := p.Configure(map[string]interface{}{
		"rename":   "sometimes",
		"rotation": map[string]interface{}{"min_age": "x", "parallelism": -1},
	})
	if err == nil {
		t.Fatal("Configure accepted it")
	}
	for _, w := range []string{"project_id", "family", "rename", "rotation.min_age", "rotation.parallelism"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// TestConfigureAcceptsValuesNotKnownYet: during `packer validate` values from
// data sources arrive as "<unknown>" and must pass.
func TestConfigureAcceptsValuesNotKnownYet(t *testing.T) {
	var p PostProcessor
	err := p.Configure(with(map[string]interface{}{
		"parent": "<unknown>",
		"labels": map[string]string{"team": "<unknown>"},
		"naming": map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "<unknown>"},
	}))
	if err != nil {
		t.Fatal(err)
	}
}

// TestConfigureNamesTheOptionOfAValueOfTheWrongKind: values HCL's type
// check lets through (a number for an int option that is not whole, or too
// large) are reported by option, value and rule, as Packer hands them over.
func TestConfigureNamesTheOptionOfAValueOfTheWrongKind(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"not whole", `rotation { keep_active = 2.5 }`, "rotation.keep_active: 2.5 is not a whole number"},
		{"not whole, parallelism", `rotation { parallelism = 0.5 }`, "rotation.parallelism: 0.5 is not a whole number"},
		{"too large", `rotation { keep_active = 100000000000000000000 }`,
			"rotation.keep_active: 100000000000000000000 is out of range: use a whole number from -9223372036854775808 to 9223372036854775807"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p PostProcessor
			v := configtest.HCL(t, p.ConfigSpec(), "project_id = \"acme-images\"\nfamily = \"app-nginx\"\n"+tc.body+"\n")
			if got := configtest.Errors(p.Configure(v)); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("errors:\n got %q\nwant %q", got, []string{tc.want})
			}
		})
	}
	var p PostProcessor
	v := configtest.HCL(t, p.ConfigSpec(), "project_id = \"acme-images\"\nfamily = \"app-nginx\"\nrotation {\n keep_active = 3\n parallelism = 2\n}\n")
	if err := p.Configure(v); err != nil {
		t.Fatalf("a whole number is refused: %v", err)
	}
	if *p.config.Rotation.KeepActive != 3 || *p.config.Rotation.Parallelism != 2 {
		t.Errorf("rotation = %+v", p.config.Rotation)
	}
}
