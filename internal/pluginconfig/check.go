package pluginconfig

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

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

// The checks below are the rules of the values every component and the CLI
// take. Each names the option as its caller spells it (field), and the
// error is a *lifecycle.FieldError. The Check forms let a value that is not
// known yet pass (Unknown); the CLI, which has no such values, uses the
// Validate forms.

// ValidateProjectID checks a project ID against Google Cloud's rule.
func ValidateProjectID(field, v string) error {
	if projectIDRE.MatchString(v) {
		return nil
	}
	return &lifecycle.FieldError{Field: field, Value: strconv.Quote(v),
		Rule: `is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`}
}

// CheckProjectID is ValidateProjectID for a value that may not be known yet.
func CheckProjectID(field, v string) error {
	if Unknown(v) {
		return nil
	}
	return ValidateProjectID(field, v)
}

// CheckName checks a set image or family name option against Compute
// Engine's rule (lifecycle.ValidateName), in the option's words.
func CheckName(field, v string) error {
	if Unknown(v) || lifecycle.ValidateName(v) == nil {
		return nil
	}
	if len(v) > lifecycle.MaxNameLength {
		return &lifecycle.FieldError{Field: field, Value: strconv.Quote(v),
			Rule: fmt.Sprintf("is %d characters long: Compute Engine names have at most %d", len(v), lifecycle.MaxNameLength)}
	}
	return &lifecycle.FieldError{Field: field, Value: strconv.Quote(v),
		Rule: `is not a valid Compute Engine name: a lower-case letter, then lower-case letters, digits and "-", not ending with "-" (e.g. base-debian-12)`}
}

// CheckZone checks a zone option; empty is allowed.
func CheckZone(field, v string) error {
	if v == "" || Unknown(v) || zoneRE.MatchString(v) {
		return nil
	}
	return &lifecycle.FieldError{Field: field, Value: strconv.Quote(v), Rule: "is not a Compute Engine zone: write REGION-LETTER, e.g. us-central1-a"}
}

// CheckFilePath checks an option naming a file the plugin reads or writes
// (report_file, content_manifest), relative to the directory Packer runs in;
// empty is allowed. The file need not exist yet (a build may write it), but
// the path must be able to name one: no white space at either end, no NUL,
// not ending in "/", and not a directory that exists.
func CheckFilePath(field, v string) error {
	rule := ""
	switch {
	case v == "" || Unknown(v):
		return nil
	case strings.TrimSpace(v) != v:
		rule = "starts or ends with white space: write the path alone"
	case strings.ContainsRune(v, 0):
		rule = "holds a NUL character, which no file name can"
	case strings.HasSuffix(v, "/") || strings.HasSuffix(v, string(os.PathSeparator)):
		rule = `ends with "/": name a file, not a directory`
	default:
		if fi, err := os.Stat(v); err == nil && fi.IsDir() {
			rule = "is a directory: name a file"
		}
	}
	if rule == "" {
		return nil
	}
	return &lifecycle.FieldError{Field: field, Value: strconv.Quote(v), Rule: rule}
}

// Errors lists the errors err holds with every option named as a template
// names it inside a block: prefix "rotation." for the rotation block,
// "naming." for a naming block, "" at the top level.
func Errors(prefix string, err error) []error {
	return lifecycle.Spell(err, func(field string) string { return prefix + field })
}
