package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// nameOutput is name's JSON output (docs/schemas/name.schema.json).
type nameOutput struct {
	FormatVersion int              `json:"format_version"`
	Name          string           `json:"name"`
	Template      string           `json:"template"`
	Pattern       string           `json:"pattern"`
	Timestamp     *textfmt.Instant `json:"timestamp"`
	Shortened     bool             `json:"shortened"`
}

func (o nameOutput) table(w io.Writer, wide bool, _ int) {
	fmt.Fprintln(w, o.Name)
	if wide {
		fmt.Fprintf(w, "template:  %s\npattern:   %s\nshortened: %t\n", o.Template, o.Pattern, o.Shortened)
	}
}

func (o nameOutput) rows() [][]string {
	return [][]string{{"name", "template", "pattern", "timestamp", "shortened"},
		{o.Name, o.Template, o.Pattern, stampI(o.Timestamp), fmt.Sprint(o.Shortened)}}
}

func newNameCommand(e *env) *cobra.Command {
	var (
		conv    lifecycle.Convention
		tsFlag  string
		format  string
		tplFlag string
	)
	c := &cobra.Command{
		Use:   "name --os OS --software SW --version V",
		Short: "print the conventional name of an image",
		Long: `Prints the conventional image name: the template (default
{os}-{software}-{version}-v{timestamp}) filled with the sanitised parts and the
timestamp (default now), shortened deterministically to 63 characters.`,
		Example: `  imagefamily name --os debian-12 --software nginx --version 1.24.0`,
		Args:    noArgs("name takes flags only"),
	}
	fs := c.Flags()
	fs.StringVar(&conv.OS, "os", "", "`OS` part of the name, e.g. debian-12")
	fs.StringVar(&conv.Software, "software", "", "`SW` (software) part of the name, e.g. nginx")
	fs.StringVar(&conv.Version, "version", "", "`V` (version) part of the name, e.g. 1.24.0")
	fs.StringVar(&tplFlag, "template", "", "naming `template` using {os}, {software}, {version}, {timestamp}")
	fs.StringVar(&tsFlag, "timestamp", "", "build `TIME`, RFC 3339 (default now)")
	registerFormat(fs, &format)
	c.RunE = e.runE(func([]string) int {
		if err := checkFormat(fs, format); err != nil {
			return e.fail(err, exitUsage)
		}
		conv.Template = tplFlag
		ts := clock().UTC()
		if tsFlag != "" {
			var err error
			if ts, err = time.Parse(time.RFC3339, tsFlag); err != nil {
				return e.fail(usagef("--timestamp %q: not an RFC 3339 time: write it like 2026-11-26T06:47:30Z", tsFlag), exitUsage)
			}
		}
		n, err := conv.Name(ts)
		if err != nil {
			return e.fail(usageError{spelled(err, flagName)}, exitUsage)
		}
		pattern, _ := conv.Pattern()
		out := nameOutput{FormatVersion: formatVersion, Name: n.String(), Template: conv.TemplateOrDefault(), Pattern: pattern, Shortened: n.Shortened()}
		if p := n.Parts(); !p.Timestamp.IsZero() {
			out.Timestamp = textfmt.AtPtr(&p.Timestamp)
		}
		if err := e.write(format, out); err != nil {
			return e.fail(err, exitPartial)
		}
		return exitOK
	})
	return c
}
