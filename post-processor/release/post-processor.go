// Package release is post-processor "imagefamily-release": it decodes its
// configuration and the artifact it is given, and hands the release to
// internal/releaser. See docs/post-processors/imagefamily-release.mdx.
package release

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hashicorp/hcl/v2/hcldec"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
)

// BuilderID is the id of the artifacts this post-processor returns.
const BuilderID = "immutable-infra.imagefamily-release"

// PostProcessor is post-processor "imagefamily-release".
type PostProcessor struct {
	config Config
	// newClient builds the Compute Engine client; tests replace it.
	newClient func(ctx context.Context, auth pluginconfig.Auth) (gce.Compute, error)
}

var _ packersdk.PostProcessor = (*PostProcessor)(nil)

func (p *PostProcessor) ConfigSpec() hcldec.ObjectSpec { return p.config.FlatMapstructure().HCL2Spec() }

// Configure decodes and checks every option; nothing is called yet, so
// `packer validate` reports every bad value without credentials.
func (p *PostProcessor) Configure(raws ...interface{}) error {
	return p.config.prepare(raws...)
}

// PostProcess releases the artifact's image. It keeps the builder's artifact
// (keep and forceOverride true) whenever it returns one, and returns an error
// only while no family is known to hold the image.
//
// Packer (v1.14.3, packer/build.go) treats a post-processor's error by
// skipping the keep logic entirely: keep, forceOverride and the user's
// keep_input_artifact are not looked at, and unless another post-processor
// kept it, the builder's artifact is destroyed (googlecompute's Destroy
// deletes the image, imagefamily-promote's too). Keeping an image therefore
// means returning no error. An image in a family (googlecompute's
// image_family, or promote's family) may already be what the family resolves
// to, so a failure while it is there is reported as an error message and in
// the report, and the build is not failed (see internal/releaser); a failure
// while no family is known to hold it is returned, and its text says what
// Packer does next.
func (p *PostProcessor) PostProcess(ctx context.Context, ui packersdk.Ui, source packersdk.Artifact) (packersdk.Artifact, bool, bool, error) {
	const keep, forceOverride = true, true
	c := &p.config
	b, err := sourceOf(source)
	if err != nil {
		return nil, false, false, err
	}
	req, err := p.request(b)
	if err != nil {
		return p.unread(ui, b, err)
	}

	newClient := p.newClient
	if newClient == nil {
		newClient = func(ctx context.Context, auth pluginconfig.Auth) (gce.Compute, error) {
			return gce.Dial(ctx, auth, gce.StdLog("imagefamily-release")...)
		}
	}
	client, err := newClient(ctx, c.Auth)
	if err != nil {
		return p.unread(ui, b, fmt.Errorf("connecting to Compute Engine: %w", err))
	}
	defer client.Close()

	if b.Project != "" && b.Project != c.ProjectID {
		err := fmt.Errorf("the build created image %s in project %s, but project_id is %s: set project_id to the image project (googlecompute's image_project_id)", b.Image, b.Project, c.ProjectID)
		return p.elsewhere(ctx, ui, client, b, err)
	}

	out, err := releaser.Run(ctx, client, req, details{ui})
	p.report(ui, out)
	if err != nil {
		// No family is known to hold the image (err says what state it is
		// in): Packer deletes it.
		return nil, false, false, err
	}
	return &Artifact{out: out, zone: b.Zone}, keep, forceOverride, nil
}

// unread ends a release that failed before it read anything (err says
// why): the image is as the builder left it. A dry run keeps it (it never
// fails the build); otherwise err is returned, saying what Packer does next.
func (p *PostProcessor) unread(ui packersdk.Ui, b built, err error) (packersdk.Artifact, bool, bool, error) {
	if p.config.DryRun {
		return p.keepFailed(ui, b, "", err, fmt.Sprintf("DRY RUN: the release would fail: %v", err))
	}
	return nil, false, false, fmt.Errorf("%w (nothing was changed, and the image %s was not read: Packer now deletes it, as after any failed post-processor whatever keep_input_artifact says; if the builder put it in a family (googlecompute's image_family), that family falls back to its previous image)", err, b.Image)
}

