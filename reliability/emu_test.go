package reliability

import (
	"context"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"google.golang.org/api/option"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// emu is an emulator behind a wrapper that sees every request: it counts
// mutations (crash tests kill the client at the N-th), and it can drop the
// response of a mutation after the emulator applied it ("lost" faults),
// which the emulator's own faults never do: they all strike before the
// change is applied.
type emu struct {
	srv *emulator.Server
	hs  *httptest.Server
	URL string

	mu        sync.Mutex
	mutations int
	// onMutation, when set, is called with the 1-based number of each
	// mutation request before it is handled; it returns what to do.
	onMutation func(n int) mutationFate
	// meanwhile, when set, is called with each mutation request before it
	// is handled; what it returns runs around the request, which is served
	// as usual in between: another actor's change made while the request is
	// in flight (before), or the client killed once it was applied (after).
	// It makes a race deterministic: the change lands exactly between two
	// requests of the run under test.
	meanwhile func(r *http.Request) interlude
	lostP     float64
	rng       *rand.Rand
	lost      int
}

// interlude is what runs around one mutation request that is served.
type interlude struct{ before, after func() }

// mutationFate is what the wrapper does with one mutation request.
type mutationFate struct {
	// before runs before the request reaches the emulator; the request is
	// then dropped without an answer (the change is not applied).
	before func()
	// after runs once the emulator applied the request; the answer is then
	// dropped.
	after func()
}

// startEmu starts an emulator with opts, and lostP as the probability that a
// mutation's response is lost after the change is applied.
func startEmu(t testing.TB, opts emulator.Options, lostP float64) *emu {
	t.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &emu{srv: srv, lostP: lostP, rng: rand.New(rand.NewSource(opts.Seed + 7))}
	e.hs = httptest.NewServer(e)
	e.URL = e.hs.URL
	t.Cleanup(func() {
		e.hs.CloseClientConnections()
		e.hs.Close()
		stats.injected(srv.InjectedFaults())
		e.mu.Lock()
		if e.lost > 0 {
			stats.injected(map[string]int{"mutations=lost": e.lost})
		}
		e.mu.Unlock()
	})
	return e
}

// isMutation reports whether r changes something: every POST, PATCH and
// DELETE of the API except waiting for an operation.
func isMutation(r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/compute/v1/") || strings.HasSuffix(r.URL.Path, "/wait") {
		return false
	}
	return r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodDelete
}

func (e *emu) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isMutation(r) {
		e.srv.ServeHTTP(w, r)
		return
	}
	e.mu.Lock()
	e.mutations++
	n := e.mutations
	var fate mutationFate
	if e.onMutation != nil {
		fate = e.onMutation(n)
	}
	lose := e.lostP > 0 && e.rng.Float64() < e.lostP
	var around interlude
	if e.meanwhile != nil {
		around = e.meanwhile(r)
	}
	e.mu.Unlock()
	if around.before != nil {
		around.before()
	}
	if around.after != nil {
		defer around.after()
	}
	switch {
	case fate.before != nil:
		fate.before()
		drop(w)
	case fate.after != nil:
		e.srv.ServeHTTP(httptest.NewRecorder(), r)
		fate.after()
		drop(w)
	case lose:
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, r)
		if rec.Code >= 300 {
			// Nothing was applied: pass the error on, it is not a lost
			// response.
			copyResponse(w, rec)
			return
		}
		e.mu.Lock()
		e.lost++
		e.mu.Unlock()
		drop(w)
	default:
		e.srv.ServeHTTP(w, r)
	}
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (e *emu) mutationCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mutations
}

// images is a REST images client for another writer, without the wrapper's
// lost responses but with the emulator's faults.
func (e *emu) images(t testing.TB) *compute.ImagesClient {
	t.Helper()
	c, err := compute.NewImagesRESTClient(context.Background(), option.WithEndpoint(e.hs.URL), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// chaosFaults is the fault mix of the chaos scenarios, scaled by level:
// every method gets 429s, 500s, 503s, connection resets and latency spikes;
// every mutation's operation may fail.
func chaosFaults(t testing.TB, level float64) emulator.Faults {
	t.Helper()
	p := func(x float64) string { return strconv.FormatFloat(x*level, 'f', -1, 64) }
	spec := "*=429:" + p(0.05) + ",*=500:" + p(0.03) + ",*=503:" + p(0.05) + ",*=reset:" + p(0.03) +
		",operations=fail:" + p(0.06) + ",*=slow:400ms:" + p(0.03)
	f, err := emulator.ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
