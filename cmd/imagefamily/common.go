package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// clock is the time mutations are stamped with and plans are made at (unless
// --at says otherwise). Tests set it so that outputs are deterministic.
var clock = time.Now

// gceOptions are passed to every gce.New; tests set a retry policy that does
// not sleep.
var gceOptions []gce.Option

// isTerminal reports whether w is a terminal; progress lines are written to
// stderr only then.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// env is what a command runs with.
type env struct {
	ctx    context.Context
	cmd    string
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// usageError is a bad flag, value or configuration: exit 2, one line.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// fail prints err as one line prefixed with the command and returns the exit
// code for it: 2 for a usage error, else code.
func (e *env) fail(err error, code int) int {
	var u usageError
	if errors.As(err, &u) {
		code = exitUsage
	}
	fmt.Fprintf(e.stderr, "imagefamily %s: %s\n", e.cmd, oneLine(err.Error()))
	return code
}

// warn prints a warning line on stderr.
func (e *env) warn(format string, args ...any) {
	fmt.Fprintf(e.stderr, "imagefamily %s: warning: %s\n", e.cmd, oneLine(fmt.Sprintf(format, args...)))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ---- flags ----

// newFlagSet makes a FlagSet that reports nothing itself: parse errors come
// back to the command, which prints them in one line.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("imagefamily "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

var (
	reInvalidValue = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-(\S+): (.*)$`)
	reUndefined    = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	reNeedsArg     = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
)

// parseArgs parses flags wherever they are among the positional arguments
// (`revoke IMAGE --descendants` as well as `revoke --descendants IMAGE`);
// everything after "--" is positional. It returns the positional arguments,
// or flag.ErrHelp, or a usageError in this CLI's wording.
func parseArgs(fs *flag.FlagSet, cmd string, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, flagError(err, cmd)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parse parses the command's arguments with fs (see parseArgs). done is
// true when the command is over before it starts, code then its exit code:
// --help printed usage to stdout (0), or a flag was wrong (2, reported).
func (e *env) parse(fs *flag.FlagSet, args []string, usage string) (pos []string, code int, done bool) {
	pos, err := parseArgs(fs, e.cmd, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(e.stdout, usage)
		return nil, exitOK, true
	}
	if err != nil {
		return nil, e.fail(err, exitUsage), true
	}
	return pos, exitOK, false
}

// flagError rewrites the flag package's messages as this CLI writes them:
// the flag with two dashes, the value, the rule.
func flagError(err error, cmd string) error {
	msg := err.Error()
	if m := reInvalidValue.FindStringSubmatch(msg); m != nil {
		return usagef("--%s %q: %s", m[2], m[1], m[3])
	}
	if m := reUndefined.FindStringSubmatch(msg); m != nil {
		return usagef("unknown flag --%s (run imagefamily %s --help)", m[1], cmd)
	}
	if m := reNeedsArg.FindStringSubmatch(msg); m != nil {
		return usagef("--%s needs a value", m[1])
	}
	return usagef("%s (run imagefamily %s --help)", msg, cmd)
}

// intFlag is an integer flag whose parse error states the rule.
type intFlag struct {
	p    *int
	rule string
}

func (f intFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strconv.Itoa(*f.p)
}

func (f intFlag) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("not a whole number: " + f.rule)
	}
	*f.p = n
	return nil
}

// boolFlag is a boolean flag (--x, --x=true, --x=false) whose parse error
// states the rule.
type boolFlag struct{ p *bool }

func (f boolFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strconv.FormatBool(*f.p)
}

func (f boolFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("must be true or false")
	}
	*f.p = v
	return nil
}

func (f boolFlag) IsBoolFlag() bool { return true }

// listFlag collects a repeatable flag.
type listFlag struct{ p *[]string }

func (f listFlag) String() string {
	if f.p == nil {
		return ""
	}
	return strings.Join(*f.p, ",")
}

func (f listFlag) Set(s string) error {
	*f.p = append(*f.p, s)
	return nil
}

// ---- common flags ----

// commonFlags are the connection and output flags every Compute Engine
// command takes.
type commonFlags struct {
	endpoint        string
	credentialsFile string
	accessToken     string
	impersonate     string
	project         string
	format          string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	c.registerConnection(fs)
	registerFormat(fs, &c.format)
}

// registerConnection registers the flags without --format, for a command
// whose output formats are its own (lineage).
func (c *commonFlags) registerConnection(fs *flag.FlagSet) {
	fs.StringVar(&c.endpoint, "endpoint", "", "")
	fs.StringVar(&c.credentialsFile, "credentials-file", "", "")
	fs.StringVar(&c.accessToken, "access-token", "", "")
	fs.StringVar(&c.impersonate, "impersonate-service-account", "", "")
	fs.StringVar(&c.project, "project", "", "")
}

func registerFormat(fs *flag.FlagSet, p *string) { fs.StringVar(p, "format", "table", "") }

func checkFormat(format string) error {
	if format != "table" && format != "json" {
		return usagef("--format %q: must be table or json", format)
	}
	return nil
}

// endpointEnv names the environment variable the CLI reads for the Compute
// Engine endpoint when --endpoint is not given (the same value as
// custom_endpoints.compute).
const endpointEnv = "IMAGEFAMILY_COMPUTE_ENDPOINT"

// check validates the common flags; the endpoint comes from --endpoint, else
// from IMAGEFAMILY_COMPUTE_ENDPOINT.
func (c *commonFlags) check(e *env) error {
	if err := checkFormat(c.format); err != nil {
		return err
	}
	return c.checkConnection(e)
}

// checkConnection is check without --format (see registerConnection).
func (c *commonFlags) checkConnection(e *env) error {
	if c.project == "" {
		return usagef("--project is required: name the project that holds the images, e.g. --project acme-images")
	}
	if err := pluginconfig.ValidateProjectID("--project", c.project); err != nil {
		return usageError{err.Error()}
	}
	if c.endpoint == "" && e.getenv != nil {
		if v := e.getenv(endpointEnv); v != "" {
			c.endpoint = v
			if _, err := pluginconfig.NormalizeEndpoint(v); err != nil {
				return usageError{spelled(err, func(string) string { return endpointEnv })}
			}
		}
	}
	auth := c.auth()
	if errs := auth.Prepare(); len(errs) > 0 {
		return usageError{spelled(errs[0], flagName)}
	}
	return nil
}

// flagName is the flag of an option as the domain and the templates name it
// (keep_active is --keep-active; custom_endpoints.compute is --endpoint).
func flagName(field string) string {
	if field == pluginconfig.FieldComputeEndpoint {
		return "--endpoint"
	}
	return "--" + strings.ReplaceAll(field, "_", "-")
}

// spelled is the first error err holds, its options named by name, on one
// line.
func spelled(err error, name func(string) string) string {
	first, _, _ := strings.Cut(lifecycle.Spell(err, name)[0].Error(), "\n")
	return first
}

func (c *commonFlags) auth() pluginconfig.Auth {
	a := pluginconfig.Auth{
		CredentialsFile:           c.credentialsFile,
		AccessToken:               pluginconfig.Secret(c.accessToken),
		ImpersonateServiceAccount: c.impersonate,
	}
	if c.endpoint != "" {
		a.CustomEndpoints = map[string]string{"compute": c.endpoint}
	}
	return a
}

// client builds the Compute Engine client; a failure is a configuration
// error (exit 2).
func (c *commonFlags) client(e *env) (gce.Compute, error) {
	cl, err := gce.New(e.ctx, c.auth(), gceOptions...)
	if err != nil {
		// Every client fails the same way (e.g. no application default
		// credentials): the first says it.
		return nil, usageError{"connecting to Compute Engine: " + spelled(err, flagName)}
	}
	return cl, nil
}

// ---- policy flags ----

// policyFlags are the post-processor's rotation block, with dashes.
type policyFlags struct {
	keepActive    int
	minAge        string
	obsoleteAfter string
	deleteAfter   string
	purgeAfter    string
	orphanGrace   string
	protectLabel  string
	checkInUse    bool
	inUseProjects string
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	d := lifecycle.DefaultPolicy()
	p.keepActive = d.KeepActive
	p.minAge = lifecycle.FormatDuration(d.MinAge)
	p.obsoleteAfter = lifecycle.FormatDuration(d.ObsoleteAfter)
	p.deleteAfter = lifecycle.FormatDuration(d.DeleteAfter)
	p.purgeAfter = lifecycle.FormatDuration(d.PurgeAfter)
	p.protectLabel = d.ProtectLabel
	p.checkInUse = d.CheckInUse
	fs.Var(intFlag{&p.keepActive, "use 0 or more, e.g. 2"}, "keep-active", "")
	fs.StringVar(&p.minAge, "min-age", p.minAge, "")
	fs.StringVar(&p.obsoleteAfter, "obsolete-after", p.obsoleteAfter, "")
	fs.StringVar(&p.deleteAfter, "delete-after", p.deleteAfter, "")
	fs.StringVar(&p.purgeAfter, "purge-after", p.purgeAfter, "")
	fs.StringVar(&p.orphanGrace, "orphan-grace", "", "")
	fs.StringVar(&p.protectLabel, "protect-label", p.protectLabel, "")
	fs.Var(boolFlag{&p.checkInUse}, "check-in-use", "")
	fs.StringVar(&p.inUseProjects, "in-use-projects", "", "")
}

// read is what rotate and status take from the policy flags: the policy and
// the --in-use-projects.
func (p *policyFlags) read() (lifecycle.Policy, []string, error) {
	pol, err := p.policy()
	if err != nil {
		return pol, nil, err
	}
	inUse, err := p.projects()
	return pol, inUse, err
}

// policy reads the flags into a lifecycle.Policy, checked as the release
// post-processor checks its rotation block; the first problem is reported,
// named by its flag.
func (p *policyFlags) policy() (lifecycle.Policy, error) {
	opts := lifecycle.PolicyOptions{
		KeepActive: &p.keepActive, MinAge: &p.minAge, ObsoleteAfter: &p.obsoleteAfter, DeleteAfter: &p.deleteAfter,
		PurgeAfter: &p.purgeAfter, ProtectLabel: &p.protectLabel, CheckInUse: &p.checkInUse,
	}
	if p.orphanGrace != "" {
		opts.OrphanGrace = &p.orphanGrace
	}
	pol, err := opts.Policy()
	if err != nil {
		return pol, usageError{spelled(err, flagName)}
	}
	return pol, nil
}

// projects is --in-use-projects as a list.
func (p *policyFlags) projects() ([]string, error) {
	return projectList("--in-use-projects", p.inUseProjects)
}

// projectList reads a comma-separated list of project IDs given to flag.
func projectList(flag, value string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(value, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if err := pluginconfig.ValidateProjectID("project", s); err != nil {
			return nil, usagef("%s %q: %v", flag, value, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// parseAt reads --at (RFC 3339); zero when unset.
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("--at %q: not an RFC 3339 time: write it like 2026-12-01T00:00:00Z", s)
	}
	return t.UTC(), nil
}

// ---- output ----

// writeJSON writes v indented, with a final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// stepOutcome is a step's OUTCOME column in rollback's and revoke's tables.
func stepOutcome(dryRun bool, o apply.Outcome, detail, err string) string {
	switch {
	case dryRun:
		return "planned"
	case o == apply.OutcomeFailed:
		return "FAILED: " + err
	case o == apply.OutcomeSkipped:
		return "skipped: " + detail
	case o == apply.OutcomeDone && detail != "":
		return "done (" + detail + ")"
	case o == apply.OutcomeDone:
		return "done"
	}
	return "not done"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
