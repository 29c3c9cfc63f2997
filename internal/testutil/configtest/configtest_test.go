package configtest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
)

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"nil", nil, nil},
		{"one error", errors.New("a"), []string{"a"}},
		{"a multi-error", &packersdk.MultiError{Errors: []error{errors.New("a"), errors.New("b")}}, []string{"a", "b"}},
		{"a wrapped multi-error", fmt.Errorf("prepare: %w", packersdk.MultiErrorAppend(nil, errors.New("a"))), []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Errors(tc.err); !slices.Equal(got, tc.want) {
				t.Errorf("Errors = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithSetsAndRemovesWithoutChangingBase(t *testing.T) {
	base := map[string]interface{}{"project_id": "acme-images", "family": "app"}
	got := With(base, "family", nil, "zone", "us-central1-a", "project_id", "acme-prod")
	want := map[string]interface{}{"project_id": "acme-prod", "zone": "us-central1-a"}
	if !maps.Equal(got, want) {
		t.Errorf("With = %v, want %v", got, want)
	}
	if !maps.Equal(base, map[string]interface{}{"project_id": "acme-images", "family": "app"}) {
		t.Errorf("With changed base: %v", base)
	}
	if got := With(nil, "a", 1); !maps.Equal(got, map[string]interface{}{"a": 1}) {
		t.Errorf("With(nil) = %v", got)
	}
}

// TestCheckRunsEveryCase runs Check with a configure that returns each
// case's own messages, so that every case passes: a case Check skipped or
// named wrongly shows as a missing subtest.
func TestCheckRunsEveryCase(t *testing.T) {
	var seen []string
	Check(t, func(raw map[string]interface{}) error {
		seen = append(seen, raw["name"].(string))
		var errs *packersdk.MultiError
		for _, m := range raw["want"].([]string) {
			errs = packersdk.MultiErrorAppend(errs, errors.New(m))
		}
		if errs == nil {
			return nil
		}
		return errs
	}, []Case{
		{Name: "accepted", Raw: map[string]interface{}{"name": "accepted", "want": []string(nil)}},
		{Name: "two problems", Raw: map[string]interface{}{"name": "two problems", "want": []string{"a", "b"}}, Want: []string{"a", "b"}},
	})
	if !slices.Equal(seen, []string{"accepted", "two problems"}) {
		t.Errorf("Check configured %q", seen)
	}
}
