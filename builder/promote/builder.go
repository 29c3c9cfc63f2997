// Package promote is source "imagefamily-promote": a builder that makes an
// image from another image (typically into another project: dev to prod)
// with one images.insert, no VM and no disk, and records where it came from.
package promote

import (
	"context"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// BuilderID identifies the promote builder's artifacts.
const BuilderID = pluginconfig.PromoteBuilderID

// Builder is source "imagefamily-promote".
type Builder struct {
	config Config
	// newClient and now are replaced by tests.
	newClient func(ctx context.Context, auth pluginconfig.Auth) (gce.Compute, error)
	now       func() time.Time
}

func (b *Builder) ConfigSpec() hcldec.ObjectSpec { return b.config.FlatMapstructure().HCL2Spec() }

// Prepare validates the configuration. The generated data names the source
// as googlecompute's does (build.SourceImageName), plus its project and
// self link.
func (b *Builder) Prepare(raws ...interface{}) ([]string, []string, error) {
	warnings, err := b.config.Prepare(raws...)
	if err != nil {
		return nil, warnings, err
	}
	return []string{"SourceImageName", "SourceImageProjectId", "SourceImageSelfLink"}, warnings, nil
}

// Run promotes the image. Provisioners do not run: there is no machine.
func (b *Builder) Run(ctx context.Context, ui packersdk.Ui, _ packersdk.Hook) (packersdk.Artifact, error) {
	newClient := b.newClient
	if newClient == nil {
		newClient = func(ctx context.Context, auth pluginconfig.Auth) (gce.Compute, error) {
			return gce.Dial(ctx, auth, gce.StdLog("imagefamily-promote")...)
		}
	}
	now := time.Now
	if b.now != nil {
		now = b.now
	}
	client, err := newClient(ctx, b.config.Auth)
	if err != nil {
		return nil, err
	}
	p := &promotion{cfg: &b.config, client: client, ui: ui, now: now().UTC()}
	img, src, err := p.run(ctx)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	// The client stays open: the artifact's Destroy uses it when a later
	// step of the build fails or no post-processor keeps the image.
	return &Artifact{image: img, source: src, project: b.config.ProjectID, client: client}, nil
}
