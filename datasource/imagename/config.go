//go:generate go tool packer-sdc struct-markdown
//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config,DatasourceOutput

package imagename

import (
	"fmt"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// Config is the configuration of data "imagefamily-name".
type Config struct {
	// The operating system part, e.g. `debian-12`. Required when the
	// template uses `{os}`, as the default template does. Every part is
	// sanitised: lower case, each run of characters other than a-z and 0-9
	// becomes one "-" (`Debian 12` becomes `debian-12`).
	OS string `mapstructure:"os" required:"true"`
	// The software part, e.g. `nginx`. Required when the template uses
	// `{software}`, as the default template does.
	Software string `mapstructure:"software" required:"true"`
	// The version part, e.g. `1.24.0` (written `1-24-0`). Required when the
	// template uses `{version}`, as the default template does.
	Version string `mapstructure:"version" required:"true"`
	// The naming template: `{os}`, `{software}`, `{version}` and
	// `{timestamp}` placeholders, each at most once, with literal a-z, 0-9
	// and "-" between them. It must start with a letter. Defaults to
	// `{os}-{software}-{version}-v{timestamp}`. A name longer than 63
	// characters is shortened deterministically: the longest parts are cut
	// and a 6-character hash is appended, the timestamp is kept whole.
	Template string `mapstructure:"template" required:"false"`
	// The build time the name carries, RFC 3339 (e.g.
	// `2026-11-26T06:47:30Z`); it is written in UTC to the second.
	// Defaults to the time the data source runs.
	Timestamp string `mapstructure:"timestamp" required:"false"`
}

// DatasourceOutput is what data "imagefamily-name" returns.
type DatasourceOutput struct {
	// The image name, e.g. `debian-12-nginx-1-24-0-v20261126t064730`: a
	// valid Compute Engine name, at most 63 characters.
	Name string `mapstructure:"name"`
	// The timestamp as the name writes it, yyyymmddthhmmss in UTC (e.g.
	// `20261126t064730`); written even when the template has no
	// `{timestamp}`.
	Timestamp string `mapstructure:"timestamp"`
	// The same time in RFC 3339, UTC (e.g. `2026-11-26T06:47:30Z`).
	Time string `mapstructure:"time"`
	// The sanitised os part, before any shortening.
	OS string `mapstructure:"os"`
	// The sanitised software part, before any shortening.
	Software string `mapstructure:"software"`
	// The sanitised version part, before any shortening.
	Version string `mapstructure:"version"`
	// The template used.
	Template string `mapstructure:"template"`
	// True when the parts were cut to fit 63 characters.
	Shortened bool `mapstructure:"shortened"`
}

// Prepare decodes raws into c and reports every invalid option.
func (c *Config) Prepare(raws ...interface{}) error {
	if err := pluginconfig.Decode(c, nil, raws...); err != nil {
		return err
	}
	var errs *packersdk.MultiError
	add := func(err error) { errs = packersdk.MultiErrorAppend(errs, err) }

	probe := pluginconfig.ProbeTime
	if c.Timestamp != "" && !pluginconfig.Unknown(c.Timestamp) {
		t, err := time.Parse(time.RFC3339, c.Timestamp)
		if err != nil {
			add(fmt.Errorf("timestamp %q is not an RFC 3339 time: write e.g. 2026-11-26T06:47:30Z (or leave it out to use the time the build runs)", c.Timestamp))
		} else {
			probe = t
		}
	}
	for _, err := range pluginconfig.Errors("", pluginconfig.CheckConvention(c.convention(), probe)) {
		add(err)
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

func (c *Config) convention() lifecycle.Convention {
	return lifecycle.Convention{Template: c.Template, OS: c.OS, Software: c.Software, Version: c.Version}
}
