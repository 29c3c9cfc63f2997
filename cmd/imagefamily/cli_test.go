package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/version"
)

// every command of the tree, the root and cobra's completion commands
// included, as the words that run it.
func everyCommand() [][]string {
	var out [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Hidden {
			return
		}
		out = append(out, path)
		for _, s := range c.Commands() {
			walk(s, append(append([]string{}, path...), s.Name()))
		}
	}
	walk(newRootCommand(&env{}), nil)
	return out
}

func TestEveryHelpFitsEightyColumns(t *testing.T) {
	for _, words := range everyCommand() {
		t.Run(strings.Join(append([]string{"imagefamily"}, words...), " "), func(t *testing.T) {
			r := mustCLI(t, nil, exitOK, append(words, "--help")...)
			if r.stderr != "" || !strings.Contains(r.stdout, "Usage:\n  imagefamily") {
				t.Fatalf("stdout %q stderr %q: want the usage on stdout", r.stdout, r.stderr)
			}
			for i, line := range strings.Split(r.stdout, "\n") {
				if n := len([]rune(line)); n > helpWidth {
					t.Errorf("line %d is %d columns: %q", i+1, n, line)
				}
			}
		})
	}
}

func TestVersionIsThePluginsVersion(t *testing.T) {
	want := "imagefamily " + version.PluginVersion.FormattedVersion() + " "
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := mustCLI(t, nil, exitOK, args...)
		if !strings.HasPrefix(r.stdout, want) || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("%v: %q, want one line starting %q", args, r.stdout, want)
		}
	}
}

