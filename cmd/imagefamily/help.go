package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// helpWidth is what --help fits: 80 columns, whatever the terminal.
const helpWidth = 80

// groupTitles head the flag groups in --help, in this order after the
// command's own flags.
var groupTitles = []struct{ group, title string }{
	{groupPolicy, "Policy flags (the rotation block; durations like 168h, 7d, 1d12h):"},
	{groupLease, "Lease flags (commands that change a family hold its lease while they do):"},
	{groupConnection, "Connection flags:"},
}

// installHelp makes every command's --help the same shape: what it does,
// its usage, its flags by group, each wrapped to helpWidth.
func installHelp(root *cobra.Command) {
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		w := c.OutOrStdout()
		text := c.Long
		if text == "" {
			text = c.Short
		}
		fmt.Fprintf(w, "%s\n\n", fitLines(strings.TrimSpace(text), helpWidth))
		writeUsage(w, c)
	})
	root.SetUsageFunc(func(c *cobra.Command) error {
		writeUsage(c.OutOrStderr(), c)
		return nil
	})
}

func writeUsage(w io.Writer, c *cobra.Command) {
	fmt.Fprintf(w, "Usage:\n%s", wrapIndented("  ", useLine(c), helpWidth))
	if c.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", fitLines(strings.TrimRight(c.Example, "\n"), helpWidth))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		width := 0
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				width = max(width, len(sub.Name()))
			}
		}
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				fmt.Fprint(w, wrapIndented(fmt.Sprintf("  %-*s  ", width, sub.Name()), sub.Short, helpWidth))
			}
		}
	}
	for _, g := range flagGroups(c) {
		fmt.Fprintf(w, "\n%s\n%s", g.title, g.flags.FlagUsagesWrapped(helpWidth))
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprint(w, "\n"+wrapIndented("", fmt.Sprintf("Run %s COMMAND --help for a command's flags; docs/cli.md has them all.", c.CommandPath()), helpWidth))
	}
}

// useLine is the command's synopsis: its Use, with [flags] when it has any.
func useLine(c *cobra.Command) string {
	line := c.UseLine()
	if c.HasAvailableFlags() && !strings.Contains(line, "[flags]") {
		line += " [flags]"
	}
	return line
}

type flagGroup struct {
	title string
	flags *pflag.FlagSet
}

// flagGroups splits the command's flags into the groups --help and the docs
// show: its own, then policy, lease and connection flags, then the global
// ones (inherited from the root).
func flagGroups(c *cobra.Command) []flagGroup {
	own := pflag.NewFlagSet("own", pflag.ContinueOnError)
	grouped := map[string]*pflag.FlagSet{}
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		g := groupOf(f)
		if g == "" {
			own.AddFlag(f)
			return
		}
		if grouped[g] == nil {
			grouped[g] = pflag.NewFlagSet(g, pflag.ContinueOnError)
		}
		grouped[g].AddFlag(f)
	})
	var out []flagGroup
	if own.HasAvailableFlags() {
		out = append(out, flagGroup{"Flags:", own})
	}
	for _, t := range groupTitles {
		if fs := grouped[t.group]; fs != nil {
			out = append(out, flagGroup{t.title, fs})
		}
	}
	global := pflag.NewFlagSet("global", pflag.ContinueOnError)
	c.InheritedFlags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			global.AddFlag(f)
		}
	})
	if global.HasAvailableFlags() {
		out = append(out, flagGroup{"Global flags:", global})
	}
	return out
}

// wrapIndented writes head followed by text wrapped to width, continuation
// lines indented under the text's start.
func wrapIndented(head, text string, width int) string {
	indent := strings.Repeat(" ", len(head))
	var b strings.Builder
	line := head
	for _, word := range strings.Fields(text) {
		if len(line) > len(head) && len(line)+1+len(word) > width {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line + "\n")
	return b.String()
}

// fitLines wraps each line of text longer than width at its words, the
// continuation indented as the line is (cobra's own texts, e.g. the
// completion commands', have longer lines).
func fitLines(text string, width int) string {
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteString("\n")
		}
		line = strings.ReplaceAll(line, "\t", "    ")
		if len(line) <= width {
			b.WriteString(line)
			continue
		}
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		b.WriteString(strings.TrimSuffix(wrapIndented(indent, strings.TrimSpace(line), width), "\n"))
	}
	return b.String()
}
