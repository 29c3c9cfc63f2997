package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// annotationDocs holds Markdown that docs/cli.md adds to a command's help
// text: what a reference page says beyond --help.
const annotationDocs = "imagefamily-docs"

// docs/cli.md is written from the command tree by `imagefamily __docs FILE`
// (go generate ./cmd/imagefamily); TestDocsMatchTheCommands fails when the
// file and the commands differ.

const docsIntro = "# The `imagefamily` CLI\n\n" +
	"<!-- Generated from the command definitions by `go generate ./cmd/imagefamily`: do not edit. -->\n\n" +
	"`imagefamily` is the operator's side of the suite: it shows a family, rotates old\n" +
	"images, rolls a family back, revokes bad images, finds heads built on outdated\n" +
	"parents, prints conventional names, carries out reviewed plans, and runs the\n" +
	"local Compute Engine emulator. It decides nothing itself: every decision is made\n" +
	"by `internal/lifecycle` (the same code the Packer post-processor uses), and\n" +
	"plans are carried out by `internal/apply`.\n\n" +
	"Flags may be written `--flag value`, `--flag=value`, or with one dash; they may\n" +
	"come before or after positional arguments (`revoke IMAGE --descendants`);\n" +
	"everything after `--` is positional. A mistyped command or flag is answered\n" +
	"with the closest one (`unknown flag --keep-actvie: did you mean --keep-active?`).\n" +
	"`imagefamily COMMAND --help` prints a command's flags, 80 columns wide, and\n" +
	"exits 0. `imagefamily --version` and `imagefamily version` print the version\n" +
	"the release stamps (the Packer plugin's of the same release).\n\n" +
	"Errors go to stderr, one line each, prefixed with `imagefamily COMMAND:`,\n" +
	"naming the flag, the value and the rule. Output (table or document) goes to\n" +
	"stdout; progress, waits, retries and the summary line go to stderr.\n"

const docsProject = "The project is `--project`, else `$CLOUDSDK_CORE_PROJECT`, else\n" +
	"`$GOOGLE_CLOUD_PROJECT`, else the `[core] project` of the active gcloud\n" +
	"configuration (`$CLOUDSDK_CONFIG`, default `~/.config/gcloud`: the file\n" +
	"`active_config` names it, `configurations/config_NAME` holds it;\n" +
	"`$CLOUDSDK_ACTIVE_CONFIG_NAME` overrides the name). Wherever it comes from it is\n" +
	"checked by the rule the plugin applies to `project_id` (6 to 30 lower-case\n" +
	"letters, digits and `-`, starting with a letter), and a refusal names where it\n" +
	"came from.\n\n" +
	"With none of the three credential flags, application default credentials are\n" +
	"used. A plain `http://` endpoint (the emulator) with no credential flag gets no\n" +
	"authentication at all, so that real credentials never travel in clear text.\n"

const docsPolicy = "These are the post-processor's `rotation { ... }` block as flags, with dashes\n" +
	"instead of underscores and the same defaults. Durations are Go durations\n" +
	"(`168h`, `90m`) or days (`7d`, `1.5d`, `1d12h`). With `--check-in-use` (the\n" +
	"default) a failure to scan for users is an error for that family, never an\n" +
	"empty list.\n"

const docsLease = "Commands that change a family hold its lease while they do (see\n" +
	"[Acting while others act](concurrency.md)). A dry run changes nothing and\n" +
	"takes no lease.\n"