// elsewhere ends a release refused because the image is in another project
// than project_id (err says so). The image is read there: in a family, it is
// kept (see PostProcess), as it is in a dry run, the refusal reported as an
// error message and in the report; otherwise err is returned, saying what
// Packer does next.
func (p *PostProcessor) elsewhere(ctx context.Context, ui packersdk.Ui, client gce.Compute, b built, err error) (packersdk.Artifact, bool, bool, error) {
	img, rerr := client.GetImage(ctx, b.Project, b.Image)
	switch {
	case p.config.DryRun:
		return p.keepFailed(ui, b, img.Family, err, fmt.Sprintf("DRY RUN: the release would fail: %v", err))
	case rerr != nil:
		return nil, false, false, fmt.Errorf("%w (nothing was changed; reading the image in project %s to see whether the builder put it in a family failed too (%v): Packer now deletes it, as after any failed post-processor whatever keep_input_artifact says, and a family holding it falls back to its previous image)", err, b.Project, rerr)
	case img.Family == "":
		return nil, false, false, fmt.Errorf("%w (nothing was changed; Packer deletes the unreleased image %s)", err, b.Image)
	}
	return p.keepFailed(ui, b, img.Family, err, fmt.Sprintf("the release failed and nothing was changed, but not failing the build: the image is in family %s of project %s, where the builder put it, and Packer deletes the image of a failed post-processor whatever keep_input_artifact says: %v",
		img.Family, b.Project, err))
}

// keepFailed returns the artifact of a release that failed (err) without
// failing the build, so that Packer keeps the image: msg, reported as an
// error message and kept in the report with err, says why. The image is in
// b.Project (project_id when the artifact does not say), in family.
func (p *PostProcessor) keepFailed(ui packersdk.Ui, b built, family string, err error, msg string) (packersdk.Artifact, bool, bool, error) {
	c := &p.config
	project := b.Project
	if project == "" {
		project = c.ProjectID
	}
	ui.Say(fmt.Sprintf("Releasing image %s into family %s of project %s", b.Image, c.Family, project))
	msg = "WARNING: " + msg
	ui.Error(msg)
	out := &releaser.Outcome{Project: project, Family: c.Family, Image: b.Image, BuiltImage: b.Image, BuiltFamily: family,
		SelfLink: lifecycle.ImageRef{Project: project, Name: b.Image}.SelfLink(), DryRun: c.DryRun,
		Warnings: []string{msg}, Error: err.Error()}
	p.report(ui, out)
	return &Artifact{out: out, zone: b.Zone}, true, true, nil
}

// report writes out to report_file, when one is set.
func (p *PostProcessor) report(ui packersdk.Ui, out *releaser.Outcome) {
	c := &p.config
	if c.ReportFile == "" {
		return
	}
	if err := out.WriteFile(c.ReportFile); err != nil {
		ui.Error(fmt.Sprintf("could not write the release report to report_file %s: %v", c.ReportFile, err))
		return
	}
	ui.Say(fmt.Sprintf("Wrote the release report, with every rotation action and why, to %s", c.ReportFile))
}

// request turns the configuration and the artifact into a release request.
func (p *PostProcessor) request(b built) (releaser.Request, error) {
	c := &p.config
	policy, errs := c.policy()
	if len(errs) > 0 {
		return releaser.Request{}, errors.Join(errs...)
	}
	rename := releaser.RenameNever
	if c.Rename == string(releaser.RenameCopy) {
		rename = releaser.RenameCopy
	}
	parent := c.Parent
	if parent == "" {
		parent = b.Parent
	}
	digest := ""
	if c.ContentManifest != "" {
		b, err := os.ReadFile(c.ContentManifest)
		switch {
		case err != nil:
			return releaser.Request{}, fmt.Errorf("content_manifest %q cannot be read: %v (the build must write it, e.g. with a file provisioner, direction = \"download\")", c.ContentManifest, unwrapPath(err))
		case len(b) == 0:
			// An empty manifest is a listing that failed: its digest would
			// call every later empty one unchanged.
			return releaser.Request{}, fmt.Errorf("content_manifest %q is empty: the build wrote no content list, so there is nothing to compare with the head's", c.ContentManifest)
		}
		digest = lifecycle.ContentDigest(b)
	}
	parallelism := 0 // apply's default
	if c.Rotation.Parallelism != nil {
		parallelism = *c.Rotation.Parallelism
	}
	return releaser.Request{
		Project: c.ProjectID, Family: c.Family, Image: b.Image, Parent: parent, ParentNote: b.ParentNote,
		Labels: c.Labels, Convention: c.convention(), Rename: rename, Description: c.Description,
		Policy: policy, InUseProjects: c.Rotation.InUseProjects, Parallelism: parallelism,
		DryRun: c.DryRun, FailOnRotationError: c.FailOnRotationError, ContentDigest: digest,
	}, nil
}

// details writes the release's details indented under its steps. The SDK
// (v0.6) deprecates ui.Message ("Use Say instead"), and Packer (v1.14.3,
// packer/ui.go) prints a post-processor's Message exactly as its Say,
// "==> build (type): ", so the step a detail belongs to would not show: a
// detail is said, indented.
type details struct{ packersdk.Ui }

func (d details) Message(s string) { d.Ui.Say("  " + s) }

// unwrapPath drops the path an *fs.PathError repeats: the message names the
// file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
