package family

import (
	"fmt"
	"regexp"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// These checks are shared with the other components (the promote builder,
// the release post-processor, data "imagefamily-name"), which take the same
// kinds of values. Each error names the option, the value and the rule.

// Unknown reports whether v is the placeholder Packer passes for a value that
// is not known yet (another data source's output during `packer validate`,
// which does not run data sources): such a value must pass validation.
func Unknown(v string) bool { return v == "<unknown>" }

var (
	// projectIDRE is Google Cloud's project ID rule, with the legacy
	// domain-scoped form (example.com:my-project).
	projectIDRE = regexp.MustCompile(`^([a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	zoneRE      = regexp.MustCompile(`^[a-z]+(-[a-z]+)*[0-9]+-[a-z]$`)
)

// CheckProjectID checks a set project ID option.
func CheckProjectID(option, v string) error {
	if Unknown(v) || projectIDRE.MatchString(v) {
		return nil
	}
	return fmt.Errorf("%s %q is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and \"-\", starting with a letter and not ending with \"-\" (e.g. acme-images)", option, v)
}

// CheckName checks a set image or family name option against Compute
// Engine's rule (lifecycle.ValidateName), in the option's words.
func CheckName(option, v string) error {
	if Unknown(v) || lifecycle.ValidateName(v) == nil {
		return nil
	}
	if len(v) > lifecycle.MaxNameLength {
		return fmt.Errorf("%s %q is %d characters long: Compute Engine names have at most %d", option, v, len(v), lifecycle.MaxNameLength)
	}
	return fmt.Errorf("%s %q is not a valid Compute Engine name: a lower-case letter, then lower-case letters, digits and \"-\", not ending with \"-\" (e.g. base-debian-12)", option, v)
}

// CheckZone checks a zone option; empty is allowed.
func CheckZone(option, v string) error {
	if v == "" || Unknown(v) || zoneRE.MatchString(v) {
		return nil
	}
	return fmt.Errorf("%s %q is not a Compute Engine zone: write REGION-LETTER, e.g. us-central1-a", option, v)
}
