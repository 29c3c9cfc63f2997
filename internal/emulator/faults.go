package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is one injected failure: with probability P, a request to Method
// (a discovery name such as "images.deprecate", "operations" for every
// operation-producing mutation, or "*" for all) gets Kind.
type Fault struct {
	Method string
	// Kind is an HTTP status code ("503"), "reset" (the connection is
	// closed without a response), "fail" (the mutation's operation ends
	// in error and the mutation is not applied) or "slow" (a latency
	// spike of Delay; see spikes.go).
	Kind string
	P    float64
	// Delay is a slow fault's spike.
	Delay time.Duration
}

// Faults is a parsed --faults spec.
type Faults []Fault

// FaultKind is one kind of fault a --faults item may name.
type FaultKind struct {
	// Syntax is the kind as written between METHOD= and :PROBABILITY, with
	// STATUS and D standing for a value.
	Syntax string
	// Does says what a drawn fault of this kind does to the request.
	Does string
	// Example is a --faults item of this kind that ParseFaults accepts.
	Example string
}

// FaultKinds are every kind ParseFaults accepts, in the order its errors
// and the emulator command's --help list them.
var FaultKinds = []FaultKind{
	{"STATUS", "answer with that HTTP error status, 400-599 (e.g. 503, 429)", "images.get=503:0.1"},
	{"reset", "close the connection without a response", "*=reset:0.01"},
	{"fail", "fail the mutation's operation, applying nothing (mutations only)", "operations=fail:0.05"},
	{"slow:D", "wait D before answering, a latency spike (D up to " + maxSpike.String() + ", e.g. 750ms)", "*=slow:2s:0.05"},
}

// faultKindSyntaxes lists FaultKinds for an error message:
// "STATUS, reset, fail or slow:D".
func faultKindSyntaxes() string {
	names := make([]string, len(FaultKinds))
	for i, k := range FaultKinds {
		names[i] = k.Syntax
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ParseFaults parses "method=kind:p,method=kind:p", e.g.
// "images.deprecate=503:0.2,operations=fail:0.05,*=reset:0.01"; a latency
// spike is "method=slow:duration:p", e.g. "*=slow:2s:0.05". It accepts the
// kinds in FaultKinds.
func ParseFaults(spec string) (Faults, error) {
	var out Faults
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		method, rest, ok := strings.Cut(item, "=")
		if !ok || method == "" {
			return nil, fmt.Errorf("--faults: %q is not METHOD=KIND:PROBABILITY", item)
		}
		kind, ps, ok := strings.Cut(rest, ":")
		if kind == "slow" {
			f, err := parseSlow(item, method, ps)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
			continue
		}
		if !ok {
			return nil, fmt.Errorf("--faults: %q has no probability (want %s=%s:0.1)", item, method, rest)
		}
		p, err := strconv.ParseFloat(ps, 64)
		if err != nil || p < 0 || p > 1 {
			return nil, fmt.Errorf("--faults: probability %q in %q must be a number from 0 to 1", ps, item)
		}
		switch kind {
		case "reset", "fail":
		default:
			code, err := strconv.Atoi(kind)
			if err != nil || code < 400 || code > 599 {
				return nil, fmt.Errorf("--faults: kind %q in %q must be %s, where STATUS is an HTTP status 400-599", kind, item, faultKindSyntaxes())
			}
		}
		if kind == "fail" && method != "operations" && method != "*" && !isMutationName(method) {
			return nil, fmt.Errorf("--faults: %q: fail applies to operations (mutations), not to %s", item, method)
		}
		out = append(out, Fault{Method: method, Kind: kind, P: p})
	}
	return out, nil
}

func isMutationName(method string) bool {
	for _, verb := range []string{".insert", ".delete", ".deprecate", ".setLabels", ".setMetadata", ".patch", ".stop", ".start",
		".resize", ".setInstanceTemplate"} {
		if strings.HasSuffix(method, verb) {
			return true
		}
	}
	return false
}

// drawFault picks the fault (if any) to inject for method: a "fail" when
// wantFail, any other non-slow kind otherwise. One random draw per matching
// fault keeps runs reproducible for a given seed and request order. It takes
// the store lock itself.
func (st *Store) drawFault(faults Faults, method string, wantFail bool) (Fault, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, f := range faults {
		if (f.Kind == "fail") != wantFail || f.Kind == "slow" {
			continue
		}
		if f.Method != "*" && f.Method != method && !(f.Method == "operations" && wantFail) {
			continue
		}
		if st.rng.Float64() < f.P {
			st.countFaultLocked(method, f.Kind)
			return f, true
		}
	}
	return Fault{}, false
}

// injectFault writes an injected error or resets the connection; it reports
// whether the request was consumed.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request, method string) bool {
	s.spike(r, method)
	if len(s.opts.Faults) == 0 {
		return false
	}
	f, ok := s.store.drawFault(s.opts.Faults, method, false)
	if !ok {
		return false
	}
	if f.Kind == "reset" {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	}
	code, _ := strconv.Atoi(f.Kind)
	reason := map[int]string{429: "rateLimitExceeded", 500: "backendError", 502: "badGateway", 503: "backendError", 504: "timeout"}[code]
	if reason == "" {
		reason = "injectedFault"
	}
	writeError(w, &apiError{Code: code, Reason: reason, Message: fmt.Sprintf("Injected fault for %s (emulator --faults)", method)})
	return true
}

// shouldFailOperation reports whether the mutation named method must end in a
// failed operation instead of being applied.
func (s *Server) shouldFailOperation(method string) bool {
	if len(s.opts.Faults) == 0 {
		return false
	}
	_, ok := s.store.drawFault(s.opts.Faults, method, true)
	return ok
}
