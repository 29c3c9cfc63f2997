package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// Recognisable secrets: none of them may appear in any log, report or error.
const (
	secretToken = "ya29.SECRETTOKEN-7f3a9c1e"
	secretKey   = "SECRETPRIVATEKEY-4b8d2e6f"
)

// secretLeaks lists where a secret shows in text, in any spelling a careless
// print could give it (as is, or in a Go %q).
func secretLeaks(where, text string) []string {
	var out []string
	for _, s := range []string{secretToken, secretKey, "SECRETTOKEN", "SECRETPRIVATEKEY"} {
		if i := strings.Index(text, s); i >= 0 {
			lo, hi := max(0, i-120), min(len(text), i+len(s)+40)
			out = append(out, fmt.Sprintf("%s shows %q: ...%s...", where, s, text[lo:hi]))
		}
	}
	return out
}

func checkNoSecrets(t *testing.T, where, text string) {
	t.Helper()
	v := &violations{t: t, what: "secrets"}
	for _, leak := range secretLeaks(where, text) {
		v.add("%s", leak)
	}
	v.done()
}

// secretTemplate releases a googlecompute build with this plugin's data
// source and post-processor authenticated by secretToken; googlecompute
// gets a token of its own (its logs are not this plugin's).
const secretTemplate = `
data "imagefamily" "base" {
  project_id       = "acme-images"
  family           = "base-debian-12"
  access_token     = "%[3]s"
  custom_endpoints = { compute = "%[1]s" }
}

source "googlecompute" "app" {
  project_id              = "acme-images"
  zone                    = "us-central1-a"
  source_image            = data.imagefamily.base.name
  source_image_project_id = ["acme-images"]
  image_name              = "debian-12-nginx-1-26-v20261126t080000"
  communicator            = "none"
  access_token            = "googlecompute-token"
  custom_endpoints        = { compute = "%[1]s" }
}

build {
  sources = ["source.googlecompute.app"]
  post-processor "imagefamily-release" {
    project_id   = "acme-images"
    family       = "app-nginx"
    parent       = data.imagefamily.base.self_link
    report_file  = "%[2]s"
    access_token = "%[3]s"
    custom_endpoints = { compute = "%[1]s" }
    rotation {
      keep_active     = 1
      min_age         = "0s"
      in_use_projects = ["acme-elsewhere"]
    }
  }
}
`

