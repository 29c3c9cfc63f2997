// Package family is data "imagefamily", the plugin's default data source: it
// resolves an image family to the image it points to now, pinned for the
// rest of the build, with the lineage labels a child image should carry.
package family

import (
	"context"
	"log"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/hcl2helper"
	"github.com/zclconf/go-cty/cty"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/resolve"
)

// Datasource is data "imagefamily".
type Datasource struct {
	config Config
	// newClient builds the Compute Engine client; tests replace it.
	newClient func(ctx context.Context, auth pluginconfig.Auth) (gce.Compute, error)
}

func (d *Datasource) ConfigSpec() hcldec.ObjectSpec { return d.config.FlatMapstructure().HCL2Spec() }

func (d *Datasource) OutputSpec() hcldec.ObjectSpec {
	return (&DatasourceOutput{}).FlatMapstructure().HCL2Spec()
}

// Configure decodes and validates the configuration; nothing is called yet,
// so `packer validate` reports every invalid option without credentials.
func (d *Datasource) Configure(raws ...interface{}) error {
	return d.config.Prepare(raws...)
}

// Execute resolves the family (or the pin) with one Compute Engine call.
func (d *Datasource) Execute() (cty.Value, error) {
	null := cty.NullVal(cty.EmptyObject)
	ctx := context.Background()
	newClient := d.newClient
	if newClient == nil {
		newClient = func(ctx context.Context, auth pluginconfig.Auth) (gce.Compute, error) {
			return gce.Dial(ctx, auth, gce.StdLog("imagefamily")...)
		}
	}
	c, err := newClient(ctx, d.config.Auth)
	if err != nil {
		return null, err
	}
	defer c.Close()

	img, err := resolve.Image(ctx, c, resolve.Request{Project: d.config.ProjectID, Family: d.config.Family, Zone: d.config.Zone, Image: d.config.Image})
	if err != nil {
		return null, err
	}
	if img.State() == lifecycle.StateDeprecated {
		log.Printf("[WARN] imagefamily: pinned image %s is DEPRECATED (replacement: %q)", img.Ref(), img.Deprecation.Replacement)
	}
	out, err := Output(img)
	if err != nil {
		return null, err
	}
	log.Printf("[INFO] imagefamily: %s/%s resolved to %s", d.config.ProjectID, d.config.Family, img.Ref())
	return hcl2helper.HCL2ValueFromConfig(out, d.OutputSpec()), nil
}