func TestCompletionScriptsForEveryShell(t *testing.T) {
	tests := []struct {
		shell string
		says  string // what marks the shell's script
	}{
		{"bash", "complete -o default -F __start_imagefamily imagefamily"},
		{"zsh", "#compdef imagefamily"},
		{"fish", "complete -c imagefamily"},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			r := mustCLI(t, nil, exitOK, "completion", tt.shell)
			if !strings.Contains(r.stdout, tt.says) {
				t.Errorf("completion %s does not hold %q", tt.shell, tt.says)
			}
		})
	}
	// The scripts ask the binary: its answer names the commands and flags.
	r := mustCLI(t, nil, exitOK, "__complete", "rot")
	if !strings.Contains(r.stdout, "rotate\t") {
		t.Errorf("__complete rot: %q, want rotate", r.stdout)
	}
	r = mustCLI(t, nil, exitOK, "__complete", "rotate", "--keep")
	if !strings.Contains(r.stdout, "--keep-active\t") {
		t.Errorf("__complete rotate --keep: %q, want --keep-active", r.stdout)
	}
	// Values of a list: each command's formats, the levels.
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"status", "--format", ""}, []string{"table", "wide", "json", "yaml", "csv"}},
		{[]string{"lineage", "--format", ""}, []string{"mermaid", "dot"}},
		{[]string{"rotate", "--verbosity", ""}, []string{"debug", "info", "warning", "error"}},
	} {
		r := mustCLI(t, nil, exitOK, append([]string{"__complete"}, tt.args...)...)
		var got []string
		for _, line := range strings.Split(r.stdout, "\n") {
			if line != "" && !strings.HasPrefix(line, ":") {
				got = append(got, strings.SplitN(line, "\t", 2)[0])
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("__complete %v: %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestMistypedCommandsAndFlagsGetTheClosest(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"stauts"}, `imagefamily: unknown command "stauts": did you mean status? (run imagefamily --help)`},
		{[]string{"rotate", "--project", "acme-images", "--family", "web", "--dry-rn"}, "imagefamily rotate: unknown flag --dry-rn: did you mean --dry-run? (run imagefamily rotate --help)"},
		{[]string{"rotate", "--project", "acme-images", "--family", "web", "--keep-actve", "3"}, "imagefamily rotate: unknown flag --keep-actve: did you mean --keep-active? (run imagefamily rotate --help)"},
		{[]string{"status", "--project", "acme-images", "--famliy", "web"}, "imagefamily status: unknown flag --famliy: did you mean --family? (run imagefamily status --help)"},
		{[]string{"status", "--verbosty", "debug"}, "imagefamily status: unknown flag --verbosty: did you mean --verbosity? (run imagefamily status --help)"},
		{[]string{"rotate", "--zzzz"}, "imagefamily rotate: unknown flag --zzzz (run imagefamily rotate --help)"},
		{[]string{"status", "-x"}, "imagefamily status: unknown flag -x (run imagefamily status --help)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := mustCLI(t, nil, exitUsage, tt.args...)
			if got := strings.TrimSuffix(r.stderr, "\n"); got != tt.want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestVerbosityDecidesWhatStderrGets(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	summary := "imagefamily rotate: 1 family, 2 actions planned (dry run: nothing done); 0 families not rotated\n"
	tests := []struct {
		name   string
		flags  []string
		code   int
		stderr string
	}{
		{"default", nil, exitOK, summary},
		{"info", []string{"--verbosity", "info"}, exitOK, summary},
		{"quiet", []string{"-q"}, exitOK, ""},
		{"quiet long", []string{"--quiet"}, exitOK, ""},
		{"warning", []string{"--verbosity", "warning"}, exitOK, ""},
		{"error", []string{"--verbosity=error"}, exitOK, ""},
		{"a level that is none", []string{"--verbosity", "loud"}, exitUsage, `imagefamily rotate: --verbosity "loud": must be debug, info, warning or error` + "\n"},
		{"quiet against debug", []string{"-q", "--verbosity", "debug"}, exitUsage,
			"imagefamily rotate: --quiet and --verbosity debug contradict each other: --quiet is --verbosity error; give one\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"rotate", "--project", "acme-images", "--family", "web", "--dry-run"}, tt.flags...)
			r := mustCLI(t, env, tt.code, args...)
			if r.stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", r.stderr, tt.stderr)
			}
		})
	}
	// Errors are said whatever the level.
	r := mustCLI(t, env, exitUsage, "status", "-q", "--project", "acme-images")
	if !strings.Contains(r.stderr, "--family is required") {
		t.Errorf("-q swallowed the error: %q", r.stderr)
	}
}

func TestLogHTTPLogsEachCallWithTheTokenRedacted(t *testing.T) {
	env := emu(t, emulator.Options{})
	webFamily(t, env)
	const token = "ya29.secret-token-value"
	tests := []struct {
		name      string
		verbosity string
		want      []string
	}{
		{"info", "info", []string{"imagefamily status: http GET http://127.0.0.1:", "/compute/v1/projects/acme-images/global/images", " 200 "}},
		{"debug has the bodies", "debug", []string{"response_body=", `\"name\":\"web-v6\"`, "request_headers=", "Authorization: Bearer REDACTED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCLI(t, env, exitOK, "status", "--project", "acme-images", "--family", "web", "--log-http",
				"--verbosity", tt.verbosity, "--access-token", token)
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not hold %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, token) {
				t.Errorf("the access token reached the log:\n%s", r.stderr)
			}
		})
	}
	if r := mustCLI(t, env, exitOK, "status", "--project", "acme-images", "--family", "web", "--log-http", "-q"); r.stderr != "" {
		t.Errorf("--log-http -q: stderr %q, want nothing", r.stderr)
	}
}

// gcloudConfig writes a gcloud configuration directory whose active
// configuration NAME has [core] project = project.
func gcloudConfig(t *testing.T, name, project string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "configurations"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "active_config"), []byte(name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ini := "[core]\naccount = ops@example.com\nproject = " + project + "\n\n[compute]\nzone = europe-west1-b\n"
	if err := os.WriteFile(filepath.Join(dir, "configurations", "config_"+name), []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTheProjectComesFromTheFlagThenTheEnvironmentThenGcloud(t *testing.T) {
	env := emu(t, emulator.Options{})
	for _, p := range []string{"from-flag", "from-core-env", "from-google-env", "from-gcloud"} {
		put(t, env, p, "web", "web-"+p, day)
	}
	gcloud := gcloudConfig(t, "work", "from-gcloud")
	tests := []struct {
		name string
		flag []string
		vars map[string]string
		want string
	}{
		{"the flag wins", []string{"--project", "from-flag"}, map[string]string{"CLOUDSDK_CORE_PROJECT": "from-core-env", "CLOUDSDK_CONFIG": gcloud}, "from-flag"},
		{"CLOUDSDK_CORE_PROJECT next", nil, map[string]string{"CLOUDSDK_CORE_PROJECT": "from-core-env", "GOOGLE_CLOUD_PROJECT": "from-google-env", "CLOUDSDK_CONFIG": gcloud}, "from-core-env"},
		{"GOOGLE_CLOUD_PROJECT next", nil, map[string]string{"GOOGLE_CLOUD_PROJECT": "from-google-env", "CLOUDSDK_CONFIG": gcloud}, "from-google-env"},
		{"the active gcloud configuration last", nil, map[string]string{"CLOUDSDK_CONFIG": gcloud}, "from-gcloud"},
		{"gcloud under HOME", nil, map[string]string{"HOME": homeWith(t, gcloud)}, "from-gcloud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cliEnv(t, env, tt.vars, append([]string{"status", "--family", "web", "--format", "json"}, tt.flag...)...)
			if r.code != exitOK || !strings.Contains(r.stdout, `"project": "`+tt.want+`"`) {
				t.Errorf("exit %d, stdout %s stderr %s: want project %s", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

// homeWith makes a home directory whose ~/.config/gcloud is gcloud.
func homeWith(t *testing.T, gcloud string) string {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".config"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(gcloud, filepath.Join(home, ".config", "gcloud")); err != nil {
		t.Fatal(err)
	}
	return home
}

func TestAProjectThePluginRefusesIsRefusedWhereverItComesFrom(t *testing.T) {
	rule := `is not a Google Cloud project ID: 6 to 30 lower-case letters, digits and "-", starting with a letter and not ending with "-" (e.g. acme-images)`
	tests := []struct {
		name string
		flag []string
		vars map[string]string
		want string
	}{
		{"flag acme1", []string{"--project", "acme1"}, nil, `--project "acme1" ` + rule},
		{"flag ab", []string{"--project", "ab"}, nil, `--project "ab" ` + rule},
		{"flag x:y", []string{"--project", "x:y"}, nil, `--project "x:y" ` + rule},
		{"CLOUDSDK_CORE_PROJECT", nil, map[string]string{"CLOUDSDK_CORE_PROJECT": "Acme"}, `CLOUDSDK_CORE_PROJECT "Acme" ` + rule + ": correct it there, or pass --project"},
		{"GOOGLE_CLOUD_PROJECT", nil, map[string]string{"GOOGLE_CLOUD_PROJECT": "ab"}, `GOOGLE_CLOUD_PROJECT "ab" ` + rule + ": correct it there, or pass --project"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cliEnv(t, nil, tt.vars, append([]string{"status", "--family", "web"}, tt.flag...)...)
			if got := strings.TrimSuffix(r.stderr, "\n"); r.code != exitUsage || got != "imagefamily status: "+tt.want {
				t.Errorf("exit %d, stderr:\n%s\nwant:\nimagefamily status: %s", r.code, got, tt.want)
			}
		})
	}
	gcloud := gcloudConfig(t, "default", "x:y")
	r := cliEnv(t, nil, map[string]string{"CLOUDSDK_CONFIG": gcloud}, "status", "--family", "web")
	want := `the project of gcloud configuration default (` + filepath.Join(gcloud, "configurations", "config_default") + `) "x:y" ` + rule
	if !strings.Contains(r.stderr, want) || r.code != exitUsage {
		t.Errorf("exit %d, stderr:\n%s\nwant it to hold:\n%s", r.code, r.stderr, want)
	}
}
