package imagename

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestOutputNamesTheBuild(t *testing.T) {
	clock := func() time.Time { return time.Date(2026, 11, 26, 6, 47, 30, 999e6, time.UTC) }
	tests := []struct {
		name string
		raw  map[string]interface{}
		want DatasourceOutput
	}{
		{
			name: "default template at the time the data source runs",
			raw:  map[string]interface{}{"os": "Debian 12", "software": "nginx", "version": "1.24.0"},
			want: DatasourceOutput{Name: "debian-12-nginx-1-24-0-v20261126t064730", Timestamp: "20261126t064730", Time: "2026-11-26T06:47:30Z",
				OS: "debian-12", Software: "nginx", Version: "1-24-0", Template: "{os}-{software}-{version}-v{timestamp}"},
		},
		{
			name: "a timestamp with an offset is written in UTC",
			raw:  map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1.24.0", "timestamp": "2026-11-26T08:47:30+02:00"},
			want: DatasourceOutput{Name: "debian-12-nginx-1-24-0-v20261126t064730", Timestamp: "20261126t064730", Time: "2026-11-26T06:47:30Z",
				OS: "debian-12", Software: "nginx", Version: "1-24-0", Template: "{os}-{software}-{version}-v{timestamp}"},
		},
		{
			name: "custom template without a timestamp",
			raw:  map[string]interface{}{"software": "web", "version": "v2", "template": "app-{software}-{version}"},
			want: DatasourceOutput{Name: "app-web-v2", Timestamp: "20261126t064730", Time: "2026-11-26T06:47:30Z",
				Software: "web", Version: "v2", Template: "app-{software}-{version}"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &Datasource{now: clock}
			if err := d.Configure(tc.raw); err != nil {
				t.Fatal(err)
			}
			got, err := d.output()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("output:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestOutputShortensALongNameToAValidOne(t *testing.T) {
	d := &Datasource{}
	if err := d.Configure(map[string]interface{}{
		"os": "debian-12-bookworm-backports", "software": "nginx-with-a-very-long-module-list", "version": "1.24.0-rc1",
		"timestamp": "2026-11-26T06:47:30Z",
	}); err != nil {
		t.Fatal(err)
	}
	v, err := d.Execute()
	if err != nil {
		t.Fatal(err)
	}
	name := v.GetAttr("name").AsString()
	if len(name) > 63 || !strings.HasSuffix(name, "-v20261126t064730") || !v.GetAttr("shortened").True() {
		t.Errorf("name %q (%d characters), shortened %v: want at most 63 characters ending in the timestamp, shortened", name, len(name), v.GetAttr("shortened"))
	}
	if got := v.GetAttr("software").AsString(); got != "nginx-with-a-very-long-module-list" {
		t.Errorf("software = %q, want the part before shortening", got)
	}
}
