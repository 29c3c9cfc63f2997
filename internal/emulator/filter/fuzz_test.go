package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// oddJSON adds shapes the image fixtures lack: native JSON numbers, nested
// arrays, empty maps and arrays, nulls, non-ASCII keys.
const oddJSON = `{"name":"odd","cpus":4,"ratio":0.5,"big":1e300,"neg":-3,
 "matrix":[[{"v":"a"}],[{"v":"b"},{"v":1}]],"labels":{},"tags":[],"nothing":null,
 "ключ":"значение","flags":[true,false],"deprecated":{"state":""}}`

func fuzzObjects(t testing.TB) []map[string]any {
	objs := fixtures(t)
	var odd map[string]any
	if err := json.Unmarshal([]byte(oddJSON), &odd); err != nil {
		t.Fatal(err)
	}
	return append(objs, odd)
}

func matchAll(e *Expr, objs []map[string]any) []bool {
	out := make([]bool, len(objs))
	for i, o := range objs {
		out[i] = e.Match(o)
	}
	return out
}

// FuzzParse checks that no input makes Parse or Match panic, that errors
// carry Compute Engine's wording, and that String() is a fixed point that
// means the same as the original. Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	objs := fuzzObjects(f)
	f.Fuzz(func(t *testing.T, s string) {
		// go test has no per-input timeout: a hang would only stall the
		// fuzzer. Crashing the worker makes it save the input as a failure.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("filter hangs on %q", s)) })
		defer watchdog.Stop()
		e, err := Parse(s)
		if err != nil {
			var fe *Error
			want := "Invalid value for field 'filter': '" + s + "'. Invalid list filter expression."
			if !errors.As(err, &fe) || err.Error() != want || fe.Reason == "" {
				t.Fatalf("Parse(%q): unexpected error %#v", s, err)
			}
			return
		}
		got := matchAll(e, objs)
		c := e.String()
		if len(c) > MaxLength {
			return // quoting can push the canonical form past the limit
		}
		e2, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String() %q fails: %v (%s)", s, c, err, reason(err))
		}
		if c2 := e2.String(); c2 != c {
			t.Fatalf("String() unstable for %q: %q then %q", s, c, c2)
		}
		if got2 := matchAll(e2, objs); !slices.Equal(got, got2) {
			t.Fatalf("%q matches %v but its String() %q matches %v", s, got, c, got2)
		}
	})
}
