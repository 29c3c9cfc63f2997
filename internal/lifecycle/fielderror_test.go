package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestFieldErrorLayoutsMakeTheSentencesMessagesUse(t *testing.T) {
	tests := []struct {
		name string
		err  FieldError
		want string
	}{
		{"subject", FieldError{Field: "os", Value: `"+"`, Rule: "sanitises to nothing"}, `os "+" sanitises to nothing`},
		{"subject without the value", FieldError{Field: "credentials_json", Rule: "is not a JSON object"}, `credentials_json is not a JSON object`},
		{"subject with an empty value shown", FieldError{Field: "version", Value: `""`, Rule: "sanitises to nothing"}, `version "" sanitises to nothing`},
		{"labelled", FieldError{Field: "keep_active", Value: "-1", Layout: Labelled, Rule: "is negative"}, `keep_active: -1 is negative`},
		{"labelled without the value", FieldError{Field: "purge_after", Layout: Labelled, Rule: "empty duration"}, `purge_after: empty duration`},
		{"headed", FieldError{Field: "template", Value: `"{os"`, Layout: Headed, Rule: `"{os" has no closing "}"`}, `template "{os": "{os" has no closing "}"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConflictErrorNamesEveryOption(t *testing.T) {
	tests := []struct {
		fields []string
		want   string
	}{
		{[]string{"a", "b"}, "a and b are both set: choose one"},
		{[]string{"a", "b", "c"}, "a, b and c are all set: choose one"},
	}
	for _, tt := range tests {
		if got := (&ConflictError{Fields: tt.fields, Rule: "choose one"}).Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestSpellRenamesTheOptionsOfEveryErrorItHolds(t *testing.T) {
	flag := func(f string) string { return "--" + f }
	plain := errors.New("not a field")
	err := errors.Join(
		fmt.Errorf("naming: %w", &FieldError{Field: "os", Value: `"+"`, Rule: "sanitises to nothing"}),
		errors.Join(&ConflictError{Fields: []string{"x", "y"}, Rule: "choose one"}, plain),
	)
	var got []string
	for _, e := range Spell(err, flag) {
		got = append(got, e.Error())
	}
	want := []string{`--os "+" sanitises to nothing`, "--x and --y are both set: choose one", "not a field"}
	if !slices.Equal(got, want) {
		t.Errorf("Spell = %q, want %q", got, want)
	}
	if Spell(nil, flag) != nil {
		t.Error("Spell(nil) is not nil")
	}
}
