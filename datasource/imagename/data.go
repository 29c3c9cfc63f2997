// Package imagename is data "imagefamily-name": the conventional image name for a
// build, known before the build starts, so that the builder, the release
// post-processor and anything else in the template agree on it.
package imagename

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	"github.com/zclconf/go-cty/cty"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// Datasource is data "imagefamily-name". It makes no API call.
type Datasource struct {
	config Config
	// now is the clock; tests replace it.
	now func() time.Time
}

func (d *Datasource) ConfigSpec() hcldec.ObjectSpec { return d.config.FlatMapstructure().HCL2Spec() }

func (d *Datasource) OutputSpec() hcldec.ObjectSpec {
	return (&DatasourceOutput{}).FlatMapstructure().HCL2Spec()
}

// Configure decodes and validates the configuration: a part or template
// that cannot make a valid name fails here, so `packer validate` reports it.
func (d *Datasource) Configure(raws ...interface{}) error {
	return d.config.Prepare(raws...)
}

// Execute makes the name at the configured timestamp, or now.
func (d *Datasource) Execute() (cty.Value, error) {
	out, err := d.output()
	if err != nil {
		return cty.NullVal(cty.EmptyObject), err
	}
	return hcl2helper.HCL2ValueFromConfig(out, d.OutputSpec()), nil
}

func (d *Datasource) output() (DatasourceOutput, error) {
	var t time.Time
	if d.config.Timestamp != "" {
		var err error
		if t, err = time.Parse(time.RFC3339, d.config.Timestamp); err != nil {
			return DatasourceOutput{}, fmt.Errorf("timestamp %q is not an RFC 3339 time: write e.g. 2026-11-26T06:47:30Z", d.config.Timestamp)
		}
	} else if d.now != nil {
		t = d.now()
	} else {
		t = time.Now()
	}
	t = t.UTC().Truncate(time.Second)
	conv := d.config.convention()
	n, err := conv.Name(t)
	if err != nil {
		return DatasourceOutput{}, pluginconfig.Errors("", err)[0]
	}
	return DatasourceOutput{
		Name:      n.String(),
		Timestamp: lifecycle.FormatTimestamp(t),
		Time:      t.Format(time.RFC3339),
		OS:        lifecycle.SanitizeNamePart(d.config.OS),
		Software:  lifecycle.SanitizeNamePart(d.config.Software),
		Version:   lifecycle.SanitizeNamePart(d.config.Version),
		Template:  conv.TemplateOrDefault(),
		Shortened: n.Shortened(),
	}, nil
}
