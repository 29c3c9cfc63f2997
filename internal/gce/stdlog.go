package gce

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// LogLevelEnv raises StdLog's HTTP log to debug when set to "debug": the
// request and response bodies too (redacted, each cut at 8 KiB). Packer
// passes its environment to plugins, and has no log level of its own.
const LogLevelEnv = "IMAGEFAMILY_LOG"

// StdLog are the options a Packer component dials with: each API request
// and its answer (WithHTTPLog, at info: method, URL, status, duration; the
// credentials redacted; the bodies too with IMAGEFAMILY_LOG=debug) and each
// retry (WithRetryNotify) logged on the standard log package as
// "[INFO] component: …" and "[WARN] component: …" lines. A plugin's
// standard error is Packer's log. The requests are logged only while Packer
// keeps its log (PACKER_LOG or PACKER_LOG_PATH set, as Packer decides): the
// logging transport is not built for a log nobody reads.
func StdLog(component string) []Option {
	opts := []Option{WithRetryNotify(func(r Retry) { LogRetry(component, r) })}
	if !packerLogs() {
		return opts
	}
	level := slog.LevelInfo
	if strings.EqualFold(os.Getenv(LogLevelEnv), "debug") {
		level = slog.LevelDebug
	}
	return append(opts, WithHTTPLog(slog.New(&stdHandler{component: component, level: level})))
}

// packerLogs is Packer's own test (v1.14.3, log.go) of whether it keeps the
// log: PACKER_LOG_PATH set, or PACKER_LOG set to anything but "0". Packer
// passes its environment to its plugins.
func packerLogs() bool {
	v := os.Getenv("PACKER_LOG")
	return os.Getenv("PACKER_LOG_PATH") != "" || v != "" && v != "0"
}

// LogRetry logs a retry on the standard log package, as StdLog does.
func LogRetry(component string, r Retry) {
	what := "error"
	if r.Quota {
		what = "quota or rate-limit error"
	}
	call := r.Method
	if r.Resource != "" {
		call += " " + r.Resource
	}
	log.Printf("[WARN] %s: retry: %s: attempt %d answered with a %s (%s): sending it again in %s",
		component, call, r.Attempt, what, textfmt.OneLine(fmt.Sprint(r.Err)), r.Wait.Round(1e6))
}

// stdHandler writes slog records on the standard log package in Packer's
// style, "[LEVEL] component: message key=value …", one line each.
type stdHandler struct {
	component string
	level     slog.Level
	attrs     []slog.Attr
}

func (h *stdHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *stdHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s: %s", packerLevel(r.Level), h.component, r.Message)
	write := func(a slog.Attr) bool {
		if a.Equal(slog.Attr{}) {
			return true
		}
		v := a.Value.Resolve().String()
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, v)
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	log.Print(b.String())
	return nil
}

func (h *stdHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

// WithGroup is not used by this package's loggers; a group's attributes are
// written without its name.
func (h *stdHandler) WithGroup(string) slog.Handler { return h }

// packerLevel is the bracketed level Packer's log readers look for.
func packerLevel(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARN"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}
