// Command imagefamily is the operator's side of the suite: status, rotation,
// rollback, revoke, outdated-children report, the lineage picture, naming,
// and the local Compute Engine emulator. Flags and output live here; decisions live in
// internal/lifecycle, execution of rotation plans in internal/apply.
// docs/cli.md documents every command, flag, output format and exit code.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitPartial  = 1 // some actions failed, the others are done
	exitUsage    = 2 // bad flag, value or configuration
	exitFindings = 3 // a report command found something (e.g. outdated)
	exitBusy     = 5 // another imagefamily command holds the family's lease
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// command is one subcommand: it parses args itself and returns the exit code.
type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

var commands = []command{
	{"status", "every image of a family: state, dates, protection, next step", cmdStatus},
	{"rotate", "deprecate, obsolete, mark deleted and purge old images of families", cmdRotate},
	{"rollback", "move a family back to an older image (never un-deprecates)", cmdRollback},
	{"revoke", "make an image (and its descendants) OBSOLETE now, with a reason", cmdRevoke},
	{"outdated", "family heads built on a parent that is no longer its family's head", cmdOutdated},
	{"lineage", "draw the image hierarchy (Mermaid or DOT): heads, parents, outdated, revoked", cmdLineage},
	{"name", "print the conventional name of an image", cmdName},
	{"emulator", "run the local Compute Engine emulator", nil},
}

// run is the whole CLI: tests call it in-process with their own writers and
// environment.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "--help", "help":
		usage(stdout)
		return exitOK
	case "emulator":
		return emulatorCommand(ctx, rest, stdout, stderr)
	}
	for _, c := range commands {
		if c.name == name && c.run != nil {
			return c.run(&env{ctx: ctx, cmd: name, stdout: stdout, stderr: stderr, getenv: getenv}, rest)
		}
	}
	fmt.Fprintf(stderr, "imagefamily: unknown command %q (run imagefamily --help)\n", name)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: imagefamily COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s  %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun imagefamily COMMAND --help for its flags; docs/cli.md has them all.\n")
}
