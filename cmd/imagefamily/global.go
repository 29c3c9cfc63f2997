package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
)

// Levels of --verbosity, ordered: a message is written when its level is at
// least the one asked for.
const (
	levelDebug   = slog.LevelDebug
	levelInfo    = slog.LevelInfo
	levelWarning = slog.LevelWarn
	levelError   = slog.LevelError
)

var verbosities = []struct {
	name  string
	level slog.Level
	says  string
}{
	{"debug", levelDebug, "everything, with --log-http the bodies of requests and answers too"},
	{"info", levelInfo, "progress, waits and the summary line on stderr (the default)"},
	{"warning", levelWarning, "warnings and errors only"},
	{"error", levelError, "errors only (what --quiet means)"},
}

// globalFlags are every command's: how much it says on stderr.
type globalFlags struct {
	quiet     bool
	verbosity string
	logHTTP   bool
	level     slog.Level
}

func (g *globalFlags) register(fs *pflag.FlagSet) {
	g.verbosity = "info"
	f := boolVar(fs, &g.quiet, "quiet", "write only errors on stderr: no progress, warnings or summary (--verbosity error)")
	f.Shorthand = "q"
	names := make([]string, len(verbosities))
	for i, v := range verbosities {
		names[i] = v.name
	}
	fs.StringVar(&g.verbosity, "verbosity", g.verbosity, "what stderr gets, by `LEVEL`: "+orList(names))
	boolVar(fs, &g.logHTTP, "log-http", "log each Compute Engine request and answer on stderr (method, URL, status, duration; bodies at --verbosity debug), credentials redacted")
}

// apply checks the flags and sets the level.
func (g *globalFlags) apply(e *env) error {
	found := false
	for _, v := range verbosities {
		if v.name == g.verbosity {
			g.level, found = v.level, true
		}
	}
	if !found {
		names := make([]string, len(verbosities))
		for i, v := range verbosities {
			names[i] = v.name
		}
		return usagef("--verbosity %q: must be %s", g.verbosity, orList(names))
	}
	if g.quiet {
		if g.verbosity != "info" && g.verbosity != "error" {
			return usagef("--quiet and --verbosity %s contradict each other: --quiet is --verbosity error; give one", g.verbosity)
		}
		g.level = levelError
	}
	return nil
}

// httpLogger is the logger --log-http writes to stderr; nil without it.
// --quiet silences it too: it is what the run says, not an error.
func (e *env) httpLogger() *slog.Logger {
	if !e.global.logHTTP || e.global.level > levelInfo {
		return nil
	}
	return slog.New(&lineHandler{w: e.stderr, prefix: e.prefix(), level: e.global.level})
}

// lineHandler writes a record as one line, "imagefamily CMD: http GET URL
// 200 12ms key=value...": the CLI's own line format, without slog's time
// and level fields, so that a log read next to the other lines reads alike.
type lineHandler struct {
	w      io.Writer
	prefix string
	level  slog.Level
	attrs  []slog.Attr
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prefix)
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		v := a.Value.String()
		switch a.Key {
		case "method", "url", "status", "duration":
			b.WriteString(" " + v)
		default:
			if strings.ContainsAny(v, " \t\n\"") {
				v = fmt.Sprintf("%q", v)
			}
			b.WriteString(" " + a.Key + "=" + v)
		}
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	b.WriteString("\n")
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
