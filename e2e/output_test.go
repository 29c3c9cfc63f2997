package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// TestReleaseOutputSaysStepsOnceAndPackersLogHasEveryCall runs a release
// through packer with PACKER_LOG=1: the build output names the image and
// the family once, in the first step, steps as "==>" lines and details as
// indented messages, the rotation as a summary and the report's path; every
// line fits a terminal. Packer's log has each API request with its status,
// never the token.
func TestReleaseOutputSaysStepsOnceAndPackersLogHasEveryCall(t *testing.T) {
	env := packerEnv(t)
	env.Vars = append(env.Vars, "PACKER_LOG=1")
	emu := emulatortest.Start(t, emulatorOptions(t))
	seedReleaseFixture(t, emu)
	dir := t.TempDir()
	const image = "debian-12-nginx-1-26-v20261126t080000"
	report := filepath.Join(dir, "release.json")
	packerrun.WriteTemplate(t, dir, packerrun.GoogleComputeApp(emu.ComputeEndpoint(), image)+fmt.Sprintf(`
build {
  sources = ["source.googlecompute.app"]
  post-processor "imagefamily-release" {
    project_id = "acme-images"
    family     = "app-nginx"
    naming {
      os       = "debian-12"
      software = "nginx"
      version  = "1.26"
    }
    rotation {
      keep_active = 1
      min_age     = "0s"
    }
    report_file      = %q
    custom_endpoints = { compute = %q }
  }
}
`, report, emu.ComputeEndpoint()))
	stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", ".")
	if err != nil {
		t.Fatalf("packer build: %v\n%s\n%s", err, stdout, stderr)
	}
	const pp = "googlecompute.app (imagefamily-release): "
	var release []string
	for _, line := range strings.Split(stdout, "\n") {
		if i := strings.Index(line, pp); i >= 0 {
			release = append(release, strings.TrimRight(line[:i], " ")+" "+line[i+len(pp):])
		}
	}
	want := []string{
		"==> Releasing image " + image + " into family app-nginx of project acme-images",
		"   the family points to app-v1 now",
		"   the name follows the naming convention {os}-{software}-{version}-v{timestamp}",
		"==> Wrote 7 labels, and the mark imagefamily-releasing-into=app-nginx until the family holds the image",
		"   imagefamily-parent-image=base-v1",
		"==> Moved the family pointer: app-v1 -> " + image,
		"==> Verified: the family resolves to " + image,
		"==> Rotating the family: 1 action, at most",
		"==> Rotated the family: 1 action, 1 done, 0 skipped, 0 failed",
		"   done: deprecate 1",
		"==> Wrote the release report, with every rotation action and why, to " + report,
	}
	text := strings.Join(release, "\n")
	at := 0
	for _, w := range want {
		i := strings.Index(text[at:], w)
		if i < 0 {
			t.Errorf("the release's output lacks, in this order, %q:\n%s", w, text)
			continue
		}
		at += i + len(w)
	}
	if n := strings.Count(text, image+", family"); n > 0 {
		t.Errorf("%d lines still carry the image-and-family prefix:\n%s", n, text)
	}
	if n := strings.Count(text, "family app-nginx"); n != 1 {
		t.Errorf("the family is named %d times as the release's subject, want once:\n%s", n, text)
	}
	for _, line := range release {
		// What the plugin says fits 100 columns beside Packer's prefix, but
		// for the report's path, which is the user's.
		if msg := strings.TrimPrefix(line, "==> "); len(msg) > 100 && !strings.Contains(msg, report) {
			t.Errorf("a %d-column message:\n%s", len(msg), msg)
		}
	}
	for _, re := range []string{
		`\[INFO\] imagefamily-release: http method=GET url=\S+/compute/v1/projects/acme-images/global/images/` + image + ` status=200 duration=`,
		`\[INFO\] imagefamily-release: http method=POST url=\S+/compute/v1/projects/acme-images/global/images/` + image + `/setLabels status=200 duration=`,
		`\[INFO\] imagefamily-release: rotation: deprecate app-v1 ACTIVE -> DEPRECATED planned: `,
	} {
		if !regexp.MustCompile(re).MatchString(stderr) {
			t.Errorf("Packer's log lacks %s", re)
		}
	}
	// The report real packer had written follows its documented schema.
	schema, err := jsonschema.NewCompiler().Compile(filepath.Join(modroot.Dir(t), "docs", "schemas", "release-report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(report); err != nil {
		t.Error(err)
	} else if doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b)); err != nil {
		t.Errorf("the report is not JSON: %v", err)
	} else if err := schema.Validate(doc); err != nil {
		t.Errorf("the report does not follow docs/schemas/release-report.schema.json: %v\n%s", err, b)
	}
	if strings.Contains(stderr, "emulator-token-not-a-secret") {
		t.Errorf("the access token reached Packer's log")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nPacker's log, the plugin's lines:", stdout)
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, "imagefamily-release: ") {
				t.Log(line)
			}
		}
	}
}
