package pluginconfig

import (
	"errors"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func TestProjectIDRuleIsOneForTheCLIAndThePlugin(t *testing.T) {
	tests := []struct {
		id   string
		ok   bool
		note string
	}{
		{"acme-images", true, "a plain project ID"},
		{"example.com:acme-images", true, "the legacy domain-scoped form"},
		{"a23456789012345678901234567890", true, "30 characters"},
		{"acme1", false, "5 characters: too short"},
		{"ab", false, "too short"},
		{"x:y", false, "domain and project both too short"},
		{"Acme-Images", false, "upper case"},
		{"acme-images-", false, "ends with -"},
		{"1acme-images", false, "starts with a digit"},
		{"a234567890123456789012345678901", false, "31 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.note, func(t *testing.T) {
			err := ValidateProjectID("project_id", tt.id)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateProjectID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
			}
			if cerr := CheckProjectID("project_id", tt.id); (cerr == nil) != tt.ok {
				t.Errorf("CheckProjectID(%q) = %v, but ValidateProjectID says %v", tt.id, cerr, err)
			}
			var fe *lifecycle.FieldError
			if err != nil && (!errors.As(err, &fe) || fe.Field != "project_id" || fe.Value != `"`+tt.id+`"`) {
				t.Errorf("error %#v does not name the option and the value", err)
			}
		})
	}
}

func TestUnknownValuesPassOnlyTheCheckForms(t *testing.T) {
	const unknown = "<unknown>"
	for name, err := range map[string]error{
		"CheckProjectID": CheckProjectID("project_id", unknown),
		"CheckName":      CheckName("family", unknown),
		"CheckZone":      CheckZone("zone", unknown),
		"CheckFilePath":  CheckFilePath("content_manifest", unknown),
	} {
		if err != nil {
			t.Errorf("%s(%q) = %v, want nil: packer validate passes values it does not know yet", name, unknown, err)
		}
	}
	if ValidateProjectID("--project", unknown) == nil {
		t.Errorf("ValidateProjectID accepted %q: the CLI has no placeholder values", unknown)
	}
}

func TestErrorsSpellEachOptionInsideItsBlock(t *testing.T) {
	err := CheckConvention(lifecycle.Convention{Template: "{os}-{software}-v{timestamp}"}, ProbeTime)
	var got []string
	for _, e := range Errors("naming.", err) {
		got = append(got, e.Error())
	}
	want := []string{
		`naming.os must be set: the template "{os}-{software}-v{timestamp}" uses {os}`,
		`naming.software must be set: the template "{os}-{software}-v{timestamp}" uses {software}`,
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Errors = %q, want %q", got, want)
	}
	if Errors("naming.", CheckConvention(lifecycle.Convention{Template: "<unknown>"}, ProbeTime)) != nil {
		t.Error("a template not known yet was judged")
	}
}

func TestAFilePathMustBeAbleToNameAFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path, wantRule string
	}{
		{"not set", "", ""},
		{"a file still to be written", dir + "/packages.txt", ""},
		{"relative", "reports/release.json", ""},
		{"white space around", " packages.txt", "starts or ends with white space"},
		{"a directory by its spelling", "reports/", `ends with "/"`},
		{"a directory that exists", dir, "is a directory"},
		{"a NUL", "pack\x00ages", "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckFilePath("content_manifest", tt.path)
			if tt.wantRule == "" {
				if err != nil {
					t.Errorf("CheckFilePath(%q) = %v, want nil", tt.path, err)
				}
				return
			}
			var fe *lifecycle.FieldError
			if !errors.As(err, &fe) || fe.Field != "content_manifest" || !strings.Contains(fe.Rule, tt.wantRule) ||
				!strings.HasPrefix(err.Error(), "content_manifest ") {
				t.Errorf("CheckFilePath(%q) = %v, want content_manifest named with the rule %q", tt.path, err, tt.wantRule)
			}
		})
	}
}
