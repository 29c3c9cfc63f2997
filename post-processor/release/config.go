//go:generate go tool packer-sdc struct-markdown
//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config,Rotation

package release

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
)

// Config is the configuration of post-processor "imagefamily-release".
type Config struct {
	common.PackerConfig `mapstructure:",squash"`
	pluginconfig.Auth   `mapstructure:",squash"`

	// The image project: where the built image is (googlecompute's
	// `image_project_id`, which defaults to its `project_id`) and where the
	// family lives, e.g. `acme-images`.
	ProjectID string `mapstructure:"project_id" required:"true"`
	// The image family to release into, e.g. `app-nginx`.
	Family string `mapstructure:"family" required:"true"`
	// The image the build started from, as a self link, a
	// `projects/P/global/images/NAME` path or a name (a bare name means
	// `project_id`); pass `data.imagefamily.X.self_link`. It is recorded in
	// the lineage labels `imagefamily-parent-image`, `-family` and
	// `-project`. Defaults to the image the googlecompute builder started
	// from (its generated `SourceImageName`) when the builder names exactly
	// one `source_image_project_id`; otherwise no parent is recorded.
	Parent string `mapstructure:"parent" required:"false"`
	// Labels to write on the image, over existing values of the same keys.
	// The lineage keys the release writes itself (`imagefamily-parent-image`,
	// `imagefamily-released-at`, ...) are refused; `imagefamily-protect`,
	// the default `rotation.protect_label`, is a user label.
	Labels map[string]string `mapstructure:"labels" required:"false"`
	// The naming convention the image name must follow (the same parts as
	// data "imagefamily-name"). Without it the name is not checked.
	Naming pluginconfig.Naming `mapstructure:"naming" required:"false"`
	// What to do with a name that breaks the convention: `"never"` (the
	// default) fails the release with a message saying what the convention
	// wanted; `"copy"` creates the image again under the conventional name
	// (its timestamp from the built image's creation time), releases the
	// copy and deletes the built image.
	Rename string `mapstructure:"rename" required:"false"`
	// The description of the copy made by `rename = "copy"`. An image built
	// under its conventional name keeps the description the builder gave it
	// (googlecompute's `image_description`).
	Description string `mapstructure:"description" required:"false"`
	// How the family's older images are rotated after the release. The
	// names and defaults are those of `imagefamily rotate`.
	Rotation Rotation `mapstructure:"rotation" required:"false"`
	// Read, check and plan, print what the release and the rotation would
	// do, and change nothing: no copy, no labels, no family move, no
	// rotation. A dry run never fails the build (a failed post-processor
	// makes Packer delete the image): a release that would fail is printed
	// as an error and recorded in the report.
	DryRun bool `mapstructure:"dry_run" required:"false"`
	// Write the release report, JSON, to this file (its directory is
	// created): the image, the previous and new head, the labels, the
	// rotation plan and the outcome of each rotation action.
	ReportFile string `mapstructure:"report_file" required:"false"`
	// A file the build wrote that says what the image holds, e.g. the
	// installed package list a `file` provisioner downloaded
	// (`dpkg-query -W > packages.txt` on the machine). Its digest
	// (`sha256-` and the first 56 hex digits of its SHA-256) is written as
	// the label `imagefamily-content-digest`. When the family's head
	// carries the same digest, parent and naming parts, the build changed
	// nothing: the release does
	// not move the family nor rotate, deletes the built image (identical,
	// and in no family) and says `unchanged: same content as HEAD`; the
	// build succeeds. A path relative to the directory Packer runs in; the
	// file is read when the release runs, and a file that cannot be read
	// then fails it.
	ContentManifest string `mapstructure:"content_manifest" required:"false"`
	// Fail the build on rotation problems that can be known before the
	// family moves: the family or what uses its images (instance templates,
	// instances, in `in_use_projects` too) cannot be read. They are read
	// before the release then, and a failure leaves the family alone.
	// Rotation actions that fail after the release are always reported as
	// errors without failing the build, because Packer deletes the image of
	// a failed post-processor and a released image is never deleted.
	// Defaults to `false`: every rotation problem is a warning.
	FailOnRotationError bool `mapstructure:"fail_on_rotation_error" required:"false"`

	ctx interpolate.Context
}

