package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

func TestInvalidFlagsExitTwoWithOneClearLine(t *testing.T) {
	env := emu(t, emulator.Options{})
	missing := filepath.Join(t.TempDir(), "missing.json")
	tests := []struct {
		name string
		args []string
		want string // the whole stderr line after "imagefamily CMD: "
	}{
		{"no command", nil, ""},
		{"unknown command", []string{"rotat"}, `imagefamily: unknown command "rotat": did you mean rotate? (run imagefamily --help)`},
		{"unknown flag", []string{"status", "--project", "acme-images", "--family", "web", "--keep", "2"}, "unknown flag --keep: did you mean --keep-active? (run imagefamily status --help)"},
		{"flag without value", []string{"status", "--family", "web", "--project"}, "--project needs a value"},
		{"missing project", []string{"status", "--family", "web"}, "--project is required: name the project that holds the images, e.g. --project acme-images (or set CLOUDSDK_CORE_PROJECT, GOOGLE_CLOUD_PROJECT, or gcloud config set project)"},
		{"bad project", []string{"status", "--project", "Acme", "--family", "web"}, `--project "Acme" is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`},
		{"project the plugin refuses: too short", []string{"status", "--project", "acme1", "--family", "web"}, `--project "acme1" is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`},
		{"project the plugin refuses: two letters", []string{"status", "--project", "ab", "--family", "web"}, `--project "ab" is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`},
		{"project the plugin refuses: a bare colon", []string{"status", "--project", "x:y", "--family", "web"}, `--project "x:y" is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`},
		{"missing family", []string{"status", "--project", "acme-images"}, "--family is required: name the image family, e.g. --family web"},
		{"bad format", []string{"status", "--project", "acme-images", "--family", "web", "--format", "xml"}, `--format "xml": must be table, wide, json, yaml or csv`},
		{"keep-active not a number", []string{"rotate", "--project", "acme-images", "--family", "web", "--keep-active", "two"}, `--keep-active "two": not a whole number: use 0 or more, e.g. 2`},
		{"keep-active negative", []string{"rotate", "--project", "acme-images", "--family", "web", "--keep-active", "-1"}, "--keep-active: -1 is negative: it counts the newest ACTIVE images kept, the head being the first of them; use 0 or more (0 and 1 keep only the head)"},
		{"bad duration", []string{"rotate", "--project", "acme-images", "--family", "web", "--obsolete-after", "a week"}, `--obsolete-after: "a week" is not a duration: use a number with a unit (ns, us, ms, s, m, h or d for days), e.g. "168h" or "7d"`},
		{"negative duration", []string{"rotate", "--project", "acme-images", "--family", "web", "--min-age", "-2h"}, `--min-age: -2h0m0s is negative: use 0 or more, e.g. "1h"`},
		{"bad orphan grace", []string{"rotate", "--project", "acme-images", "--family", "web", "--orphan-grace", "soon"}, `--orphan-grace: "soon" is not a duration: use a number with a unit (ns, us, ms, s, m, h or d for days), e.g. "168h" or "7d"`},
		{"bad lease wait", []string{"rotate", "--project", "acme-images", "--family", "web", "--lease-wait", "-1s"}, `--lease-wait "-1s": negative: use 0 (refuse at once) or more, e.g. 6m`},
		{"lease ttl too short", []string{"rollback", "--project", "acme-images", "--family", "web", "--lease-ttl", "100ms"}, `--lease-ttl "100ms": too short to be renewed in time: use 1s or more, e.g. 5m`},
		{"search projects without descendants", []string{"revoke", "--project", "acme-images", "web-v1", "--search-projects", "acme-prod"}, "--search-projects names where descendants are looked for: add --descendants"},
		{"protect label is a lineage key", []string{"rotate", "--project", "acme-images", "--family", "web", "--protect-label", "imagefamily-parent-image"}, `--protect-label: "imagefamily-parent-image" is a lineage key imagefamily writes itself: choose another key, e.g. "imagefamily-protect"`},
		{"bad bool", []string{"rotate", "--project", "acme-images", "--family", "web", "--check-in-use=maybe"}, `--check-in-use "maybe": must be true or false`},
		{"bad in-use project", []string{"rotate", "--project", "acme-images", "--family", "web", "--in-use-projects", "acme-apps,B"}, `--in-use-projects "acme-apps,B": project "B" is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`},
		{"parallelism zero", []string{"rotate", "--project", "acme-images", "--family", "web", "--parallelism", "0"}, "--parallelism: 0 is less than 1: it counts the image requests in flight at once; use 1 or more, e.g. 4 (the default)"},
		{"no family selection", []string{"rotate", "--project", "acme-images"}, "choose the families with exactly one of --family F (repeatable), --all-families or --family-label K=V"},
		{"two family selections", []string{"rotate", "--project", "acme-images", "--family", "web", "--all-families"}, "choose the families with exactly one of --family F (repeatable), --all-families or --family-label K=V"},
		{"bad family", []string{"rotate", "--project", "acme-images", "--family", "Web_1"}, `--family "Web_1": naming: name "Web_1" is not a valid name: it must start with a lower-case letter, hold only a-z, 0-9 and "-", and end with a letter or digit`},
		{"family label without =", []string{"rotate", "--project", "acme-images", "--family-label", "team"}, `--family-label "team": write it as KEY=VALUE, e.g. team=web`},
		{"bad --at", []string{"rotate", "--project", "acme-images", "--family", "web", "--at", "tomorrow"}, `--at "tomorrow": not an RFC 3339 time: write it like 2026-12-01T00:00:00Z`},
		{"unwritable report", []string{"rotate", "--project", "acme-images", "--family", "web", "--report", filepath.Join(missing, "r.json")}, ""},
		{"positional for rotate", []string{"rotate", "--project", "acme-images", "web"}, `unexpected argument "web": name families with --family F`},
		{"bad endpoint", []string{"status", "--project", "acme-images", "--family", "web", "--endpoint", "127.0.0.1:1"}, `--endpoint: "127.0.0.1:1" must start with http:// or https:// (e.g. http://127.0.0.1:8080/compute/v1/)`},
		{"missing credentials file", []string{"status", "--project", "acme-images", "--family", "web", "--credentials-file", missing}, ""},
		{"two credentials", []string{"status", "--project", "acme-images", "--family", "web", "--credentials-file", missing, "--access-token", "x"}, ""},
		{"bad service account", []string{"status", "--project", "acme-images", "--family", "web", "--impersonate-service-account", "bob"}, `--impersonate-service-account "bob" is not a service account email (want NAME@PROJECT.iam.gserviceaccount.com)`},
		{"rollback target spelled wrong", []string{"rollback", "--project", "acme-images", "--family", "web", "--to", "projects//x"}, ""},
		{"revoke without image", []string{"revoke", "--project", "acme-images"}, "revoke takes exactly one IMAGE, got 0 arguments: imagefamily revoke --project P IMAGE"},
		{"revoke two images", []string{"revoke", "--project", "acme-images", "a", "b"}, "revoke takes exactly one IMAGE, got 2 arguments: imagefamily revoke --project P IMAGE"},
		{"revoke a family", []string{"revoke", "--project", "acme-images", "projects/acme-images/global/images/family/web"}, `IMAGE "projects/acme-images/global/images/family/web" follows a family: name one image`},
		{"name without parts", []string{"name", "--os", "debian"}, `--software "" sanitises to nothing: each part needs at least one letter or digit`},
		{"name bad timestamp", []string{"name", "--os", "d", "--software", "s", "--version", "1", "--timestamp", "now"}, `--timestamp "now": not an RFC 3339 time: write it like 2026-11-26T06:47:30Z`},
		{"rollback bad bool", []string{"rollback", "--project", "acme-images", "--family", "web", "--block=maybe"}, `--block "maybe": must be true or false`},
		{"status positional", []string{"status", "--project", "acme-images", "--family", "web", "web-v1", "extra"}, `unexpected argument "extra": status takes one IMAGE at most: imagefamily status --family F [IMAGE]`},
		{"family label bad key", []string{"rotate", "--project", "acme-images", "--family-label", "Team=web"}, `--family-label "Team=web": labels: key "Team" is not a label key: it must start with a lower-case letter and hold only lower-case letters, digits, "_" and "-" (no upper case, dots, colons or spaces)`},
		{"outdated unknown flag", []string{"outdated", "--project", "acme-images", "--bogus"}, "unknown flag --bogus (run imagefamily outdated --help)"},
		{"emulator spike without probability", []string{"emulator", "--faults", "*=slow:1s"}, `--faults: "*=slow:1s": a latency spike is *=slow:DURATION:PROBABILITY, e.g. *=slow:2s:0.05`},
		{"emulator spike bad duration", []string{"emulator", "--faults", "*=slow:fast:0.1"}, `--faults: spike duration "fast" in "*=slow:fast:0.1" must be a Go duration from 1ns to 10m0s, e.g. 750ms`},
		{"name starting with a digit", []string{"name", "--os", "12", "--software", "s", "--version", "1"}, `--os "12" starts the name with the digit "1": a name must start with a letter; put a part that starts with a letter first in the template, or start it with a literal prefix`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, env, tt.args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", r.code, r.stderr)
			}
			if r.stdout != "" && len(tt.args) > 0 {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if len(tt.args) == 0 {
				return // usage on stderr
			}
			if strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr %q, want exactly one line", r.stderr)
			}
			line := strings.TrimSuffix(r.stderr, "\n")
			if tt.want == "" {
				if !strings.HasPrefix(line, "imagefamily "+tt.args[0]+": --") && !strings.HasPrefix(line, "imagefamily "+tt.args[0]+": ") {
					t.Errorf("stderr %q, want it to start with the command", line)
				}
				return
			}
			want := "imagefamily " + tt.args[0] + ": " + tt.want
			if strings.HasPrefix(tt.want, "imagefamily") {
				want = tt.want
			}
			if line != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", line, want)
			}
		})
	}
}

