package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/version"
)

// versionLine is what --version and `imagefamily version` print: the one
// version of the project (goreleaser stamps version.Version through
// -ldflags, and clears the -dev prerelease), the commit when the binary was
// built from a checkout, and the Go toolchain and platform.
func versionLine() string {
	line := "imagefamily " + version.PluginVersion.FormattedVersion()
	if rev := buildRevision(); rev != "" {
		line += " (commit " + rev + ")"
	}
	return line + fmt.Sprintf(" %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// buildRevision is the commit go build recorded (first 12 digits, "+dirty"
// for a modified tree); "" when it recorded none (go test, go run).
func buildRevision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && modified == "true" {
		rev += "+dirty"
	}
	return rev
}

func newVersionCommand(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version of imagefamily",
		Long: `Prints the version of imagefamily (the same as the Packer plugin's of the same
release), the commit it was built from when known, and the Go version and
platform it was built with. --version prints the same line.`,
		Args: noArgs("version takes no arguments"),
		RunE: e.runE(func([]string) int {
			fmt.Fprintln(e.stdout, versionLine())
			return exitOK
		}),
	}
}
