package pluginconfig

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/packer-plugin-sdk/template/config"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// flatConfig is what packer-sdc generates for a configuration struct: its
// flat form, which an HCL2 value is decoded into.
type flatConfig interface {
	FlatMapstructure() interface{ HCL2Spec() map[string]hcldec.Spec }
}

// Decode is config.Decode with the errors of a value HCL's type check lets
// through spelled as the template names the option. Packer checks an HCL2
// configuration against the generated spec (a number, a string...), and
// config.Decode then converts it into the Go fields: a number that is not
// whole, or too large, for an int field fails there, and the SDK reports it
// as `value must be a whole number, between -9223372036854775808 and
// 9223372036854775807: [{{} rotation} {{} keep_active}]`. Decode makes the
// same conversion first and reports such a failure as a *lifecycle.FieldError
// naming the option (`rotation.keep_active: 2.5 is not a whole number`).
// target must be a pointer to a configuration with generated
// FlatMapstructure, as config.Decode needs.
func Decode(target interface{}, opts *config.DecodeOpts, raws ...interface{}) error {
	for _, raw := range raws {
		v, ok := raw.(cty.Value)
		if !ok {
			continue
		}
		flat, ok := target.(flatConfig)
		if !ok {
			break // config.Decode says why
		}
		if err := gocty.FromCtyValue(v, flat.FlatMapstructure()); err != nil {
			var pe cty.PathError
			if errors.As(err, &pe) {
				return pathError(v, pe)
			}
			return err
		}
	}
	return config.Decode(target, opts, raws...)
}

// gocty's messages for numbers an int field cannot hold.
var (
	wholeRange = regexp.MustCompile(`^value must be a whole number, between (-?[0-9]+) and (-?[0-9]+)`)
	wholeOnly  = regexp.MustCompile(`^value must be a whole number`)
)

// pathError spells a conversion failure at a path of v: the option, the
// value found there and the rule it breaks.
func pathError(v cty.Value, pe cty.PathError) error {
	fe := &lifecycle.FieldError{Field: FieldPath(pe.Path), Layout: lifecycle.Labelled, Rule: pe.Error()}
	at, err := pe.Path.Apply(v)
	if err != nil || !at.IsKnown() || at.IsNull() {
		return fe
	}
	switch at.Type() {
	case cty.Number:
		fe.Value = at.AsBigFloat().Text('f', -1)
		whole := at.AsBigFloat().IsInt()
		switch m := wholeRange.FindStringSubmatch(pe.Error()); {
		case !whole && wholeOnly.MatchString(pe.Error()):
			fe.Rule = "is not a whole number"
		case m != nil:
			fe.Rule = fmt.Sprintf("is out of range: use a whole number from %s to %s", m[1], m[2])
		}
	case cty.String:
		fe.Value = strconv.Quote(at.AsString())
	case cty.Bool:
		fe.Value = strconv.FormatBool(at.True())
	}
	return fe
}

// FieldPath writes a cty path as a template names the option it leads to:
// rotation.keep_active, rotation.in_use_projects[1], labels["team"].
func FieldPath(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.Name)
		case cty.IndexStep:
			switch {
			case !s.Key.IsKnown() || s.Key.IsNull():
				b.WriteString("[?]")
			case s.Key.Type() == cty.Number:
				b.WriteString("[" + s.Key.AsBigFloat().Text('f', -1) + "]")
			case s.Key.Type() == cty.String:
				b.WriteString("[" + strconv.Quote(s.Key.AsString()) + "]")
			default:
				b.WriteString("[?]")
			}
		}
	}
	return b.String()
}
