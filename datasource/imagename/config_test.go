package imagename

import (
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/configtest"
)

func TestConfigureRejectsEachBadPartByName(t *testing.T) {
	tests := []configtest.Case{
		{
			Name: "every part missing for the default template",
			Raw:  map[string]interface{}{},
			Want: []string{
				`os must be set: the template "{os}-{software}-{version}-v{timestamp}" uses {os}`,
				`software must be set: the template "{os}-{software}-{version}-v{timestamp}" uses {software}`,
				`version must be set: the template "{os}-{software}-{version}-v{timestamp}" uses {version}`,
			},
		},
		{
			Name: "a part with no letter or digit",
			Raw:  map[string]interface{}{"os": "debian-12", "software": "+++", "version": "1.24.0"},
			Want: []string{`software "+++" sanitises to nothing: each part needs at least one letter or digit`},
		},
		{
			Name: "a first part starting with a digit",
			Raw:  map[string]interface{}{"os": "12-debian", "software": "nginx", "version": "1.24.0"},
			Want: []string{`os "12-debian" starts the name with the digit "1": a name must start with a letter; put a part that starts with a letter first in the template, or start it with a literal prefix`},
		},
		{
			Name: "a template with an unknown placeholder",
			Raw:  map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1", "template": "{os}-{app}-v{timestamp}"},
			Want: []string{`template "{os}-{app}-v{timestamp}": unknown placeholder {app}: use {os}, {software}, {version} and {timestamp}`},
		},
		{
			Name: "a template with an underscore, reported once whatever the parts",
			Raw:  map[string]interface{}{"template": "{os}_{timestamp}"},
			Want: []string{`template "{os}_{timestamp}": literal text "_" may hold only a-z, 0-9 and "-" (image names are lower-case RFC 1035 names); placeholders are {os}, {software}, {version} and {timestamp}`},
		},
		{
			Name: "a template starting with the timestamp",
			Raw:  map[string]interface{}{"template": "{timestamp}-{os}", "os": "debian"},
			Want: []string{`template "{timestamp}-{os}" starts with {timestamp}, which starts with a digit: a name must start with a letter (add a literal prefix such as "v")`},
		},
		{
			Name: "a custom template needs only its own parts",
			Raw:  map[string]interface{}{"template": "web-{version}-{timestamp}"},
			Want: []string{`version must be set: the template "web-{version}-{timestamp}" uses {version}`},
		},
		{
			Name: "a timestamp that is not RFC 3339",
			Raw:  map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1", "timestamp": "2026-11-26 06:47"},
			Want: []string{`timestamp "2026-11-26 06:47" is not an RFC 3339 time: write e.g. 2026-11-26T06:47:30Z (or leave it out to use the time the build runs)`},
		},
		{
			Name: "a timestamp whose year needs five digits",
			Raw:  map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1", "timestamp": "0000-01-01T00:00:00+01:00"},
			Want: []string{`timestamp year -1 cannot be written in 4 digits`},
		},
	}
	configtest.Check(t, func(raw map[string]interface{}) error {
		var d Datasource
		return d.Configure(raw)
	}, tests)
}

func TestConfigureAcceptsNotYetKnownValues(t *testing.T) {
	// packer validate does not run data sources: another one's output
	// arrives as this placeholder and must not be judged.
	for _, raw := range []map[string]interface{}{
		{"os": "<unknown>", "software": "<unknown>", "version": "<unknown>", "timestamp": "<unknown>"},
		{"os": "debian", "template": "<unknown>"},
	} {
		var d Datasource
		if err := d.Configure(raw); err != nil {
			t.Errorf("Configure(%v): %v", raw, err)
		}
	}
}