// TestSecretsNeverShow runs the real packer with PACKER_LOG=1 (a build whose
// rotation partly fails, and validations that fail on the credentials), and
// the CLI with --report and failing actions, all with recognisable secrets,
// and looks for them in every output, log and report.
func TestSecretsNeverShow(t *testing.T) {
	t.Parallel()
	stats.scenario(t)
	t.Run("packer build with PACKER_LOG=1", func(t *testing.T) {
		env := packerEnv(t)
		logEnv := &packerrun.Environment{Bins: env.Bins, PluginPath: env.PluginPath, Home: env.Home,
			Vars: append(append([]string(nil), env.Vars...), "PACKER_LOG=1")}
		// The rotation cannot read what uses the images: its error travels
		// through the logs and the report. (googlecompute calls neither.)
		faults, err := emulator.ParseFaults("instances.aggregatedList=503:1,disks.aggregatedList=429:0.5")
		if err != nil {
			t.Fatal(err)
		}
		e := startEmu(t, emulator.Options{Faults: faults, Seed: 3}, 0)
		appFixture(t, e)
		dir := t.TempDir()
		report := filepath.Join(dir, "report.json")
		packerrun.WriteTemplate(t, dir, fmt.Sprintf(secretTemplate, e.URL+"/compute/v1/", report, secretToken))
		stdout, stderr, err := packerrun.Run(t, logEnv, dir, "build", "-color=false", ".")
		stats.run("packer build")
		if err != nil {
			t.Fatalf("packer build: %v\n%s", err, stderr)
		}
		if !strings.Contains(stderr, "[DEBUG]") && !strings.Contains(stdout+stderr, "[INFO]") {
			t.Fatalf("PACKER_LOG=1 logged nothing:\n%s", stderr)
		}
		checkNoSecrets(t, "packer build output (PACKER_LOG=1)", stdout+stderr)
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "rotation skipped") {
			t.Errorf("the report holds no rotation error; the test proves less than it claims:\n%s", b)
		}
		checkNoSecrets(t, "report_file", string(b))
		// The emulator's state file would hold anything sent as data.
		st, _ := e.srv.SnapshotState()
		checkNoSecrets(t, "the emulator's state", fmt.Sprint(st))
	})
	t.Run("packer validate with bad credentials", func(t *testing.T) {
		env := packerEnv(t)
		logEnv := &packerrun.Environment{Bins: env.Bins, PluginPath: env.PluginPath, Home: env.Home,
			Vars: append(append([]string(nil), env.Vars...), "PACKER_LOG=1")}
		badJSON := `{\"type\":\"service_account\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\n` + secretKey + `` // cut short: invalid JSON
		wrongType := `{\"type\":\"` + secretKey + `\",\"private_key\":\"` + secretKey + `\"}`
		for name, body := range map[string]string{
			"credentials_json not JSON":      `credentials_json = "` + badJSON + `"`,
			"credentials_json of a bad type": `credentials_json = "` + wrongType + `"`,
			"token and credentials":          `access_token = "` + secretToken + `"` + "\n    credentials_json = \"" + wrongType + `"`,
		} {
			for _, tmpl := range []string{
				dataFamily(okFamily + "\n  " + body),
				postProcessor(okRelease + "\n    " + body),
				promote(okPromote + "\n  " + body),
			} {
				dir := t.TempDir()
				packerrun.WriteTemplate(t, dir, tmpl)
				stdout, stderr, err := packerrun.Run(t, logEnv, dir, "validate", ".")
				stats.run("packer validate")
				stats.add(&stats.InvalidInputs, "secrets", 1)
				if err == nil {
					t.Fatalf("%s: packer validate accepted it", name)
				}
				if !strings.Contains(stdout+stderr, "credentials_json") {
					t.Errorf("%s: the error does not name credentials_json:\n%s", name, stdout+stderr)
				}
				checkNoSecrets(t, "packer validate ("+name+")", stdout+stderr)
			}
		}
	})
	t.Run("imagefamily CLI", func(t *testing.T) {
		faults, err := emulator.ParseFaults("images.deprecate=fail:1,images.delete=403:1")
		if err != nil {
			t.Fatal(err)
		}
		e := startEmu(t, emulator.Options{Faults: faults}, 0)
		f := fixtureFor(t, 101)
		f.load(t, e)
		dir := t.TempDir()
		report := filepath.Join(dir, "report.json")
		for _, args := range [][]string{
			rotateArgs(f, "--access-token", secretToken, "--report", report),
			rotateArgs(f, "--access-token", secretToken, "--format", "table", "--dry-run"),
			{"rollback", "--project", project, "--family", "web", "--to", "nope", "--access-token", secretToken},
			{"status", "--project", project, "--family", "web", "--access-token", secretToken, "--credentials-file", filepath.Join(dir, "missing.json")},
			{"status", "--project", project, "--family", "web", "--access-token", secretToken, "--endpoint", "ftp://x"},
		} {
			r := runCLI(t, e, args...)
			if r.code == 0 && args[0] != "rotate" {
				t.Errorf("%s: want a failure", r)
			}
			checkNoSecrets(t, "imagefamily "+args[0]+" output", r.stdout+r.stderr)
		}
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"error"`) {
			t.Errorf("the report holds no failed action; the test proves less than it claims:\n%s", b)
		}
		checkNoSecrets(t, "imagefamily rotate --report", string(b))
	})
}
