package emulator

import (
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Latency spikes and fault counts.
//
// A fault of kind "slow" is a latency spike: with its probability, a request
// to its method waits its duration before it is handled, and is then
// answered as usual (or gets whatever other fault is drawn for it). Spikes
// are drawn independently of the other faults, one draw per slow fault per
// request, from the same seeded source:
//
//	--faults '*=slow:750ms:0.05,images.list=slow:3s:0.01,*=503:0.05'
//
// Options.Latency delays every request alike; a spike delays a few, which is
// what exposes a client's timeouts, a retry racing a slow original, and the
// rotator's AIMD under uneven latency. A spike ends early when the client
// goes away.
//
// Every fault drawn (spikes included) is counted by "method=kind", for
// InjectedFaults: a chaos test reports the faults the emulator injected
// rather than the ones it asked for. A "fail" is counted when it is drawn,
// which is before the mutation is validated: a mutation that then turns out
// invalid (a 4xx) or a replay of an earlier requestId is counted although
// its answer is not the injected failure.

// maxSpike bounds a spike: a typo must not hang a test for hours.
const maxSpike = 10 * time.Minute

// parseSlow reads the "DURATION:P" of a "METHOD=slow:DURATION:P" item.
func parseSlow(item, method, rest string) (Fault, error) {
	ds, ps, ok := strings.Cut(rest, ":")
	if !ok {
		return Fault{}, fmt.Errorf("--faults: %q: a latency spike is %s=slow:DURATION:PROBABILITY, e.g. %s=slow:2s:0.05", item, method, method)
	}
	d, err := time.ParseDuration(ds)
	if err != nil || d <= 0 || d > maxSpike {
		return Fault{}, fmt.Errorf("--faults: spike duration %q in %q must be a Go duration from 1ns to %s, e.g. 750ms", ds, item, maxSpike)
	}
	p, err := strconv.ParseFloat(ps, 64)
	if err != nil || p < 0 || p > 1 {
		return Fault{}, fmt.Errorf("--faults: probability %q in %q must be a number from 0 to 1", ps, item)
	}
	return Fault{Method: method, Kind: "slow", P: p, Delay: d}, nil
}

// spike waits for each slow fault drawn for method, or until the client
// goes away.
func (s *Server) spike(r *http.Request, method string) {
	for _, f := range s.opts.Faults {
		if f.Kind != "slow" || (f.Method != "*" && f.Method != method) {
			continue
		}
		st := s.store
		st.lock()
		hit := st.rng.Float64() < f.P
		if hit {
			st.countFaultLocked(method, "slow")
		}
		st.unlock()
		if !hit {
			continue
		}
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
}

// countFaultLocked records an injected fault. Callers hold mu.
func (st *Store) countFaultLocked(method, kind string) {
	if st.injected == nil {
		st.injected = map[string]int{}
	}
	st.injected[method+"="+kind]++
}

// InjectedFaults returns how many faults the server has injected, keyed by
// "method=kind" (e.g. "images.deprecate=503", "images.insert=fail",
// "images.list=slow"), and the calls refused over a --quota, as
// "method=quota".
func (s *Server) InjectedFaults() map[string]int {
	s.store.lock()
	defer s.store.unlock()
	return maps.Clone(s.store.injected)
}
