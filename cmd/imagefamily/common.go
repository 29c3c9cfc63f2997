package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// clock is the time mutations are stamped with and plans are made at (unless
// --at says otherwise). Tests set it so that outputs are deterministic.
var clock = time.Now

// gceOptions are passed to every gce.New; tests set a retry policy that does
// not sleep.
var gceOptions []gce.Option

// isTerminal reports whether w is a terminal: progress is drawn live on
// stderr only then, and tables follow the width of a terminal stdout.
var isTerminal = func(w io.Writer) bool {
	f, ok := unwrap(w).(*os.File)
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
	global globalFlags
	// code is the exit code the command ran to.
	code int

	mu        sync.Mutex
	prog      *progress // the run's progress while one runs
	retries   int       // retries said outside a progress
	lastRetry time.Time
}

func (e *env) env(key string) string {
	if e.getenv == nil {
		return ""
	}
	return e.getenv(key)
}

// usageError is a bad flag, value or configuration: exit 2, one line.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// codeError is an error with its own exit code (exit 4 for an empty
// family).
type codeError struct {
	code int
	err  error
}

func (c codeError) Error() string { return c.err.Error() }
func (c codeError) Unwrap() error { return c.err }

// prefix starts every line the CLI writes on stderr.
func (e *env) prefix() string {
	if e.cmd == "" {
		return "imagefamily: "
	}
	return "imagefamily " + e.cmd + ": "
}

// fail prints err as one line prefixed with the command and returns the exit
// code for it: 2 for a usage error, a codeError's own, else code. Errors are
// printed whatever the verbosity.
func (e *env) fail(err error, code int) int {
	var u usageError
	var c codeError
	switch {
	case errors.As(err, &u):
		code = exitUsage
	case errors.As(err, &c):
		code = c.code
	}
	fmt.Fprintf(e.stderr, "%s%s\n", e.prefix(), textfmt.OneLine(err.Error()))
	return code
}

// warn prints a warning line on stderr (not with --verbosity error).
func (e *env) warn(format string, args ...any) {
	if e.global.level > levelWarning {
		return
	}
	fmt.Fprintf(e.stderr, "%swarning: %s\n", e.prefix(), textfmt.OneLine(fmt.Sprintf(format, args...)))
}

// info prints a line for people on stderr: the summary, waits (not with
// --quiet or --verbosity warning or error).
func (e *env) info(format string, args ...any) {
	if e.global.level > levelInfo {
		return
	}
	fmt.Fprintf(e.stderr, "%s%s\n", e.prefix(), textfmt.OneLine(fmt.Sprintf(format, args...)))
}

// ---- connection flags ----

// commonFlags are the connection and output flags every Compute Engine
// command takes.
type commonFlags struct {
	endpoint        string
	credentialsFile string
	accessToken     string
	impersonate     string
	project         string
	format          string
	// projectFrom says where the project came from, for messages.
	projectFrom string
	// noProject: the command takes its project from elsewhere (apply: the
	// plan file), so --project is not registered.
	noProject bool
}

func (c *commonFlags) register(fs *pflag.FlagSet) {
	c.registerFormats(fs, "table", allFormats...)
}

// registerFormats registers the flags with --format taking formats, def
// the default (lineage draws pictures: mermaid or dot).
func (c *commonFlags) registerFormats(fs *pflag.FlagSet, def string, formats ...string) {
	group(fs, groupConnection, func() {
		if c.noProject {
			c.registerEndpoint(fs)
			return
		}
		fs.StringVar(&c.project, "project", "", "the project `P` holding the images (default: $CLOUDSDK_CORE_PROJECT, $GOOGLE_CLOUD_PROJECT, else the active gcloud configuration's)")
		c.registerEndpoint(fs)
	})
	registerFormatDefault(fs, &c.format, def, formats...)
}

func (c *commonFlags) registerEndpoint(fs *pflag.FlagSet) {
	fs.StringVar(&c.endpoint, "endpoint", "", "Compute Engine endpoint `URL` (default: $"+endpointEnv+", else Google's)")
	fs.StringVar(&c.credentialsFile, "credentials-file", "", "credentials JSON `FILE` (default: application default credentials)")
	fs.StringVar(&c.accessToken, "access-token", "", "OAuth 2.0 access `TOKEN` (not renewed)")
	fs.StringVar(&c.impersonate, "impersonate-service-account", "", "impersonate service account `SA` with application default credentials")
}

// allFormats are the output formats of a command with a table.
var allFormats = []string{"table", "wide", "json", "yaml", "csv"}

