package snippets_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// buildBlock marks a snippet that is a whole template, not a fragment of
// one: it has a build block.
var buildBlock = regexp.MustCompile(`(?m)^build\s*\{`)

// nameData marks a template whose image name comes from data
// "imagefamily-name": known only once data sources are evaluated.
var nameData = regexp.MustCompile(`data\.imagefamily-name\.\w+\.name`)

// credentialData marks a data source that calls Compute Engine.
var credentialData = regexp.MustCompile(`(?m)^data\s+"imagefamily"\s`)

// TestEveryDocumentedTemplatePassesPackerValidate runs the real `packer
// validate`, without credentials, on every whole template README.md, docs/
// and example/ show, as a CI job linting it would. Plain validate does not
// run data sources, so their outputs are unknown then: a documented
// template must not need them known. The one exception is the page of data
// "imagefamily-name" itself, whose example feeds the name to googlecompute
// (which refuses an unknown image_name): it is validated with
// -evaluate-datasources, which needs no credentials only because that data
// source calls nothing, so the test also holds it to no data "imagefamily".
func TestEveryDocumentedTemplatePassesPackerValidate(t *testing.T) {
	root := modroot.Dir(t)
	env := packerrun.Env(t)
	packerrun.InstallPlugins(t, env)
	var templates []snippet
	for _, f := range documents(t, root) {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		all, err := extract(f, string(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if buildBlock.MatchString(s.text) {
				templates = append(templates, s)
			}
		}
	}
	// README.md and the four component pages each show a whole template.
	if len(templates) < 5 {
		t.Fatalf("found only %d whole templates in README.md, docs/ and example/", len(templates))
	}
	for i, s := range templates {
		t.Run(fmt.Sprintf("%s:%d", s.file, s.line), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), fmt.Sprintf("template-%d", i))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			packerrun.WriteTemplate(t, dir, s.text)
			args := []string{"validate"}
			if strings.HasPrefix(s.file, "docs/datasources/imagefamily-name.") && nameData.MatchString(s.text) {
				if credentialData.MatchString(s.text) {
					t.Fatalf("%s:%d needs its data sources evaluated and one of them calls Compute Engine: it cannot be validated without credentials", s.file, s.line)
				}
				args = append(args, "-evaluate-datasources")
			}
			stdout, stderr, err := packerrun.Run(t, env, dir, append(args, ".")...)
			if err != nil {
				hint := ""
				if nameData.MatchString(s.text) {
					hint = "(plain packer validate does not know data \"imagefamily-name\"'s name: name the image as README.md does)\n"
				}
				t.Errorf("packer %s on %s:%d: %v\n%s%s%s--- the template:\n%s", strings.Join(args, " "), s.file, s.line, err, stdout, stderr, hint, s.text)
			}
		})
	}
}

// TestExampleTemplatesPassPackerValidate validates example/'s templates as
// the scripts that build them do, with their variables and without
// credentials or -evaluate-datasources.
func TestExampleTemplatesPassPackerValidate(t *testing.T) {
	example := filepath.Join(modroot.Dir(t), "example")
	env := packerrun.Env(t)
	packerrun.InstallPlugins(t, env)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"layer, base", []string{"-var-file=" + filepath.Join(example, "base.pkrvars.hcl"), filepath.Join(example, "layer")}},
		{"layer, app", []string{"-var-file=" + filepath.Join(example, "app.pkrvars.hcl"), filepath.Join(example, "layer")}},
		{"layer, product", []string{"-var-file=" + filepath.Join(example, "product.pkrvars.hcl"), filepath.Join(example, "layer")}},
		{"promotion, as ci/promote-family.sh runs it", []string{"-var", "family=app-nginx", "-var", "image=debian-12-nginx-1-26-2-v20261126t064730",
			"-var", "dev_project=acme-dev", "-var", "prod_project=acme-prod", filepath.Join(example, "ci", "promote")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := packerrun.Run(t, env, "", append([]string{"validate"}, tc.args...)...)
			if err != nil || !strings.Contains(stdout, "The configuration is valid.") {
				t.Errorf("packer validate %s: %v\n%s%s", strings.Join(tc.args, " "), err, stdout, stderr)
			}
		})
	}
}
