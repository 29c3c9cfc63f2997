package name

import (
	"slices"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/configtest"
)

func TestConfigureRejectsEachBadPartByName(t *testing.T) {
	tests := []struct {
		name string
		raw  map[string]interface{}
		want []string
	}{
		{
			name: "every part missing for the default template",
			raw:  map[string]interface{}{},
			want: []string{
				`os must be set: the template "{os}-{software}-{version}-v{timestamp}" uses {os}`,
				`software must be set: the template "{os}-{software}-{version}-v{timestamp}" uses {software}`,
				`version must be set: the template "{os}-{software}-{version}-v{timestamp}" uses {version}`,
			},
		},
		{
			name: "a part with no letter or digit",
			raw:  map[string]interface{}{"os": "debian-12", "software": "+++", "version": "1.24.0"},
			want: []string{`software "+++" sanitises to nothing: each part needs at least one letter or digit`},
		},
		{
			name: "a first part starting with a digit",
			raw:  map[string]interface{}{"os": "12-debian", "software": "nginx", "version": "1.24.0"},
			want: []string{`os "12-debian" starts the name with the digit "1": a name must start with a letter; put a part that starts with a letter first in the template, or start it with a literal prefix`},
		},
		{
			name: "a template with an unknown placeholder",
			raw:  map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1", "template": "{os}-{app}-v{timestamp}"},
			want: []string{`template "{os}-{app}-v{timestamp}": unknown placeholder {app}: use {os}, {software}, {version} and {timestamp}`},
		},
		{
			name: "a template with an underscore, reported once whatever the parts",
			raw:  map[string]interface{}{"template": "{os}_{timestamp}"},
			want: []string{`template "{os}_{timestamp}": literal text "_" may hold only a-z, 0-9 and "-" (image names are lower-case RFC 1035 names); placeholders are {os}, {software}, {version} and {timestamp}`},
		},
		{
			name: "a template starting with the timestamp",
			raw:  map[string]interface{}{"template": "{timestamp}-{os}", "os": "debian"},
			want: []string{`template "{timestamp}-{os}" starts with {timestamp}, which starts with a digit: a name must start with a letter (add a literal prefix such as "v")`},
		},
		{
			name: "a custom template needs only its own parts",
			raw:  map[string]interface{}{"template": "web-{version}-{timestamp}"},
			want: []string{`version must be set: the template "web-{version}-{timestamp}" uses {version}`},
		},
		{
			name: "a timestamp that is not RFC 3339",
			raw:  map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1", "timestamp": "2026-11-26 06:47"},
			want: []string{`timestamp "2026-11-26 06:47" is not an RFC 3339 time: write e.g. 2026-11-26T06:47:30Z (or leave it out to use the time the build runs)`},
		},
		{
			name: "a timestamp whose year needs five digits",
			raw:  map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1", "timestamp": "0000-01-01T00:00:00+01:00"},
			want: []string{`timestamp year -1 cannot be written in 4 digits`},
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
