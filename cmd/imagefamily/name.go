package main

import (
	"fmt"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

const nameUsage = `usage: imagefamily name --os OS --software SW --version V [--template T] [--timestamp TIME] [--format table|json]

Prints the conventional image name: the template (default
{os}-{software}-{version}-v{timestamp}) filled with the sanitised parts and the
timestamp (default now), shortened deterministically to 63 characters.

flags:
  --os OS              operating system part, e.g. debian-12
  --software SW        software part, e.g. nginx
  --version V          version part, e.g. 1.24.0
  --template T         naming template using {os}, {software}, {version}, {timestamp}
  --timestamp TIME     build time, RFC 3339 (default now)
  --format table|json  table prints the name alone (default table)
`

// nameOutput is name's JSON output (docs/cli.md).
type nameOutput struct {
	Name      string     `json:"name"`
	Template  string     `json:"template"`
	Pattern   string     `json:"pattern"`
	Timestamp *time.Time `json:"timestamp"`
	Shortened bool       `json:"shortened"`
}

func cmdName(e *env, args []string) int {
	var (
		conv    lifecycle.Convention
		tsFlag  string
		format  string
		tplFlag string
	)
	fs := newFlagSet("name")
	fs.StringVar(&conv.OS, "os", "", "")
	fs.StringVar(&conv.Software, "software", "", "")
	fs.StringVar(&conv.Version, "version", "", "")
	fs.StringVar(&tplFlag, "template", "", "")
	fs.StringVar(&tsFlag, "timestamp", "", "")
	registerFormat(fs, &format)
	pos, exit, done := e.parse(fs, args, nameUsage)
	if done {
		return exit
	}
	if len(pos) > 0 {
		return e.fail(usagef("unexpected argument %q: name takes flags only", pos[0]), exitUsage)
	}
	if err := checkFormat(format); err != nil {
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
	if format == "json" {
		pattern, _ := conv.Pattern()
		out := nameOutput{Name: n.String(), Template: conv.TemplateOrDefault(), Pattern: pattern, Shortened: n.Shortened()}
		if p := n.Parts(); !p.Timestamp.IsZero() {
			t := p.Timestamp.UTC()
			out.Timestamp = &t
		}
		if err := writeJSON(e.stdout, out); err != nil {
			return e.fail(err, exitPartial)
		}
		return exitOK
	}
	fmt.Fprintln(e.stdout, n.String())
	return exitOK
}
