//go:generate go tool packer-sdc struct-markdown
//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Config,DatasourceOutput

package family

import (
	"fmt"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// Config is the configuration of data "imagefamily".
type Config struct {
	pluginconfig.Auth `mapstructure:",squash"`

	// The project that owns the family, e.g. `acme-images`.
	ProjectID string `mapstructure:"project_id" required:"true"`
	// The image family to resolve, e.g. `base-debian-12`. The data source
	// returns what Compute Engine's `images.getFromFamily` returns: the newest
	// image of the family whose deprecation state is absent or ACTIVE.
	Family string `mapstructure:"family" required:"true"`
	// Resolve the family as rolled out in this zone (the zonal image family
	// view, `zones/ZONE/imageFamilyViews/FAMILY`), e.g. `us-central1-a`.
	// Without it the family is resolved globally.
	Zone string `mapstructure:"zone" required:"false"`
	// Pin an exact image of the family instead of following its head: a
	// name, `projects/P/global/images/NAME` or a self link. The image must
	// exist, belong to `family` and be neither OBSOLETE nor DELETED (a
	// DEPRECATED image is returned, with `deprecation_state` saying so).
	// Cannot be combined with `zone`.
	Image string `mapstructure:"image" required:"false"`
}

// DatasourceOutput is what data "imagefamily" returns.
type DatasourceOutput struct {
	// The image's name.
	Name string `mapstructure:"name"`
	// The image's numeric id, as a decimal string.
	ID string `mapstructure:"id"`
	// The image's self link, `https://www.googleapis.com/compute/v1/projects/P/global/images/NAME`.
	SelfLink string `mapstructure:"self_link"`
	// The project the image lives in.
	ProjectID string `mapstructure:"project_id"`
	// The image's family.
	Family string `mapstructure:"family"`
	// When the image was created, RFC 3339 in UTC with milliseconds.
	CreationTimestamp string `mapstructure:"creation_timestamp"`
	// The image's labels (an empty map when it has none).
	Labels map[string]string `mapstructure:"labels"`
	// ACTIVE, DEPRECATED, OBSOLETE or DELETED (ACTIVE when the image has no
	// deprecation status). A resolved family is always ACTIVE; a pinned
	// image may be DEPRECATED.
	DeprecationState string `mapstructure:"deprecation_state"`
	// X86_64 or ARM64; empty when the image does not say.
	Architecture string `mapstructure:"architecture"`
	// The image's disk size in GB.
	DiskSizeGB int64 `mapstructure:"disk_size_gb"`
	// The lineage labels an image built on this one should carry
	// (`imagefamily-parent-image`, `imagefamily-parent-family`,
	// `imagefamily-parent-project`): pass them as googlecompute's
	// `image_labels`, or merge them with your own using `merge()`.
	LineageLabels map[string]string `mapstructure:"lineage_labels"`
}

// Prepare decodes raws into c and reports every invalid option.
func (c *Config) Prepare(raws ...interface{}) error {
	if err := pluginconfig.Decode(c, nil, raws...); err != nil {
		return err
	}
	var errs *packersdk.MultiError
	add := func(err error) { errs = packersdk.MultiErrorAppend(errs, err) }

	c.Auth.PrepareLogged(add)
	if err := pluginconfig.CheckRequired("project_id", c.ProjectID, "the project that owns the family, e.g. acme-images", pluginconfig.CheckProjectID); err != nil {
		add(err)
	}
	if err := pluginconfig.CheckRequired("family", c.Family, "the image family to resolve, e.g. base-debian-12", pluginconfig.CheckName); err != nil {
		add(err)
	}
	if err := pluginconfig.CheckZone("zone", c.Zone); err != nil {
		add(err)
	}
	if c.Image != "" && !pluginconfig.Unknown(c.Image) {
		if err := c.validateImage(); err != nil {
			add(err)
		}
	}
	if c.Image != "" && c.Zone != "" {
		add(fmt.Errorf("image and zone cannot both be set: a pinned image is the same in every zone; set zone only to follow the family's zonal view"))
	}
	if errs != nil && len(errs.Errors) > 0 {
		return errs
	}
	return nil
}

// validateImage checks the pin's spelling; that it exists and belongs to the
// family is checked when the data source runs.
func (c *Config) validateImage() error {
	ref, err := lifecycle.ParseImageRef(c.Image)
	if err != nil {
		return fmt.Errorf("image %q is not an image reference: %v (write a name, projects/P/global/images/NAME or a self link)", c.Image, err)
	}
	if ref.Family {
		return fmt.Errorf("image %q names a family, not an image: set family to follow a family, and image only to pin one of its images", c.Image)
	}
	if ref.Project != "" && c.ProjectID != "" && !pluginconfig.Unknown(c.ProjectID) && ref.Project != c.ProjectID {
		return fmt.Errorf("image %q is in project %q but project_id is %q: a pinned image must be in the family's project", c.Image, ref.Project, c.ProjectID)
	}
	return nil
}
