// Package release is post-processor "imagefamily-release": it decodes its
// configuration and the artifact it is given, and hands the release to
// internal/release. See docs/post-processors/imagefamily-release.mdx.
package release

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/release"
)

// BuilderID is the id of the artifacts this post-processor returns.
const BuilderID = "immutable-infra.imagefamily-release"

// PostProcessor is post-processor "imagefamily-release".
type PostProcessor struct {
	config Config
	// newClient builds the Compute Engine client; tests replace it.
	newClient func(ctx context.Context, auth gce.AuthConfig) (gce.Compute, error)
}

var _ packersdk.PostProcessor = (*PostProcessor)(nil)

func (p *PostProcessor) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Configure decodes and checks every option; nothing is called yet, so
// `packer validate` reports every bad value without credentials.
func (p *PostProcessor) Configure(raws ...interface{}) error {
	return p.config.prepare(raws...)
}

// PostProcess releases the artifact's image. It always keeps the builder's
// artifact (keep and forceOverride true), and returns an error only while
// the image is provably not released: on an error Packer skips the keep logic
// and deletes the builder's image, and a released image must never be
// deleted (see internal/release).
func (p *PostProcessor) PostProcess(ctx context.Context, ui packersdk.Ui, source packersdk.Artifact) (packersdk.Artifact, bool, bool, error) {
	const keep, forceOverride = true, true
	c := &p.config
	b, err := sourceOf(source)
	if err != nil {
		return nil, false, false, err
	}
	if b.Project != "" && b.Project != c.ProjectID {
		return nil, false, false, fmt.Errorf("the build created image %s in project %s, but project_id is %s: set project_id to the image project (googlecompute's image_project_id)", b.Image, b.Project, c.ProjectID)
	}
	req, err := p.request(b)
	if err != nil {
		return nil, false, false, err
	}
	if req.Parent == "" && b.ParentNote != "" {
		ui.Say(fmt.Sprintf("image %s: no parent recorded: %s; set parent to record it", b.Image, b.ParentNote))
	}

	newClient := p.newClient
	if newClient == nil {
		newClient = func(ctx context.Context, auth gce.AuthConfig) (gce.Compute, error) { return gce.New(ctx, auth) }
	}
	client, err := newClient(ctx, c.AuthConfig)
	if err != nil {
		return nil, false, false, fmt.Errorf("connecting to Compute Engine: %w", err)
	}
	defer client.Close()

	out, err := release.Run(ctx, client, req, ui)
	if c.ReportFile != "" {
		if werr := out.WriteFile(c.ReportFile); werr != nil {
			ui.Error(fmt.Sprintf("image %s: could not write report_file %s: %v", out.Image, c.ReportFile, werr))
		} else {
			ui.Say(fmt.Sprintf("image %s: wrote the release report to %s", out.Image, c.ReportFile))
		}
	}
	if err != nil {
		// Not released: Packer deletes the built image.
		return nil, false, false, err
	}
	return &Artifact{out: out, zone: b.Zone}, keep, forceOverride, nil
}

// request turns the configuration and the artifact into a release request.
func (p *PostProcessor) request(b built) (release.Request, error) {
	c := &p.config
	conv, err := c.convention()
	if err != nil {
		return release.Request{}, err
	}
	policy, errs := c.policy()
	if len(errs) > 0 {
		return release.Request{}, errors.Join(errs...)
	}
	rename := release.RenameNever
	if c.Rename == string(release.RenameCopy) {
		rename = release.RenameCopy
	}
	parent := c.Parent
	if parent == "" {
		parent = b.Parent
	}
	return release.Request{
		Project: c.ProjectID, Family: c.Family, Image: b.Image, Parent: parent,
		Labels: c.Labels, Convention: conv, Rename: rename, Description: c.Description,
		Policy: policy, InUseProjects: c.Rotation.InUseProjects, Parallelism: c.Rotation.Parallelism,
		DryRun: c.DryRun, FailOnRotationError: c.FailOnRotationError,
	}, nil
}