// Rotation is the rotation policy.
type Rotation struct {
	// How many of the newest ACTIVE images stay ACTIVE, the head being the
	// first: 2 keeps the head and one warm rollback target. Defaults to 2.
	KeepActive *int `mapstructure:"keep_active" required:"false"`
	// Images younger than this are never touched. Defaults to `1h`.
	// Durations are Go durations (`90m`, `1h30m`) or days (`7d`, `1d12h`).
	MinAge string `mapstructure:"min_age" required:"false"`
	// Time from deprecation to OBSOLETE. Defaults to `7d`.
	ObsoleteAfter string `mapstructure:"obsolete_after" required:"false"`
	// Time from OBSOLETE to DELETED (the state; the image still exists).
	// Defaults to `30d`.
	DeleteAfter string `mapstructure:"delete_after" required:"false"`
	// Time from DELETED to the image's actual deletion. Defaults to `7d`.
	PurgeAfter string `mapstructure:"purge_after" required:"false"`
	// An orphan of an interrupted release into the family (an image in no
	// family labelled `imagefamily-releasing-into` with the family) is
	// deleted once older than this, unless protected or in use. Defaults
	// to `min_age`.
	OrphanGrace string `mapstructure:"orphan_grace" required:"false"`
	// An image carrying this label with any value but `false` is never
	// touched. Defaults to `imagefamily-protect`; `""` turns protection
	// off.
	ProtectLabel *string `mapstructure:"protect_label" required:"false"`
	// Leave alone images used by instance templates (global and regional)
	// and by instances' boot disks, in `project_id` and `in_use_projects`.
	// Defaults to `true`.
	CheckInUse config.Trilean `mapstructure:"check_in_use" required:"false"`
	// More projects to look for uses of the family's images in, e.g. the
	// projects that run instances from them.
	InUseProjects []string `mapstructure:"in_use_projects" required:"false"`
	// How many of the rotation's image requests are in flight at once
	// (lowered while Compute Engine answers with quota errors); their
	// operations are waited for outside this bound. 1 or more, as
	// `imagefamily rotate --parallelism`; defaults to 4.
	Parallelism *int `mapstructure:"parallelism" required:"false"`
}

