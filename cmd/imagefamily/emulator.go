package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// faultKindsUsage lists emulator.FaultKinds for emulatorUsage, one a line.
func faultKindsUsage() string {
	width := 0
	for _, k := range emulator.FaultKinds {
		width = max(width, len(k.Syntax))
	}
	var b strings.Builder
	for _, k := range emulator.FaultKinds {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, k.Syntax, k.Does)
	}
	return b.String()
}

// quotaGroupsUsage lists emulator.QuotaGroups for emulatorUsage.
func quotaGroupsUsage() string {
	var b strings.Builder
	for _, g := range emulator.QuotaGroups {
		fmt.Fprint(&b, wrapIndented(fmt.Sprintf("  %-10s  ", g.Name), g.Methods, helpWidth))
	}
	return b.String()
}

// faultExamples is a --faults spec with one item of every kind.
func faultExamples() string {
	items := make([]string, len(emulator.FaultKinds))
	for i, k := range emulator.FaultKinds {
		items[i] = k.Example
	}
	return strings.Join(items, ",")
}

func newEmulatorCommand(e *env) *cobra.Command {
	var (
		listen, stateFile, faultSpec, quotaSpec, undeprecate string
		latency, opLatency, readLag                          time.Duration
		seed                                                 int64
		verbose                                              bool
	)
	c := &cobra.Command{
		Use:   "emulator",
		Short: "run the local Compute Engine emulator",
		Long: `Runs the local Compute Engine API emulator until interrupted. The first lines
on stdout are KEY=VALUE settings for clients (the first is always
IMAGEFAMILY_COMPUTE_ENDPOINT); the gcloud ones can be exported as they are.

--faults METHOD=KIND:P,... injects faults, where METHOD is a discovery name
(images.deprecate), * (every method) or operations (every mutation's
operation, for fail), P a probability from 0 to 1, and KIND one of:
` + faultKindsUsage() + `e.g. ` + faultExamples() + `

--quota GROUP=N/s or GROUP=N/min,... sets rate quotas per project, answered
as Compute Engine answers them (403 rateLimitExceeded); GROUP is one of:
` + quotaGroupsUsage() + `e.g. writes=20/s,reads=1500/min`,
		Example: `  imagefamily emulator --listen 127.0.0.1:0 --state emu.json
  imagefamily emulator --faults 'images.deprecate=429:0.3' --quota writes=20/s`,
		Args: noArgs("the emulator takes flags only"),
	}
	fs := c.Flags()
	fs.StringVar(&listen, "listen", "127.0.0.1:8085", "`ADDR` to listen on (port 0 picks a free port)")
	fs.StringVar(&stateFile, "state", "", "load resources from `FILE`; keep every change in FILE.journal at once and write FILE whole at start and stop")
	fs.DurationVar(&latency, "latency", 0, "delay every response by `D` (e.g. 50ms)")
	fs.DurationVar(&opLatency, "op-latency", 0, "keep operations RUNNING for `D` after they start")
	fs.StringVar(&faultSpec, "faults", "", "inject faults: `SPEC` is METHOD=KIND:P,... (see above)")
	fs.Int64Var(&seed, "seed", 0, "`N` seeds faults, generated ids and read lag")
	fs.DurationVar(&readLag, "read-lag", 0, "reads of images and instance templates see each change only after a delay drawn from (0, `D`], as Compute Engine's reads lag its writes (a new image shows at once); mutations and operations never lag (e.g. 2s)")
	fs.StringVar(&quotaSpec, "quota", "", "rate quotas per project: `SPEC` is GROUP=N/s or GROUP=N/min,... (see above)")
	fs.StringVar(&undeprecate, "undeprecate", string(emulator.UndeprecateReject), "`MODE` reject (deprecation is irreversible) or allow")
	boolVar(fs, &verbose, "verbose", "log every request to stderr")
	c.RunE = e.runE(func([]string) int {
		return runEmulator(e.ctx, e.stdout, e.stderr, listen, stateFile, faultSpec, quotaSpec, undeprecate, latency, opLatency, readLag, seed, verbose)
	})
	return c
}

