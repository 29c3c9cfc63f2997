package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The fixtures are what the emulator serves: protojson output decoded with
// encoding/json, so int64/uint64 fields ("id", "diskSizeGb") are strings.
// web-v1 and web-v2 have ids one apart beyond 2^53, where float64 would
// make them equal.
const fixturesJSON = `[
{"kind":"compute#image","name":"web-v1","id":"1234567890123456789","family":"web",
 "creationTimestamp":"2026-11-20T06:47:30.123-08:00","status":"READY","diskSizeGb":"10",
 "description":"Web server image","satisfiesPzs":true,"storageLocations":["us"],
 "labels":{"env":"prod","team":"infra","built":"20261120t064730z"},
 "deprecated":{"state":"DEPRECATED","replacement":"https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v2"},
 "guestOsFeatures":[{"type":"UEFI_COMPATIBLE"},{"type":"GVNIC"}]},
{"kind":"compute#image","name":"web-v2","id":"1234567890123456790","family":"web",
 "creationTimestamp":"2026-11-26T06:47:30.000-08:00","status":"READY","diskSizeGb":"20",
 "satisfiesPzs":false,"storageLocations":["us","eu"],"labels":{"env":"prod","team":""},
 "guestOsFeatures":[{"type":"UEFI_COMPATIBLE"}]},
{"kind":"compute#image","name":"db-v1","id":"42","family":"db",
 "creationTimestamp":"2026-10-01T00:00:00.000-07:00","status":"PENDING","diskSizeGb":"100",
 "description":"web-adjacent db","storageLocations":["eu"],"labels":{"env":"staging"},
 "deprecated":{"state":"OBSOLETE"}},
{"kind":"compute#image","name":"legacy","id":"7",
 "creationTimestamp":"2025-01-01T00:00:00.000Z","status":"READY","diskSizeGb":"9"}
]`

