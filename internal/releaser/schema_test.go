package releaser_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

// reportSchema is docs/schemas/release-report.schema.json, compiled.
func reportSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := jsonschema.NewCompiler().Compile(filepath.Join(modroot.Dir(t), "docs", "schemas", "release-report.schema.json"))
	if err != nil {
		t.Fatalf("the report's schema: %v", err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, doc []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	return s.Validate(v)
}

// TestEveryKindOfReportFollowsItsSchema writes the report of a release of
// each kind, as report_file gets it, and validates it against the
// documented schema.
func TestEveryKindOfReportFollowsItsSchema(t *testing.T) {
	schema := reportSchema(t)
	same := lifecycle.ContentDigest([]byte("nginx 1.26.0-1\n"))
	for _, tc := range []struct {
		name   string
		change func(*releaser.Request)
		image  string // the built image's name; built()'s when ""
		// is tells the report of this kind of release from the others, so
		// that a fixture gone wrong cannot pass as another kind.
		is func(o *releaser.Outcome, err error) bool
	}{
		{"released, and the family rotated", nil, "",
			func(o *releaser.Outcome, err error) bool { return err == nil && o.Released && o.Rotation != nil }},
		{"a dry run", func(r *releaser.Request) { r.DryRun = true }, "",
			func(o *releaser.Outcome, err error) bool { return err == nil && o.DryRun && !o.Released }},
		{"refused: the name breaks the convention", nil, "nginx-latest",
			func(o *releaser.Outcome, err error) bool { return err != nil && o.Error != "" && !o.Released }},
		{"released as a copy under the conventional name", func(r *releaser.Request) { r.Rename = releaser.RenameCopy }, "nginx-latest",
			func(o *releaser.Outcome, err error) bool { return err == nil && o.Renamed && o.Released }},
		{"unchanged: the head's content", func(r *releaser.Request) { r.ContentDigest = same }, "",
			func(o *releaser.Outcome, err error) bool { return err == nil && o.Unchanged && !o.Released }},
		{"released with a content digest", func(r *releaser.Request) { r.ContentDigest = lifecycle.ContentDigest([]byte("curl\n")) }, "",
			func(o *releaser.Outcome, err error) bool { return err == nil && o.Released && o.ContentDigest != "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			images := older(2)
			images[1].Labels = headLineage(same)
			b := built()
			if tc.image != "" {
				b.Name = tc.image
			}
			f := gcetest.New(append([]lifecycle.Image{b, parentImage()}, images...)...)
			f.Now = func() time.Time { return now }
			req := request()
			req.Image = b.Name
			if tc.change != nil {
				tc.change(&req)
			}
			out, err := releaser.Run(context.Background(), f, req, &recorder{})
			if !tc.is(out, err) {
				t.Fatalf("Run = %v, report %+v: not a report of this kind", err, out)
			}
			path := filepath.Join(t.TempDir(), "release.json")
			if err := out.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(t, schema, doc); err != nil {
				t.Errorf("the report does not follow docs/schemas/release-report.schema.json: %v\n%s", err, doc)
			}
		})
	}
}

// TestTheSchemaRefusesWhatTheReportNoLongerWrites: no format_version, a
// time at nanosecond precision, a field the schema does not know.
func TestTheSchemaRefusesWhatTheReportNoLongerWrites(t *testing.T) {
	schema := reportSchema(t)
	out, err := releaser.Run(context.Background(), fake(older(2)...), request(), &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "release.json")
	if err := out.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, schema, good); err != nil {
		t.Fatalf("the report itself is refused: %v", err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"no format_version", `"format_version": 1,`, ``},
		{"nanoseconds", `"released_at": "2026-11-26T06:47:30.000Z"`, `"released_at": "2026-11-26T06:47:30.745523457Z"`},
		{"an undocumented field", `"format_version": 1,`, `"format_version": 1, "surprise": true,`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tc.old, tc.new, 1)
			if bad == string(good) {
				t.Fatalf("the report has no %q to change:\n%s", tc.old, good)
			}
			if validate(t, schema, []byte(bad)) == nil {
				t.Errorf("the schema accepts it:\n%s", bad)
			}
		})
	}
}