// prepare decodes raws and checks every option, collecting every problem.
func (c *Config) prepare(raws ...interface{}) error {
	err := pluginconfig.Decode(c, &config.DecodeOpts{
		PluginType:         BuilderID,
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return err
	}
	var errs *packersdk.MultiError
	add := func(err error) { errs = packersdk.MultiErrorAppend(errs, err) }

	c.Auth.PrepareLogged(add)
	if err := pluginconfig.CheckRequired("project_id", c.ProjectID, "the image project, where the built image is and the family lives (e.g. acme-images)", pluginconfig.CheckProjectID); err != nil {
		add(err)
	}
	if err := pluginconfig.CheckRequired("family", c.Family, "the image family to release into (e.g. app-nginx)", pluginconfig.CheckName); err != nil {
		add(err)
	}
	if c.Parent != "" && !pluginconfig.Unknown(c.Parent) {
		if ref, err := lifecycle.ParseImageRef(c.Parent); err != nil {
			add(fmt.Errorf("parent %q is not an image reference: %v (write a self link, projects/P/global/images/NAME or a name)", c.Parent, err))
		} else if ref.Family {
			add(fmt.Errorf("parent %q names a family, not an image: give the image the build started from (data.imagefamily.X.self_link)", c.Parent))
		}
	}
	for _, err := range c.checkLabels() {
		add(err)
	}
	if conv := c.convention(); conv != nil {
		for _, err := range pluginconfig.Errors("naming.", pluginconfig.CheckConvention(*conv, pluginconfig.ProbeTime)) {
			add(err)
		}
	}
	switch c.Rename {
	case "", string(releaser.RenameNever):
	case string(releaser.RenameCopy):
		if c.Naming == (pluginconfig.Naming{}) {
			add(errors.New(`rename = "copy" needs a naming block: the copy is named by the convention`))
		}
	default:
		add(fmt.Errorf(`rename %q is not allowed: use "never" (the default: a name that breaks the convention fails the release) or "copy" (release a copy under the conventional name)`, c.Rename))
	}
	if c.Description != "" && c.Rename != string(releaser.RenameCopy) {
		add(errors.New(`description is the description of the copy made by rename = "copy"; for an image released under the name it was built with, set the builder's image_description`))
	}
	if _, perrs := c.policy(); len(perrs) > 0 {
		for _, err := range perrs {
			add(err)
		}
	}
	for i, p := range c.Rotation.InUseProjects {
		if err := pluginconfig.CheckProjectID(fmt.Sprintf("rotation.in_use_projects[%d]", i), p); err != nil {
			add(err)
		}
	}
	if p := c.Rotation.Parallelism; p != nil {
		for _, err := range pluginconfig.Errors("rotation.", lifecycle.ValidateParallelism(*p)) {
			add(err)
		}
	}
	for _, f := range []struct{ field, path string }{{"report_file", c.ReportFile}, {"content_manifest", c.ContentManifest}} {
		if err := pluginconfig.CheckFilePath(f.field, f.path); err != nil {
			add(err)
		}
	}
	if c.ContentManifest != "" && c.ContentManifest == c.ReportFile && !pluginconfig.Unknown(c.ContentManifest) {
		add(fmt.Errorf("content_manifest %q is report_file too: the release would read its own report as the build's content; name the file the build wrote", c.ContentManifest))
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

func (c *Config) checkLabels() []error {
	var errs []error
	known := map[string]string{}
	for k, v := range c.Labels {
		if lifecycle.IsLineageKey(k) {
			errs = append(errs, fmt.Errorf("labels: %q is a lineage label the release writes itself; choose another key (owned keys: %s)", k, strings.Join(lifecycle.LineageKeys(), ", ")))
			continue
		}
		if pluginconfig.Unknown(k) {
			continue
		}
		if pluginconfig.Unknown(v) {
			v = ""
		}
		known[k] = v
	}
	if err := lifecycle.ValidateLabels(known); err != nil {
		errs = append(errs, err) // it names "labels" itself
	}
	return errs
}

// convention is the naming block as a lifecycle.Convention; nil when the
// block is absent. prepare checks it as data "imagefamily-name" does.
func (c *Config) convention() *lifecycle.Convention {
	if c.Naming == (pluginconfig.Naming{}) {
		return nil
	}
	conv := c.Naming.Convention()
	return &conv
}

// policy is the rotation block over lifecycle.DefaultPolicy, with every
// problem found, each naming its option as the block does
// (rotation.keep_active).
func (c *Config) policy() (lifecycle.Policy, []error) {
	r := c.Rotation
	opts := lifecycle.PolicyOptions{KeepActive: r.KeepActive, ProtectLabel: r.ProtectLabel}
	for _, d := range []struct {
		value string
		dst   **string
	}{
		{r.MinAge, &opts.MinAge}, {r.ObsoleteAfter, &opts.ObsoleteAfter},
		{r.DeleteAfter, &opts.DeleteAfter}, {r.PurgeAfter, &opts.PurgeAfter}, {r.OrphanGrace, &opts.OrphanGrace},
	} {
		if d.value != "" {
			*d.dst = &d.value
		}
	}
	if r.CheckInUse != config.TriUnset {
		on := r.CheckInUse.True()
		opts.CheckInUse = &on
	}
	p, err := opts.Policy()
	return p, pluginconfig.Errors("rotation.", err)
}
