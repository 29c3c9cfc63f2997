//go:generate go tool packer-sdc struct-markdown
//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config

package promote

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/hashicorp/packer-plugin-sdk/common"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/hashicorp/packer-plugin-sdk/template/interpolate"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// Config is the configuration of source "imagefamily-promote".
type Config struct {
	common.PackerConfig `mapstructure:",squash"`
	pluginconfig.Auth   `mapstructure:",squash"`

	// The image to promote: a name, `projects/P/global/images/NAME` or a
	// self link (e.g. `data.imagefamily.dev.self_link`). A name without a
	// project needs `source_project_id`. Exactly one of `source_image` and
	// `source_family` must be set.
	SourceImage string `mapstructure:"source_image" required:"false"`
	// Promote the image this family points to now (what
	// `images.getFromFamily` returns, as data "imagefamily" resolves it).
	// Needs `source_project_id`.
	SourceFamily string `mapstructure:"source_family" required:"false"`
	// The project of `source_family`, or of a `source_image` given as a bare
	// name. It is never taken from `project_id`: a forgotten source project
	// would otherwise silently promote the destination's own image.
	SourceProjectID string `mapstructure:"source_project_id" required:"false"`
	// The destination project, where the new image is created.
	ProjectID string `mapstructure:"project_id" required:"true"`
	// The new image's name. Exactly one of `image_name` and `naming` must
	// be set; a name from data "imagefamily-name" is a good choice.
	ImageName string `mapstructure:"image_name" required:"false"`
	// Name the new image by the naming convention at the time the build
	// runs, as data "imagefamily-name" would (`os`, `software`, `version`,
	// `template`). The parts are also written as the
	// `imagefamily-os`/`-software`/`-version` labels.
	Naming *pluginconfig.Naming `mapstructure:"naming" required:"false"`
	// The new image's description. Defaults to
	// `Promoted from projects/P/global/images/NAME`.
	Description string `mapstructure:"description" required:"false"`
	// Labels for the new image, on top of the lineage labels the builder
	// writes itself; keys starting with `imagefamily-` that imagefamily owns
	// are refused.
	Labels map[string]string `mapstructure:"labels" required:"false"`
	// Put the new image in this family at once. Usually left unset, so that
	// the imagefamily-release post-processor moves the family pointer only
	// after its checks pass.
	Family string `mapstructure:"family" required:"false"`
	// Where the image is stored: a multi-region (`us`, `eu`, `asia`) or a
	// region. Compute Engine picks the location nearest the source when
	// unset.
	StorageLocations []string `mapstructure:"storage_locations" required:"false"`
	// X86_64 or ARM64. Defaults to the source image's architecture.
	Architecture string `mapstructure:"architecture" required:"false"`
	// Guest OS features, e.g. `["UEFI_COMPATIBLE", "GVNIC"]`. Compute
	// Engine copies the source image's features when unset.
	GuestOSFeatures []string `mapstructure:"guest_os_features" required:"false"`
	// License URLs or `projects/P/global/licenses/NAME`. Compute Engine
	// copies the source image's licenses when unset.
	Licenses []string `mapstructure:"licenses" required:"false"`

	ctx interpolate.Context
}

var (
	storageLocationRE = regexp.MustCompile(`^[a-z][-a-z0-9]*[a-z0-9]$`)
	licenseRE         = regexp.MustCompile(`^(https?://[^/]+/compute/v1/)?projects/[^/]+/global/licenses/[^/]+$`)
)

