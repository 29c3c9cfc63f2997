package lifecycle

import "strconv"

// FieldParallelism is the rotation's parallelism as the domain names it in a
// FieldError: rotation.parallelism in a template, --parallelism on the
// command line.
const FieldParallelism = "parallelism"

// ValidateParallelism is the one rule of a rotation's parallelism, the image
// requests it has in flight at once, for every front end that takes one: 1
// or more. Zero is not "the default": a front end leaves the option unset
// for that. Its error is a *FieldError for FieldParallelism.
func ValidateParallelism(n int) error {
	if n >= 1 {
		return nil
	}
	return &FieldError{Field: FieldParallelism, Value: strconv.Itoa(n), Layout: Labelled,
		Rule: "is less than 1: it counts the image requests in flight at once; use 1 or more, e.g. 4 (the default)"}
}