func registerFormat(fs *pflag.FlagSet, p *string) {
	registerFormatDefault(fs, p, "table", allFormats...)
}

func registerFormatDefault(fs *pflag.FlagSet, p *string, def string, formats ...string) {
	fs.StringVar(p, "format", def, "output `FORMAT`: "+strings.Join(formats, ", "))
	_ = fs.SetAnnotation("format", annotationFormats, formats)
}

const annotationFormats = "imagefamily-formats"

// checkFormat checks --format against the formats the command registered.
func checkFormat(fs *pflag.FlagSet, format string) error {
	allowed := allFormats
	if f := fs.Lookup("format"); f != nil {
		if a, ok := f.Annotations[annotationFormats]; ok {
			allowed = a
		}
	}
	for _, a := range allowed {
		if a == format {
			return nil
		}
	}
	return usagef("--format %q: must be %s", format, orList(allowed))
}

// orList writes "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// endpointEnv names the environment variable the CLI reads for the Compute
// Engine endpoint when --endpoint is not given (the same value as
// custom_endpoints.compute).
const endpointEnv = "IMAGEFAMILY_COMPUTE_ENDPOINT"

// check validates the common flags: the format (against fs's), the project
// (from --project or where projectFrom looks), the endpoint (from
// --endpoint, else IMAGEFAMILY_COMPUTE_ENDPOINT), the credentials.
func (c *commonFlags) check(e *env, fs *pflag.FlagSet) error {
	if err := checkFormat(fs, c.format); err != nil {
		return err
	}
	if !c.noProject {
		if err := c.resolveProject(e); err != nil {
			return err
		}
	}
	if c.endpoint == "" {
		if v := e.env(endpointEnv); v != "" {
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

// client builds the Compute Engine client (logging its calls with
// --log-http, saying its retries at info); a failure is a configuration
// error (exit 2).
func (c *commonFlags) client(e *env, extra ...gce.Option) (gce.Compute, error) {
	opts := append([]gce.Option{}, gceOptions...)
	if l := e.httpLogger(); l != nil {
		opts = append(opts, gce.WithHTTPLog(l))
	}
	opts = append(opts, gce.WithRetryNotify(e.onRetry))
	opts = append(opts, extra...)
	cl, err := gce.New(e.ctx, c.auth(), opts...)
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

func (p *policyFlags) register(fs *pflag.FlagSet) {
	d := lifecycle.DefaultPolicy()
	p.keepActive = d.KeepActive
	p.minAge = lifecycle.FormatDuration(d.MinAge)
	p.obsoleteAfter = lifecycle.FormatDuration(d.ObsoleteAfter)
	p.deleteAfter = lifecycle.FormatDuration(d.DeleteAfter)
	p.purgeAfter = lifecycle.FormatDuration(d.PurgeAfter)
	p.protectLabel = d.ProtectLabel
	p.checkInUse = d.CheckInUse
	group(fs, groupPolicy, func() {
		intVar(fs, &p.keepActive, "keep-active", "use 0 or more, e.g. 2", "the `N` newest ACTIVE images stay ACTIVE, the head included")
		fs.StringVar(&p.minAge, "min-age", p.minAge, "never touch images younger than `D`")
		fs.StringVar(&p.obsoleteAfter, "obsolete-after", p.obsoleteAfter, "DEPRECATED -> OBSOLETE after `D`")
		fs.StringVar(&p.deleteAfter, "delete-after", p.deleteAfter, "OBSOLETE -> DELETED after `D`")
		fs.StringVar(&p.purgeAfter, "purge-after", p.purgeAfter, "DELETED -> deleted for good (images.delete) after `D`")
		fs.StringVar(&p.orphanGrace, "orphan-grace", "", "delete orphans of interrupted releases older than `D` (default: --min-age)")
		fs.StringVar(&p.protectLabel, "protect-label", p.protectLabel, "images with this label `KEY` are never touched (\"\" for none)")
		boolVar(fs, &p.checkInUse, "check-in-use", "never touch images used by templates or instances")
		fs.StringVar(&p.inUseProjects, "in-use-projects", "", "also look for users in these projects (`P,Q`)")
	})
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

// shortOutcome is the outcome alone, for a table too narrow for the detail
// (which the lines under the table give).
func shortOutcome(dryRun bool, o apply.Outcome) string {
	if dryRun {
		return "planned"
	}
	if o == apply.OutcomeFailed {
		return "FAILED"
	}
	return string(o)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
