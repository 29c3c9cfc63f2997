package main

import (
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// intValue is an integer flag whose parse error states the rule.
type intValue struct {
	p    *int
	rule string
}

func (v intValue) String() string { return strconv.Itoa(*v.p) }
func (v intValue) Type() string   { return "int" }

func (v intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a whole number: " + v.rule)
	}
	*v.p = n
	return nil
}

func intVar(fs *pflag.FlagSet, p *int, name, rule, usage string) {
	fs.Var(intValue{p, rule}, name, usage)
}

// boolValue is a boolean flag (--x, --x=true, --x=false) whose parse error
// states the rule.
type boolValue struct{ p *bool }

func (v boolValue) String() string { return strconv.FormatBool(*v.p) }
func (v boolValue) Type() string   { return "bool" }

func (v boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("must be true or false")
	}
	*v.p = b
	return nil
}

func boolVar(fs *pflag.FlagSet, p *bool, name, usage string) *pflag.Flag {
	fs.Var(boolValue{p}, name, usage)
	f := fs.Lookup(name)
	f.NoOptDefVal = "true"
	return f
}

// listValue collects a repeatable flag, one value per use.
type listValue struct{ p *[]string }

func (v listValue) String() string { return strings.Join(*v.p, ",") }
func (v listValue) Type() string   { return "stringArray" }

func (v listValue) Set(s string) error {
	*v.p = append(*v.p, s)
	return nil
}

// Flag groups: the help lists each under its own heading, and docs/cli.md
// documents the shared groups once.
const (
	annotationGroup = "imagefamily-group"
	groupPolicy     = "policy"
	groupLease      = "lease"
	groupConnection = "connection"
)

// group puts the flags that define registers in fs under the named group.
func group(fs *pflag.FlagSet, name string, define func()) {
	before := map[string]bool{}
	fs.VisitAll(func(f *pflag.Flag) { before[f.Name] = true })
	define()
	fs.VisitAll(func(f *pflag.Flag) {
		if !before[f.Name] {
			_ = fs.SetAnnotation(f.Name, annotationGroup, []string{name})
		}
	})
}

func groupOf(f *pflag.Flag) string {
	if g := f.Annotations[annotationGroup]; len(g) > 0 {
		return g[0]
	}
	return ""
}

// flagError rewrites pflag's messages as this CLI writes them: the flag
// with two dashes, the value, the rule; and for a flag the command does not
// have, the closest one it has.
func flagError(c *cobra.Command, err error) error {
	var (
		notExist *pflag.NotExistError
		required *pflag.ValueRequiredError
		invalid  *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &invalid):
		return usagef("--%s %q: %v", invalid.GetFlag().Name, invalid.GetValue(), errors.Unwrap(invalid))
	case errors.As(err, &required):
		return usagef("--%s needs a value", required.GetFlag().Name)
	case errors.As(err, &notExist):
		msg := "unknown flag --" + notExist.GetSpecifiedName()
		if short := notExist.GetSpecifiedShortnames(); short != "" {
			// -x: a shorthand the command does not have; one letter is too
			// little to guess from.
			msg = "unknown flag -" + notExist.GetSpecifiedName()
		} else if s := closestFlag(c, notExist.GetSpecifiedName()); s != "" {
			msg += ": did you mean " + s + "?"
		}
		return usagef("%s (run %s --help)", msg, c.CommandPath())
	}
	return usagef("%v (run %s --help)", err, c.CommandPath())
}

// closestFlag is the command's flag nearest to name by Levenshtein distance
// (written --name), or one that name starts (--keep for --keep-active); ""
// when none is close enough to be what was meant.
func closestFlag(c *cobra.Command, name string) string {
	name = strings.TrimLeft(name, "-")
	if name == "" {
		return ""
	}
	type candidate struct {
		flag     string
		distance int
	}
	var cands []candidate
	seen := map[string]bool{}
	add := func(f *pflag.Flag) {
		if f.Hidden || seen[f.Name] {
			return
		}
		seen[f.Name] = true
		d := levenshtein.Distance(name, f.Name, nil)
		limit := max(2, len(name)/3)
		switch {
		case strings.HasPrefix(f.Name, name) && len(name) >= 2 && d > 1:
			cands = append(cands, candidate{f.Name, 1})
		case d <= limit:
			cands = append(cands, candidate{f.Name, d})
		}
	}
	c.Flags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	if len(cands) == 0 {
		return ""
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].distance != cands[j].distance {
			return cands[i].distance < cands[j].distance
		}
		return cands[i].flag < cands[j].flag
	})
	return "--" + cands[0].flag
}

// longFlagsWithOneDash rewrites -name and -name=value to --name... for the
// long flags of the command args run, as Go's flag package (which this CLI
// used to parse with) accepts them. An argument that is the value of the
// flag before it, and everything after "--", stays as it is.
func longFlagsWithOneDash(root *cobra.Command, args []string) []string {
	c, _, err := root.Find(args)
	if err != nil {
		c = root
	}
	long := map[string]*pflag.Flag{}
	for p := c; p != nil; p = p.Parent() {
		for _, fs := range []*pflag.FlagSet{p.Flags(), p.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { long[f.Name] = f })
		}
	}
	long["help"] = &pflag.Flag{Name: "help", NoOptDefVal: "true"}
	out := make([]string, 0, len(args))
	takesValue := false
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if takesValue {
			out = append(out, a)
			takesValue = false
			continue
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 {
			name, _, hasValue := strings.Cut(a[1:], "=")
			if f, ok := long[name]; ok {
				a = "-" + a
				takesValue = !hasValue && f.NoOptDefVal == ""
			}
		} else if strings.HasPrefix(a, "--") {
			name, _, hasValue := strings.Cut(a[2:], "=")
			if f, ok := long[name]; ok {
				takesValue = !hasValue && f.NoOptDefVal == ""
			}
		}
		out = append(out, a)
	}
	return out
}

// noArgs refuses positional arguments, saying what to write instead.
func noArgs(hint string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q: %s", args[0], hint)
		}
		return nil
	}
}

// maxArgs refuses more than n positional arguments, saying what to write.
func maxArgs(n int, hint string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("unexpected argument %q: %s", args[n], hint)
		}
		return nil
	}
}