func runEmulator(ctx context.Context, stdout, stderr io.Writer, listenAddr, stateFilePath, faultSpecs, quotaSpecs, undeprecateMode string,
	latencyD, opLatencyD, readLagD time.Duration, seedN int64, verboseLog bool) int {
	listen, stateFile, faultSpec, quotaSpec, undeprecate := &listenAddr, &stateFilePath, &faultSpecs, &quotaSpecs, &undeprecateMode
	latency, opLatency, readLag, seed, verbose := &latencyD, &opLatencyD, &readLagD, &seedN, &verboseLog
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "imagefamily emulator: "+format+"\n", a...)
		return exitUsage
	}
	if *latency < 0 {
		return fail("--latency must not be negative, got %s", *latency)
	}
	if *opLatency < 0 {
		return fail("--op-latency must not be negative, got %s", *opLatency)
	}
	if *readLag < 0 {
		return fail("--read-lag must not be negative, got %s", *readLag)
	}
	quotas, err := emulator.ParseQuotas(*quotaSpec)
	if err != nil {
		return fail("%v", err)
	}
	mode := emulator.UndeprecateMode(*undeprecate)
	if mode != emulator.UndeprecateReject && mode != emulator.UndeprecateAllow {
		return fail("--undeprecate must be reject or allow, got %q", *undeprecate)
	}
	faults, err := emulator.ParseFaults(*faultSpec)
	if err != nil {
		return fail("%v", err)
	}
	srv, err := emulator.New(emulator.Options{
		StateFile: *stateFile, Latency: *latency, OpLatency: *opLatency,
		Faults: faults, Seed: *seed, Undeprecate: mode, ReadLag: *readLag, Quotas: quotas,
	})
	if err != nil {
		return fail("--state: %v", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		_ = srv.Close()
		return fail("--listen %s: %v", *listen, err)
	}
	// The state file is written whole once the server has stopped, whatever
	// the way out: every change is in its journal until then.
	defer func() {
		if err := srv.Close(); err != nil {
			fmt.Fprintf(stderr, "imagefamily emulator: writing the state file: %v\n", err)
		}
	}()

	var handler http.Handler = srv
	if *verbose {
		handler = logRequests(srv, stderr)
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	endpoint := "http://" + clientAddr(ln.Addr().(*net.TCPAddr))
	out := bufio.NewWriter(stdout)
	fmt.Fprintf(out, "IMAGEFAMILY_COMPUTE_ENDPOINT=%s\n", endpoint)
	fmt.Fprintf(out, "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=%s/compute/v1/\n", endpoint)
	fmt.Fprintf(out, "CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true\n")
	fmt.Fprintf(out, "CLOUDSDK_CORE_DISABLE_PROMPTS=1\n")
	if err := out.Flush(); err != nil {
		_ = hs.Close()
		fmt.Fprintf(stderr, "imagefamily emulator: writing the endpoint to stdout: %v\n", err)
		return exitPartial
	}

	select {
	case err := <-served:
		fmt.Fprintf(stderr, "imagefamily emulator: %v\n", err)
		return exitPartial
	case <-ctx.Done():
	}
	// A waiting client (operations.wait can block) gets a few seconds to be
	// answered; then the remaining connections are closed.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		_ = hs.Close()
	}
	return exitOK
}

// clientAddr is the address clients should dial.
func clientAddr(a *net.TCPAddr) string {
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		// A wildcard listener (dual-stack for "::") answers on IPv4
		// loopback, which every client, gcloud included, can dial.
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(a.Port))
}

// logRequests writes one line per request to w: method, path and query,
// status and duration.
func logRequests(next http.Handler, w io.Writer) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		target := r.URL.Path
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		fmt.Fprintf(w, "%s %s %s %d %s\n", start.UTC().Format(time.RFC3339), r.Method, strings.ReplaceAll(target, "\n", ""), rec.status, time.Since(start).Round(time.Microsecond))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap and Hijack let the reset fault reach the connection through this
// wrapper.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(s.ResponseWriter).Hijack()
}
