//go:generate go tool packer-sdc struct-markdown
//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Naming

package pluginconfig

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Naming is the naming block: the convention of data "imagefamily-name" (the
// same parts and template). The promote builder names its image by it; the
// release post-processor checks the name it is given against it.
type Naming struct {
	// The operating system part, e.g. `debian-12`.
	OS string `mapstructure:"os" required:"false"`
	// The software part, e.g. `nginx`.
	Software string `mapstructure:"software" required:"false"`
	// The version part, e.g. `1.26.0` (written `1-26-0` in names).
	Version string `mapstructure:"version" required:"false"`
	// The template, using `{os}`, `{software}`, `{version}` and
	// `{timestamp}` with literal `a-z`, `0-9` and `-`. Defaults to
	// `{os}-{software}-{version}-v{timestamp}`. Only the parts the template
	// uses are required.
	Template string `mapstructure:"template" required:"false"`
}

// Convention is the block as the domain takes it.
func (n Naming) Convention() lifecycle.Convention {
	return lifecycle.Convention{Template: n.Template, OS: n.OS, Software: n.Software, Version: n.Version}
}

// ProbeTime stands in for the build time when validating: a name's length,
// and so its shortening, does not depend on the time.
var ProbeTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// CheckConvention checks a naming convention the way data "imagefamily-name"
// does, for any component that takes one: the template on its own first (so
// that a bad template is reported once, whatever the parts), then that
// every part the template uses is set, then that the parts make a valid
// name at probe. The errors are *lifecycle.FieldError values naming os,
// software, version, template or timestamp; Errors spells them for a block.
// Parts and a template that are not known yet pass.
func CheckConvention(conv lifecycle.Convention, probe time.Time) error {
	if Unknown(conv.Template) {
		return nil
	}
	tpl := conv.TemplateOrDefault()
	if _, err := (lifecycle.Convention{Template: conv.Template, OS: "a", Software: "a", Version: "a"}).Name(probe); err != nil {
		return err
	}
	var errs []error
	for _, p := range []struct{ field, value string }{
		{lifecycle.FieldOS, conv.OS}, {lifecycle.FieldSoftware, conv.Software}, {lifecycle.FieldVersion, conv.Version},
	} {
		if p.value == "" && strings.Contains(tpl, "{"+p.field+"}") {
			errs = append(errs, &lifecycle.FieldError{Field: p.field, Layout: lifecycle.Subject,
				Rule: fmt.Sprintf("must be set: the template %q uses {%s}", tpl, p.field)})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if _, err := conv.Name(probe); err != nil {
		return err
	}
	return nil
}