const docsOutput = "## Output formats\n\n" +
	"`--format` is `table` (the default: the columns that matter, fitted to the\n" +
	"terminal's width when stdout is one, else to `$COLUMNS` when set), `wide`\n" +
	"(every column, with the reasons), `json`, `yaml` (the same document) or `csv`\n" +
	"(one row per image or action, the header first). Every JSON and YAML document\n" +
	"carries `format_version` (1) and writes every time as RFC 3339 in UTC with\n" +
	"milliseconds, as Compute Engine does. Their JSON Schemas:\n\n" +
	"| command | schema |\n| --- | --- |\n" +
	"| `status` | [schemas/status.schema.json](schemas/status.schema.json) |\n" +
	"| `rotate` (and its `--report` file) | [schemas/rotate.schema.json](schemas/rotate.schema.json) |\n" +
	"| `rollback` | [schemas/rollback.schema.json](schemas/rollback.schema.json) |\n" +
	"| `revoke` | [schemas/revoke.schema.json](schemas/revoke.schema.json) |\n" +
	"| `apply` | [schemas/apply.schema.json](schemas/apply.schema.json) |\n" +
	"| `outdated` | [schemas/outdated.schema.json](schemas/outdated.schema.json) |\n" +
	"| `name` | [schemas/name.schema.json](schemas/name.schema.json) |\n" +
	"| plan files (`--out`) | [schemas/plan.schema.json](schemas/plan.schema.json) |\n\n" +
	"While actions are carried out, stderr shows the progress: on a terminal a\n" +
	"live line (done/total, rate, ETA, the parallelism, retries); elsewhere a line\n" +
	"every 10 s. A cut of the parallelism on quota errors is said as it happens\n" +
	"(`quota: parallelism 16 -> 8`). `--log-http` logs every Compute Engine call.\n"

const docsTesting = "## Testing the CLI\n\n" +
	"`go test ./cmd/imagefamily/` runs every command in-process against its own\n" +
	"emulator, with the clock fixed, and compares outputs with\n" +
	"`cmd/imagefamily/testdata/*.golden` (at 80 and 120 columns);\n" +
	"`go test ./cmd/imagefamily/ -update` rewrites them. This page is\n" +
	"regenerated with `go generate ./cmd/imagefamily`.\n"

func newDocsCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:    "__docs FILE",
		Short:  "write docs/cli.md from the command definitions",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: e.runE(func(args []string) int {
			var b bytes.Buffer
			writeDocs(&b, newRootCommand(&env{ctx: e.ctx, stdout: io.Discard, stderr: io.Discard}))
			if err := os.WriteFile(args[0], b.Bytes(), 0o644); err != nil {
				return e.fail(err, exitPartial)
			}
			return exitOK
		}),
	}
}

