package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// schema compiles docs/schemas/NAME.schema.json.
func schema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "docs", "schemas", name+".schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	sch, err := jsonschema.NewCompiler().Compile(path)
	if err != nil {
		t.Fatalf("compiling %s: %v", path, err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, what string, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", what, err, doc)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s does not match its schema: %v\n%s", what, err, doc)
	}
}

// TestEveryDocumentMatchesItsSchema runs every command that writes a
// document, real runs and dry runs, and validates what it wrote (JSON and
// YAML, the --report file, the plan file) against docs/schemas.
func TestEveryDocumentMatchesItsSchema(t *testing.T) {
	type output struct {
		schema string
		args   []string
		code   int
		file   string // a file the command writes, validated too ("" none)
		fileAs string // its schema
	}
	dir := t.TempDir()
	report, plan, rbPlan, rvPlan := filepath.Join(dir, "report.json"), filepath.Join(dir, "plan.json"), filepath.Join(dir, "rb.json"), filepath.Join(dir, "rv.json")
	steps := []output{
		{"status", []string{"status", "--family", "web"}, exitOK, "", ""},
		{"rotate", []string{"rotate", "--family", "web", "--dry-run", "--out", plan}, exitOK, plan, "plan"},
		{"rollback", []string{"rollback", "--family", "web", "--dry-run", "--out", rbPlan}, exitOK, rbPlan, "plan"},
		{"revoke", []string{"revoke", "web-v1", "--descendants", "--dry-run", "--out", rvPlan}, exitOK, rvPlan, "plan"},
		{"apply", []string{"apply", plan}, exitOK, "", ""},
		{"rotate", []string{"rotate", "--family", "web", "--report", report, "--at", t0.Add(40 * day).Format(time.RFC3339)}, exitOK, report, "rotate"},
		{"rollback", []string{"rollback", "--family", "web", "--force"}, exitOK, "", ""},
		{"revoke", []string{"revoke", "web-v5", "--reason", "cve"}, exitOK, "", ""},
		{"apply", []string{"apply", rvPlan}, exitOK, "", ""},
		{"outdated", []string{"outdated"}, exitFindings, "", ""},
		{"name", []string{"name", "--os", "debian-12", "--software", "nginx", "--version", "1.24.0"}, exitOK, "", ""},
	}
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	put(t, env, "acme-images", "app", "app-v1", day, builtOn("web-v5", "web"))
	vars := map[string]string{"CLOUDSDK_CORE_PROJECT": "acme-images"}
	for _, s := range steps {
		sch := schema(t, s.schema)
		r := cliEnv(t, env, vars, append(s.args, "--format", "json")...)
		if r.code != s.code {
			t.Fatalf("%v: exit %d, want %d\n%s", s.args, r.code, s.code, r.stderr)
		}
		validate(t, sch, strings.Join(s.args, " "), []byte(r.stdout))
		if s.file != "" {
			b, err := os.ReadFile(s.file)
			if err != nil {
				t.Fatal(err)
			}
			validate(t, schema(t, s.fileAs), s.file, b)
		}
	}
	// YAML is the same document.
	r := cliEnv(t, env, vars, "status", "--family", "web", "--format", "yaml")
	js, err := yaml.YAMLToJSON([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	validate(t, schema(t, "status"), "status --format yaml", js)
}

// The schemas are strict: a time of another precision, a missing
// format_version or an unknown field is refused.
func TestTheSchemasRefuseWhatTheyDoNotDescribe(t *testing.T) {
	sch := schema(t, "name")
	good := `{"format_version": 1, "name": "web-v1", "template": "t", "pattern": "p", "timestamp": "2026-11-26T06:47:30.000Z", "shortened": false}`
	tests := []struct {
		name, doc string
		ok        bool
	}{
		{"the output", good, true},
		{"nanoseconds", strings.Replace(good, ".000Z", ".745523457Z", 1), false},
		{"no milliseconds", strings.Replace(good, ".000Z", "Z", 1), false},
		{"no format_version", strings.Replace(good, `"format_version": 1, `, "", 1), false},
		{"another format_version", strings.Replace(good, `"format_version": 1`, `"format_version": 2`, 1), false},
		{"an unknown field", strings.Replace(good, `"shortened": false`, `"shortened": false, "extra": 1`, 1), false},
	}
	for _, tt := range tests {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); (err == nil) != tt.ok {
			t.Errorf("%s: valid %t, want %t (%v)", tt.name, err == nil, tt.ok, err)
		}
	}
}