func fixtures(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal([]byte(fixturesJSON), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func matching(e *Expr, objs []map[string]any) []string {
	names := []string{}
	for _, o := range objs {
		if e.Match(o) {
			names = append(names, o["name"].(string))
		}
	}
	return names
}

var all = []string{"web-v1", "web-v2", "db-v1", "legacy"}

func TestMatch(t *testing.T) {
	objs := fixtures(t)
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		// Empty: everything.
		{``, all},
		{`   `, all},

		// AIP-160: equality, quoting, negation, missing fields.
		{`name = web-v1`, []string{"web-v1"}},
		{`name = "web-v1"`, []string{"web-v1"}},
		{`name = 'web-v1'`, []string{"web-v1"}},
		{`status=READY`, []string{"web-v1", "web-v2", "legacy"}},
		{`name != web-v1`, []string{"web-v2", "db-v1", "legacy"}},
		{`family = web`, []string{"web-v1", "web-v2"}},
		{`family != web`, []string{"db-v1", "legacy"}}, // absent family: != is true
		{`family:*`, []string{"web-v1", "web-v2", "db-v1"}},
		{`-family:*`, []string{"legacy"}},
		{`NOT family:*`, []string{"legacy"}},
		{`nosuchfield = x`, []string{}},
		{`nosuchfield != x`, all},

		// Labels and nested fields.
		{`labels.env = prod`, []string{"web-v1", "web-v2"}},
		{`labels.team:*`, []string{"web-v1", "web-v2"}}, // an empty value is present
		{`labels:team`, []string{"web-v1", "web-v2"}},   // map has key
		{`labels.team = ""`, []string{"web-v2"}},
		{`labels:*`, []string{"web-v1", "web-v2", "db-v1"}},
		{`labels.nokey = x`, []string{}},
		{`labels.nokey != x`, all},
		{`deprecated.state = DEPRECATED`, []string{"web-v1"}},
		{`deprecated.state != DEPRECATED`, []string{"web-v2", "db-v1", "legacy"}},
		{`deprecated:*`, []string{"web-v1", "db-v1"}},

		// Implicit AND, explicit AND/OR, precedence (OR binds tighter).
		{`(family = web) (deprecated.state != DEPRECATED)`, []string{"web-v2"}},
		{`  (status = READY)(family = web)  `, []string{"web-v1", "web-v2"}},
		{`family = web AND status = READY`, []string{"web-v1", "web-v2"}},
		{`name = web-v1 OR name = db-v1`, []string{"web-v1", "db-v1"}},
		{`name = web-v1 OR name = db-v1 AND status = READY`, []string{"web-v1"}},
		{`status = READY AND name = web-v1 OR name = db-v1`, []string{"web-v1"}},
		{`(status = READY AND name = web-v1) OR name = db-v1`, []string{"web-v1", "db-v1"}},
		{`(name = web-v1) OR (name = legacy) AND (status = READY)`, []string{"web-v1", "legacy"}},
		{`NOT (family = web OR family = db)`, []string{"legacy"}},
		{`-(family = web)`, []string{"db-v1", "legacy"}},
		{`NOT NOT family = db`, []string{"db-v1"}},
		{`((name = web-v1))`, []string{"web-v1"}},

		// Wildcards in string equality; ':' is substring (case-sensitive).
		{`name = "web-*"`, []string{"web-v1", "web-v2"}},
		{`name = *-v1`, []string{"web-v1", "db-v1"}},
		{`name = "w*-v*"`, []string{"web-v1", "web-v2"}},
		{`name = "web\*"`, []string{}}, // an escaped star is literal
		{`name != "web-*"`, []string{"db-v1", "legacy"}},
		{`description:web`, []string{"db-v1"}},
		{`description:"server im*"`, []string{"web-v1"}},

		// Numbers: int64/uint64 arrive as strings and compare numerically.
		{`diskSizeGb > 10`, []string{"web-v2", "db-v1"}}, // "9" > "10" as text
		{`diskSizeGb <= 10`, []string{"web-v1", "legacy"}},
		{`diskSizeGb = 10.0`, []string{"web-v1"}},
		{`diskSizeGb >= "20"`, []string{"web-v2", "db-v1"}},
		{`id = 1234567890123456789`, []string{"web-v1"}},
		{`id > 1234567890123456789`, []string{"web-v2"}},
		{`id < 100`, []string{"db-v1", "legacy"}},
		{`id:7`, []string{"legacy"}}, // ':' on a number is equality, not substring

		// Timestamps: instants, whatever the zone offset; dates are midnight UTC.
		{`creationTimestamp > "2026-11-01"`, []string{"web-v1", "web-v2"}},
		{`creationTimestamp >= 2026-11-26T14:47:30Z`, []string{"web-v2"}},
		{`creationTimestamp = "2026-11-26T14:47:30Z"`, []string{"web-v2"}},
		{`creationTimestamp < "2026-01-01T00:00:00Z"`, []string{"legacy"}},

		// Bools.
		{`satisfiesPzs = true`, []string{"web-v1"}},
		{`satisfiesPzs = FALSE`, []string{"web-v2"}},
		{`satisfiesPzs != true`, []string{"web-v2", "db-v1", "legacy"}},

		// Repeated fields: any element.
		{`storageLocations = eu`, []string{"web-v2", "db-v1"}},
		{`storageLocations:us`, []string{"web-v1", "web-v2"}},
		{`storageLocations != us`, []string{"db-v1", "legacy"}},
		{`guestOsFeatures.type = GVNIC`, []string{"web-v1"}},
		{`guestOsFeatures.type = UEFI_COMPATIBLE AND NOT guestOsFeatures.type = GVNIC`, []string{"web-v2"}},

		// Regex dialect exactly as gcloud 528 sent it (captured on the wire
		// from `gcloud compute images list --filter=...`, shown on the right).
		// For labels.*, OR, NOT of a group, <, > and lists gcloud sends no
		// filter at all and filters client-side.
		{`family eq ".*\bweb\b.*"`, []string{"web-v1", "web-v2"}},                                       // --filter=family=web
		{`family ne ".*\bweb\b.*"`, []string{"db-v1", "legacy"}},                                        // --filter=-family=web
		{`name eq ".*\bweb\-v1\b.*"`, []string{"web-v1"}},                                               // --filter=name=web-v1
		{`name eq ".*\bweb.*"`, []string{"web-v1", "web-v2"}},                                           // --filter=name:web*
		{`name eq ".*(^web).*"`, []string{"web-v1", "web-v2"}},                                          // --filter=name~^web
		{`name ne ".*(v1$).*"`, []string{"web-v2", "legacy"}},                                           // --filter=name!~v1$
		{`description eq ".*\bWeb\ server\b.*"`, []string{"web-v1"}},                                    // --filter='description="Web server"'
		{`status eq READY`, []string{"web-v1", "web-v2", "legacy"}},                                     // --filter=status=READY (enum)
		{`id eq 42`, []string{"db-v1"}},                                                                 // --filter=id=42 (uint64)
		{`satisfiesPzs eq true`, []string{"web-v1"}},                                                    // --filter=satisfiesPzs=true
		{`(family eq ".*\bweb\b.*")(status eq READY)`, []string{"web-v1", "web-v2"}},                    // family=web AND status=READY
		{`(family eq ".*\bweb\b.*")((status eq READY)(name ne ".*\bweb\-v1\b.*"))`, []string{"web-v2"}}, // family=web status=READY name!=web-v1
		{`((family eq ".*\bweb\b.*")(status eq READY))(name ne ".*\bweb\-v1\b.*")`, []string{"web-v2"}},
		{`diskSizeGb eq 10`, []string{"web-v1"}},                              // --filter=diskSizeGb=10
		{`zone eq ".*\bus\-central1\-a\b.*"`, []string{}},                     // --filter=zone:us-central1-a
		{`creationTimestamp eq 2026-11-26T14:47:30.000Z`, []string{"web-v2"}}, // --filter=creationTimestamp=2026-11-26T14:47:30Z

		// Regex dialect as people and other tools write it.
		{`name eq web-v.*`, []string{"web-v1", "web-v2"}},
		{`name eq web`, []string{}}, // the whole value must match
		{`name ne .*-v1`, []string{"web-v2", "legacy"}},
		{`name eq 'db-v1'`, []string{"db-v1"}},
		{`name eq (web|db)-v1`, []string{"web-v1", "db-v1"}},
		{`(name eq web-.*) (deprecated.state ne DEPRECATED)`, []string{"web-v2"}},
		{`name eq web-v1 AND status eq READY`, []string{"web-v1"}},
		{`(name eq "backend-mig-.*")`, []string{}},
		{`labels.env eq prod`, []string{"web-v1", "web-v2"}},
		{`labels.env ne prod`, []string{"db-v1", "legacy"}},
		{`storageLocations eq eu`, []string{"web-v2", "db-v1"}},
		{`name eq "(?i)WEB-V1"`, []string{"web-v1"}},
		{`family eq ""`, []string{}}, // absent is not empty
	} {
		e, err := Parse(tc.filter)
		if err != nil {
			t.Errorf("Parse(%q): %v (%s)", tc.filter, err, reason(err))
			continue
		}
		if got := matching(e, objs); !slices.Equal(got, tc.want) {
			t.Errorf("%q matched %v, want %v", tc.filter, got, tc.want)
		}
		// The canonical form must parse back, print the same and mean the same.
		s := e.String()
		e2, err := Parse(s)
		if err != nil {
			t.Errorf("String() of %q = %q does not parse: %v (%s)", tc.filter, s, err, reason(err))
			continue
		}
		if s2 := e2.String(); s2 != s {
			t.Errorf("String() of %q unstable: %q then %q", tc.filter, s, s2)
		}
		if got := matching(e2, objs); !slices.Equal(got, tc.want) {
			t.Errorf("%q (canonical %q) matched %v, want %v", tc.filter, s, got, tc.want)
		}
	}
}

func reason(err error) string {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return "not a *filter.Error"
}

func TestParseErrors(t *testing.T) {
	long := "name = " + strings.Repeat("x", MaxLength)
	for _, filter := range []string{
		// The dialects do not mix.
		`name = web-v1 AND family eq web`,
		`(name = x) (family eq y)`,
		`(name eq web) OR (family eq web)`,
		`NOT name eq web`,
		`-name eq web`,
		`name eq "x" name = y`,
		// Unbalanced parentheses.
		`(name = web`,
		`name = web)`,
		`((name = web)`,
		`(name eq web`,
		// Dangling operators and missing values.
		`name =`,
		`name = `,
		`name = web AND`,
		`AND name = web`,
		`name = web OR`,
		`OR name = web`,
		`name = web AND OR status = READY`,
		`NOT`,
		`-`,
		`name = AND`,
		`name eq`,
		`name ==web`,
		`name <`,
		// Empty terms and bare values (free-text search is not supported).
		`()`,
		`(name = web) ()`,
		`( )`,
		`name`,
		`web`,
		`name = web extra`,
		`= web`,
		// Malformed fields and strings.
		`labels..env = x`,
		`labels.env. = x`,
		`.name = x`,
		`9name = x`,
		`name = "unterminated`,
		`name eq 'unterminated`,
		`name = "trailing\"`,
		// Bad regular expressions (RE2 syntax).
		`name eq "[a-"`,
		`name eq "a)|(b"`,
		`name eq "(?P<x"`,
		`name eq x**`,
		`name eq "\8"`,
		`name eq a\`,
		// Limits.
		long,
		strings.Repeat("(", MaxDepth+1) + "name = x" + strings.Repeat(")", MaxDepth+1),
		strings.Repeat("NOT ", MaxDepth+1) + "name = x",
		strings.Repeat("-", MaxDepth+1) + "name = x",
	} {
		e, err := Parse(filter)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want an error", filter, e.String())
			continue
		}
		want := "Invalid value for field 'filter': '" + filter + "'. Invalid list filter expression."
		if err.Error() != want {
			t.Errorf("Parse(%q) error = %q, want %q", filter, err.Error(), want)
		}
		var fe *Error
		if !errors.As(err, &fe) || fe.Filter != filter || fe.Reason == "" {
			t.Errorf("Parse(%q) error %#v is not a *Error with the filter and a reason", filter, err)
		}
	}
}

func TestLimitsAllowTheirBounds(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth) + "name = web-v1" + strings.Repeat(")", MaxDepth)
	notDeep := strings.Repeat("NOT ", MaxDepth) + "name = web-v1" // even count: no-op
	padded := "name = web-v1" + strings.Repeat(" ", MaxLength-len("name = web-v1"))
	objs := fixtures(t)
	for _, f := range []string{deep, notDeep, padded} {
		e, err := Parse(f)
		if err != nil {
			t.Errorf("Parse(%.40q...): %v (%s)", f, err, reason(err))
			continue
		}
		if got := matching(e, objs); !slices.Equal(got, []string{"web-v1"}) {
			t.Errorf("%.40q... matched %v", f, got)
		}
	}
}

// Match must cope with values encoding/json never produces but callers
// might hand over: typed maps and slices, json.Number, nil.
func TestMatchOtherShapes(t *testing.T) {
	obj := map[string]any{
		"name":             "x",
		"labels":           map[string]string{"env": "prod"},
		"storageLocations": []string{"us", "eu"},
		"diskSizeGb":       json.Number("10"),
		"family":           nil,
	}
	for f, want := range map[string]bool{
		`labels.env = prod`:      true,
		`labels:env`:             true,
		`labels.env:*`:           true,
		`storageLocations = eu`:  true,
		`diskSizeGb > 9`:         true,
		`diskSizeGb eq 10`:       true,
		`family:*`:               false,
		`family != x`:            true,
		`labels.env.deeper = x`:  false,
		`name.deeper:*`:          false,
		`storageLocations.x = y`: false,
	} {
		e, err := Parse(f)
		if err != nil {
			t.Fatalf("Parse(%q): %v", f, err)
		}
		if got := e.Match(obj); got != want {
			t.Errorf("%q: got %v, want %v", f, got, want)
		}
	}
	var nilExpr *Expr
	if !nilExpr.Match(obj) || nilExpr.String() != "" {
		t.Error("a nil *Expr must match everything")
	}
	e, _ := Parse(`name = x`)
	if e.Match(nil) {
		t.Error("a nil resource has no name")
	}
}

func TestString(t *testing.T) {
	for in, want := range map[string]string{
		`(family = web) (deprecated.state != DEPRECATED)`: `family = "web" AND deprecated.state != "DEPRECATED"`,
		`a = 1 OR b = 2 AND c = 3`:                        `a = "1" OR b = "2" AND c = "3"`,
		`(a = 1 AND b = 2) OR c = 3`:                      `(a = "1" AND b = "2") OR c = "3"`,
		`-(a = 1 OR b = 2)`:                               `NOT (a = "1" OR b = "2")`,
		`labels.env:* name = "we\"b\\*\*"`:                `labels.env:* AND name = "we\"b\\*\*"`,
		`(family eq ".*\bweb\b.*")(status eq READY)`:      `family eq ".*\bweb\b.*" AND status eq READY`,
		`name eq 'a"b'`:                                   `name eq "a\"b"`,
	} {
		e, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := e.String(); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func ExampleParse() {
	e, err := Parse(`(family = web) (deprecated.state != DEPRECATED) labels.env:*`)
	if err != nil {
		panic(err)
	}
	fmt.Println(e.Match(map[string]any{"family": "web", "labels": map[string]any{"env": ""}}))
	_, err = Parse(`family = web OR`)
	fmt.Println(err)
	// Output:
	// true
	// Invalid value for field 'filter': 'family = web OR'. Invalid list filter expression.
}

func TestPrefilterNeverRejectsWhatMatchAccepts(t *testing.T) {
	resources := []map[string]any{
		{"name": "web-v1", "family": "web"},
		{"name": "web-v2", "family": "web", "labels": map[string]any{"team": "web"}},
		{"name": "api-v1", "family": "api"},
		{"name": "web-v3"},
		{"name": "solo", "family": ""},
		{"name": "web-v4", "family": "web", "labels": map[string]any{"team": "api"}},
		{"name": "web-v5", "family": "web", "labels": map[string]any{"owner": "web"}},
	}
	tests := []struct {
		expr      string
		field     string
		prefilter bool // whether the expression yields a condition on field
	}{
		{`family = "web"`, "family", true},
		{`family = web*`, "family", true},
		{`name eq "(web-v1|api-v1)"`, "name", true},
		{`(family = "web") (labels.team = "web")`, "family", true},
		{`(family = "web") AND (name != "web-v1")`, "family", true},
		{`(family = "web") OR (name = "api-v1")`, "family", false},
		{`NOT family = "web"`, "family", false},
		{`family != "web"`, "family", false},
		{`name ne "web-v1"`, "name", false},
		{`labels.team = "web"`, "family", false},
		{`family = ""`, "family", true},
		{`labels.team = "web"`, "labels.team", true},
		{`(family = "web") (labels.team = "web")`, "labels.team", true},
		{`(family = "web") (labels.team:*)`, "labels.team", false},
		{`labels.team != "web"`, "labels.team", false},
		{`(labels.team = "web") OR (family = "api")`, "labels.team", false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			test, ok := e.Prefilter(tt.field)
			if ok != tt.prefilter {
				t.Fatalf("Prefilter(%q) ok = %v, want %v", tt.field, ok, tt.prefilter)
			}
			if !ok {
				return
			}
			if fields := e.PrefilterFields(); slices.Contains(fields, tt.field) != ok {
				t.Errorf("PrefilterFields() = %q: naming %s disagrees with Prefilter's ok %v", fields, tt.field, ok)
			}
			for _, r := range resources {
				v, present := fieldAt(r, tt.field)
				if e.Match(r) && !test(v, present) {
					t.Errorf("%v matches, but the prefilter rejects it", r)
				}
			}
		})
	}
}

// fieldAt reads a dotted path of string fields from r.
func fieldAt(r map[string]any, path string) (string, bool) {
	var cur any = r
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = m[k]; !ok {
			return "", false
		}
	}
	v, ok := cur.(string)
	return v, ok
}

func TestAPlainAlternationMatchesAsItsRegexDoes(t *testing.T) {
	names := []string{"web-v1", "web-v3", "web-v10", "xweb-v1", "web-v1x", "api-v1", "", "web"}
	for _, expr := range []string{`name eq "(web-v1|web-v3|api-v1)"`, `name eq "web-v1"`, `name eq (web-v1|web)`, `name ne "(web-v1|web-v3)"`,
		`name eq "(web-v1|web-v3"`, `name eq "web-v.*"`} {
		e, err := Parse(expr)
		if err != nil {
			continue // an invalid pattern is refused before anything matches
		}
		re := regexp.MustCompile(`^(?:` + strings.TrimSuffix(strings.TrimPrefix(strings.Fields(expr)[2], `"`), `"`) + `)$`)
		for _, n := range names {
			want := re.MatchString(n) != strings.Contains(expr, " ne ")
			if got := e.Match(map[string]any{"name": n}); got != want {
				t.Errorf("%s on %q: %v, want %v (as the regex)", expr, n, got, want)
			}
		}
	}
}
