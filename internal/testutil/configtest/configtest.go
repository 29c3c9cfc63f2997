// Package configtest holds what the components' configuration tests share:
// a Prepare/Configure error as its list of messages, a valid raw
// configuration with a few options changed, and the table of bad
// configurations each with the messages it must give.
package configtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	"github.com/zclconf/go-cty/cty"
)

// Errors returns the messages of a Prepare or Configure error, one per
// problem: the entries of a *packersdk.MultiError, or the error itself. A
// nil error has none.
func Errors(err error) []string {
	if err == nil {
		return nil
	}
	var me *packersdk.MultiError
	if !errors.As(err, &me) {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range me.Errors {
		out = append(out, e.Error())
	}
	return out
}

// With returns a copy of base with kv applied: kv alternates option names
// and values, and a nil value removes the option. base is not changed.
func With(base map[string]interface{}, kv ...interface{}) map[string]interface{} {
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("configtest.With: %d arguments, want name-value pairs", len(kv)))
	}
	m := maps.Clone(base)
	if m == nil {
		m = map[string]interface{}{}
	}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		if kv[i+1] == nil {
			delete(m, name)
			continue
		}
		m[name] = kv[i+1]
	}
	return m
}

// Case is a raw configuration and the messages configuring it must give, in
// order.
type Case struct {
	Name string
	Raw  map[string]interface{}
	Want []string
}

// Check runs configure (a component's Configure or Prepare) on each case's
// Raw in a subtest named after the case, and fails it unless the error's
// messages (Errors) are the case's Want.
func Check(t *testing.T, configure func(raw map[string]interface{}) error, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			if got := Errors(configure(tc.Raw)); !slices.Equal(got, tc.Want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tc.Want)
			}
		})
	}
}

// HCL decodes src, the body of a component's block as a template writes it,
// with the component's spec (its ConfigSpec), into the value Packer hands
// the component's Configure or Prepare: what a type error in a template
// looks like by the time the component sees it.
func HCL(t testing.TB, spec hcldec.ObjectSpec, src string) cty.Value {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), "test.pkr.hcl")
	if diags.HasErrors() {
		t.Fatalf("configtest.HCL: %v", diags)
	}
	v, diags := hcldec.Decode(f.Body, spec, nil)
	if diags.HasErrors() {
		t.Fatalf("configtest.HCL: %v", diags)
	}
	return v
}