func TestFlagsMayFollowPositionalArguments(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v2", day)
	put(t, env, "acme-images", "web", "web-v1", 2*day)
	tests := []struct {
		name string
		args []string
	}{
		{"image first", []string{"revoke", "web-v1", "--project", "acme-images", "--dry-run", "--format", "json"}},
		{"flags first", []string{"revoke", "--project", "acme-images", "--dry-run", "--format", "json", "web-v1"}},
		{"one dash", []string{"revoke", "-project", "acme-images", "web-v1", "-dry-run", "-format=json"}},
		{"after --", []string{"revoke", "--project", "acme-images", "--dry-run", "--format", "json", "--", "web-v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCLI(t, env, exitOK, tt.args...)
			var out revokeOutput
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Image != "web-v1" || !out.DryRun {
				t.Errorf("revoke %q: image %q dry run %t (%v)", tt.args, out.Image, out.DryRun, err)
			}
		})
	}
}

func TestHelpExitsZeroOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"status", "--help"}, {"rotate", "-h"}, {"rollback", "--help"},
		{"revoke", "--help"}, {"outdated", "--help"}, {"lineage", "--help"}, {"name", "--help"}} {
		r := cli(t, nil, args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "Usage:\n  imagefamily") || r.stderr != "" {
			t.Errorf("%v: exit %d stdout %q stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestEndpointFromFlagOverridesEnvironment(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v1", day)
	// The environment names a dead endpoint; the flag wins.
	var r result
	{
		dead := *env
		dead.URL = "http://127.0.0.1:1"
		r = cli(t, &dead, "status", "--project", "acme-images", "--family", "web", "--endpoint", env.URL+"/compute/v1/")
	}
	if r.code != exitOK || !strings.Contains(r.stdout, "web-v1") {
		t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}
