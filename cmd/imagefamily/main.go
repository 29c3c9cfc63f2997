// Command imagefamily is the operator's side of the suite: status, rotation,
// rollback, revoke, outdated-children report, naming, and the local Compute
// Engine emulator. Flags and output live here; decisions live in
// internal/lifecycle.
package main

import (
	"fmt"
	"os"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitPartial  = 1 // some actions failed, the others are done
	exitUsage    = 2 // bad flag, value or configuration
	exitFindings = 3 // a report command found something (e.g. outdated)
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "emulator":
		return runEmulator(rest)
	case "-h", "--help", "help":
		usage()
		return exitOK
	default:
		fmt.Fprintf(os.Stderr, "imagefamily: unknown command %q (run imagefamily --help)\n", cmd)
		return exitUsage
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: imagefamily COMMAND [flags]

commands:
  emulator   run the local Compute Engine emulator
`)
}