// writeDocs writes docs/cli.md for the command tree under root.
func writeDocs(w io.Writer, root *cobra.Command) {
	fmt.Fprint(w, docsIntro)
	fmt.Fprint(w, "\n```\n")
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			fmt.Fprintf(w, "%s\n", useLine(c))
		}
	}
	fmt.Fprint(w, "```\n\n## Exit codes\n\n| code | meaning |\n| --- | --- |\n")
	for _, x := range exitCodes {
		fmt.Fprintf(w, "| %d | %s |\n", x.code, x.meaning)
	}
	fmt.Fprint(w, "\nAn action that was not sent because what it relied on changed since it was\n"+
		"planned is *skipped* (see [Acting while others act](concurrency.md)): not a\n"+
		"failure for `rotate` (exit 0), but counted and reported apart from done and\n"+
		"failed actions; `apply` and `revoke` exit 1, as what was reviewed was not all\n"+
		"carried out.\n\n")

	fmt.Fprint(w, "## Global flags\n\nEvery command takes:\n\n")
	flagTable(w, root.PersistentFlags())
	fmt.Fprintf(w, "\nThe levels of `--verbosity`:\n\n| level | stderr gets |\n| --- | --- |\n")
	for _, v := range verbosities {
		fmt.Fprintf(w, "| `%s` | %s |\n", v.name, v.says)
	}
	status := find(root, "status")
	rotate := find(root, "rotate")
	shared := []struct {
		title, group, prose string
		from                *cobra.Command
	}{
		{"Connection flags", groupConnection, docsProject, status},
		{"Policy flags", groupPolicy, docsPolicy, rotate},
		{"Lease flags", groupLease, docsLease, rotate},
	}
	for _, g := range shared {
		fmt.Fprintf(w, "\n## %s\n\n", g.title)
		fmt.Fprintf(w, "Taken by %s.\n\n", andList(commandsWith(root, g.group)))
		flagTable(w, groupFlags(g.from, g.group))
		fmt.Fprintf(w, "\n%s", g.prose)
	}
	fmt.Fprint(w, "\n"+docsOutput)
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		fmt.Fprintf(w, "\n---\n\n## `%s`\n\n%s\n\n", c.CommandPath(), c.Short)
		fmt.Fprintf(w, "```\n%s\n```\n\n%s\n", useLine(c), fenceIndented(strings.TrimSpace(orDefault(c.Long, c.Short))))
		if d := c.Annotations[annotationDocs]; d != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(d))
		}
		if c.Example != "" {
			fmt.Fprintf(w, "\nExamples:\n\n```\n%s\n```\n", strings.TrimRight(c.Example, "\n"))
		}
		own := pflag.NewFlagSet("own", pflag.ContinueOnError)
		var groups []string
		c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if g := groupOf(f); g != "" {
				if !contains(groups, g) {
					groups = append(groups, g)
				}
				return
			}
			own.AddFlag(f)
		})
		if own.HasFlags() {
			fmt.Fprint(w, "\n")
			flagTable(w, own)
		}
		if len(groups) > 0 {
			var names []string
			for _, g := range groups {
				names = append(names, "the "+g+" flags")
			}
			fmt.Fprintf(w, "\nIt also takes %s (above).\n", andList(names))
		}
		if c.HasAvailableSubCommands() {
			fmt.Fprint(w, "\n| subcommand | does |\n| --- | --- |\n")
			for _, s := range c.Commands() {
				if s.IsAvailableCommand() {
					fmt.Fprintf(w, "| `%s` | %s |\n", s.Name(), s.Short)
				}
			}
		}
	}
	fmt.Fprint(w, "\n---\n\n"+docsTesting)
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func find(root *cobra.Command, name string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	panic("no command " + name)
}

func commandsWith(root *cobra.Command, group string) []string {
	var out []string
	for _, c := range root.Commands() {
		has := false
		c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) { has = has || groupOf(f) == group })
		if has && c.IsAvailableCommand() {
			out = append(out, "`"+c.Name()+"`")
		}
	}
	return out
}

func groupFlags(c *cobra.Command, group string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(group, pflag.ContinueOnError)
	c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		if groupOf(f) == group {
			fs.AddFlag(f)
		}
	})
	return fs
}

// flagTable writes the flags of fs as a Markdown table: flag, default,
// meaning.
func flagTable(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprint(w, "| flag | default | meaning |\n| --- | --- | --- |\n")
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name, usage := pflag.UnquoteUsage(f)
		spelled := "--" + f.Name
		if f.Shorthand != "" {
			spelled = "-" + f.Shorthand + ", " + spelled
		}
		if name != "" && f.NoOptDefVal == "" {
			spelled += " " + name
		}
		def := f.DefValue
		switch {
		case f.NoOptDefVal != "" && def == "false", def == "" || def == "[]":
			def = ""
		default:
			def = "`" + def + "`"
		}
		fmt.Fprintf(w, "| `%s` | %s | %s |\n", spelled, def, strings.ReplaceAll(usage, "|", "\\|"))
	})
}

// andList writes "a, b and c".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// fenceIndented puts the indented lines of a help text (the emulator's
// lists) in a code block, where Markdown keeps them as they are.
func fenceIndented(text string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(text, "\n") {
		indented := strings.HasPrefix(line, "  ")
		if indented != in {
			b.WriteString("```\n")
			in = indented
		}
		b.WriteString(line + "\n")
	}
	if in {
		b.WriteString("```\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}