// guestOSFeatures are the feature types the Compute Engine client knows.
func guestOSFeatures() []string {
	var out []string
	for k := range computepb.GuestOsFeature_Type_value {
		if k != computepb.GuestOsFeature_UNDEFINED_TYPE.String() {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Prepare decodes raws into c and reports every invalid option, so that
// `packer validate` catches them without any API call.
func (c *Config) Prepare(raws ...interface{}) ([]string, error) {
	err := pluginconfig.Decode(c, &config.DecodeOpts{
		PluginType:         BuilderID,
		Interpolate:        true,
		InterpolateContext: &c.ctx,
	}, raws...)
	if err != nil {
		return nil, err
	}
	var errs *packersdk.MultiError
	add := func(err error) { errs = packersdk.MultiErrorAppend(errs, err) }

	for _, err := range c.Auth.Prepare() {
		add(err)
	}
	if c.ProjectID == "" {
		add(errors.New("project_id must be set: the destination project, where the promoted image is created"))
	} else if err := pluginconfig.CheckProjectID("project_id", c.ProjectID); err != nil {
		add(err)
	}
	for _, err := range c.prepareSource() {
		add(err)
	}
	for _, err := range c.prepareName() {
		add(err)
	}
	if err := pluginconfig.CheckName("family", c.Family); c.Family != "" && err != nil {
		add(err)
	}
	for _, err := range checkUserLabels(c.Labels) {
		add(err)
	}
	for i, loc := range c.StorageLocations {
		if !pluginconfig.Unknown(loc) && !storageLocationRE.MatchString(loc) {
			add(fmt.Errorf("storage_locations[%d] %q is not a storage location: a multi-region (us, eu, asia) or a region (us-central1), in lower case", i, loc))
		}
	}
	if c.Architecture != "" && !pluginconfig.Unknown(c.Architecture) {
		c.Architecture = strings.ToUpper(c.Architecture)
		if c.Architecture != "X86_64" && c.Architecture != "ARM64" {
			add(fmt.Errorf("architecture %q is not an architecture Compute Engine knows: X86_64 or ARM64 (or leave it out to keep the source image's)", c.Architecture))
		}
	}
	known := guestOSFeatures()
	for i, f := range c.GuestOSFeatures {
		if pluginconfig.Unknown(f) {
			continue
		}
		c.GuestOSFeatures[i] = strings.ToUpper(f)
		if !slices.Contains(known, c.GuestOSFeatures[i]) {
			add(fmt.Errorf("guest_os_features[%d] %q is not a guest OS feature: one of %s", i, f, strings.Join(known, ", ")))
		}
	}
	for i, l := range c.Licenses {
		if !pluginconfig.Unknown(l) && !licenseRE.MatchString(l) {
			add(fmt.Errorf("licenses[%d] %q is not a license: write projects/P/global/licenses/NAME or its https://www.googleapis.com/compute/v1/... URL", i, l))
		}
	}
	if errs != nil && len(errs.Errors) > 0 {
		return nil, errs
	}
	return c.Auth.Warnings(), nil
}

// prepareSource checks that the source is named exactly once and that its
// project is known without guessing.
func (c *Config) prepareSource() []error {
	var errs []error
	if c.SourceProjectID != "" {
		if err := pluginconfig.CheckProjectID("source_project_id", c.SourceProjectID); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case c.SourceImage == "" && c.SourceFamily == "":
		errs = append(errs, errors.New("one of source_image and source_family must be set: the image to promote, or the family whose current image is promoted"))
	case c.SourceImage != "" && c.SourceFamily != "":
		errs = append(errs, fmt.Errorf("source_image and source_family are both set: choose one (source_image pins an image, source_family promotes what the family points to now)"))
	case c.SourceFamily != "":
		if err := pluginconfig.CheckName("source_family", c.SourceFamily); err != nil {
			errs = append(errs, err)
		}
		if c.SourceProjectID == "" {
			errs = append(errs, fmt.Errorf("source_project_id must be set with source_family: the project that owns the family %q", c.SourceFamily))
		}
	case pluginconfig.Unknown(c.SourceImage):
	default:
		ref, err := lifecycle.ParseImageRef(c.SourceImage)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("source_image %q is not an image reference: %v (write a name, projects/P/global/images/NAME or a self link)", c.SourceImage, err))
		case ref.Family:
			errs = append(errs, fmt.Errorf("source_image %q follows a family: set source_family = %q and source_project_id instead", c.SourceImage, ref.Name))
		case ref.Project == "" && c.SourceProjectID == "":
			errs = append(errs, fmt.Errorf("source_project_id must be set: source_image %q names no project (or write it as projects/P/global/images/NAME or a self link)", c.SourceImage))
		case ref.Project != "" && c.SourceProjectID != "" && !pluginconfig.Unknown(c.SourceProjectID) && ref.Project != c.SourceProjectID:
			errs = append(errs, fmt.Errorf("source_image %q is in project %q but source_project_id is %q", c.SourceImage, ref.Project, c.SourceProjectID))
		}
	}
	return errs
}

func (c *Config) prepareName() []error {
	switch {
	case c.ImageName == "" && c.Naming == nil:
		return []error{errors.New("one of image_name and naming must be set: the promoted image's name (e.g. image_name = data.imagefamily-name.app.name)")}
	case c.ImageName != "" && c.Naming != nil:
		return []error{errors.New("image_name and naming are both set: choose one")}
	case c.ImageName != "":
		if err := pluginconfig.CheckName("image_name", c.ImageName); err != nil {
			return []error{err}
		}
		return nil
	}
	return pluginconfig.Errors("naming.", pluginconfig.CheckConvention(c.Naming.Convention(), pluginconfig.ProbeTime))
}

// checkUserLabels refuses labels Compute Engine would refuse and keys the
// builder writes itself. Values not known yet are judged by their key only.
func checkUserLabels(labels map[string]string) []error {
	probe := maps.Clone(labels)
	for k, v := range probe {
		if pluginconfig.Unknown(v) {
			probe[k] = ""
		}
	}
	_, err := lifecycle.MergeLabels(nil, nil, probe)
	return lifecycle.Spell(err, lifecycle.AsIs)
}

// sourceRef is the source image's reference with its project filled in.
func (c *Config) sourceRef() lifecycle.ImageRef {
	ref, _ := lifecycle.ParseImageRef(c.SourceImage)
	return ref.WithDefaultProject(c.SourceProjectID)
}
