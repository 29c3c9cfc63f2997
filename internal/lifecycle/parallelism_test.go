package lifecycle

import "testing"

func TestValidateParallelismWantsOneOrMore(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{1, ""},
		{4, ""},
		{64, ""},
		{0, "parallelism: 0 is less than 1: it counts the image requests in flight at once; use 1 or more, e.g. 4 (the default)"},
		{-3, "parallelism: -3 is less than 1: it counts the image requests in flight at once; use 1 or more, e.g. 4 (the default)"},
	} {
		err := ValidateParallelism(tc.n)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("ValidateParallelism(%d) = %q, want %q", tc.n, got, tc.want)
		}
		if err != nil {
			spelled := Spell(err, func(f string) string { return "--" + f })
			if len(spelled) != 1 || spelled[0].(*FieldError).Field != "--parallelism" {
				t.Errorf("ValidateParallelism(%d) is not a FieldError a front end can spell: %v", tc.n, spelled)
			}
		}
	}
}
