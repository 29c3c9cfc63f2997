// Command imagefamily is the operator's side of the suite: status, rotation,
// rollback, revoke, outdated-children report, the lineage picture, naming,
// plans to apply later, and the local Compute Engine emulator. Flags and
// output live here; decisions live in internal/lifecycle, execution of plans
// in internal/apply. docs/cli.md, generated from these command definitions
// (go generate), documents every command, flag, output format and exit code.
package main

//go:generate go run . __docs ../../docs/cli.md

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitPartial  = 1 // some actions failed, the others are done
	exitUsage    = 2 // bad flag, value or configuration
	exitFindings = 3 // a report command found something (e.g. outdated)
	exitEmpty    = 4 // the family has no images (a typo, unless --allow-empty)
	exitBusy     = 5 // another imagefamily command holds the family's lease
)

// exitCodes documents the codes (docs/cli.md is written from it).
var exitCodes = []struct {
	code    int
	meaning string
}{
	{exitOK, "done (for a dry run: planned)"},
	{exitPartial, "some actions failed, or something could not be read; every other action was still carried out and is in the output"},
	{exitUsage, "usage or configuration error: one line on stderr naming the flag, the value and the rule; nothing was changed"},
	{exitFindings, "a report command found something (`outdated`: at least one head is outdated)"},
	{exitEmpty, "a family named with `--family` has no images (`status`, `rotate`, `rollback`, `outdated`; an IMAGE `status` does not find in the family): most often a typo; the message names the project and the closest families there. `--allow-empty` makes it exit 0 for a job that means it (not `rollback`: there is nothing to roll back to)"},
	{exitBusy, "another `imagefamily` command (or a release, a promotion) holds the lease of a family this command was to change, past `--lease-wait`; nothing was done to that family. The message names the holder, the image carrying the lease and when it expires"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the whole CLI: tests call it in-process with their own writers and
// environment. Each call builds its own command tree, so calls share no
// state.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	// stderr is written from several goroutines (the HTTP log of requests
	// in flight, progress, waits): one line at a time.
	e := &env{ctx: ctx, stdout: stdout, stderr: &lockedWriter{w: stderr}, getenv: getenv}
	root := newRootCommand(e)
	args = longFlagsWithOneDash(root, args)
	if c, _, err := root.Find(args); err == nil && c != root {
		e.cmd = strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
	}
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		return e.fail(err, exitUsage)
	}
	return e.code
}

func newRootCommand(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "imagefamily COMMAND",
		Short: "immutable VM image families on Compute Engine",
		Long: `imagefamily shows, rotates, rolls back and revokes the images of Compute Engine
image families, finds heads built on outdated parents, prints conventional
image names, and runs a local Compute Engine emulator. Plans made with
--dry-run --out FILE are carried out later by imagefamily apply FILE.`,
		Version:       versionLine(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// A word that names no command is an error with a suggestion; no
		// word at all prints the usage.
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(c, args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			c.SetOut(e.stderr)
			_ = c.Usage()
			e.code = exitUsage
			return nil
		},
		PersistentPreRunE: func(c *cobra.Command, _ []string) error { return e.global.apply(e) },
	}
	root.SuggestionsMinimumDistance = 2
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return flagError(c, err) })
	root.CompletionOptions.HiddenDefaultCmd = false
	e.global.register(root.PersistentFlags())
	installHelp(root)
	root.AddCommand(
		newStatusCommand(e),
		newRotateCommand(e),
		newRollbackCommand(e),
		newRevokeCommand(e),
		newApplyCommand(e),
		newOutdatedCommand(e),
		newLineageCommand(e),
		newNameCommand(e),
		newEmulatorCommand(e),
		newVersionCommand(e),
		newDocsCommand(e),
	)
	// The completion command cobra adds is made here rather than on the
	// first Execute, so that the docs and the help list it too.
	root.InitDefaultCompletionCmd()
	completeValues(root)
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Short = "the shell completion script for bash, zsh, fish or powershell"
		}
	}
	return root
}

// unknownCommand says which command was meant, when one is close.
func unknownCommand(root *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if s := root.SuggestionsFor(name); len(s) > 0 {
		msg += ": did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef("%s (run imagefamily --help)", msg)
}

// runE adapts a command body that returns its exit code to cobra.
func (e *env) runE(body func(args []string) int) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		e.code = body(args)
		return nil
	}
}

// lockedWriter serialises writes to w; Unwrap gives w, for the terminal
// checks.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (l *lockedWriter) Unwrap() io.Writer { return l.w }

// unwrap is the writer under any lockedWriter.
func unwrap(w io.Writer) io.Writer {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// completeValues has the shells complete the values of the flags that take
// one of a list: --format (each command's own formats) and --verbosity.
func completeValues(root *cobra.Command) {
	levels := make([]string, len(verbosities))
	for i, v := range verbosities {
		levels[i] = v.name + "\t" + v.says
	}
	_ = root.RegisterFlagCompletionFunc("verbosity", cobra.FixedCompletions(levels, cobra.ShellCompDirectiveNoFileComp))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if f := c.Flags().Lookup("format"); f != nil {
			if formats, ok := f.Annotations[annotationFormats]; ok {
				_ = c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
