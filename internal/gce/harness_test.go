package gce

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// sentRequest is one request as the client sent it.
type sentRequest struct {
	Method string
	Path   string
	Query  map[string]string
	Body   string
}

// String is "POST /compute/v1/...", what tests compare.
func (r sentRequest) String() string { return r.Method + " " + r.Path }

// recorder is the client's transport in tests: it counts and records every
// request and lets a test intercept one (to lose a response, or rewrite a
// request the way a forgetful server would see it).
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	sent []sentRequest
	// intercept, when set, handles a request instead of base; it gets the
	// request's sequence number (1-based) and the base transport.
	intercept func(n int, req *http.Request, base http.RoundTripper) (*http.Response, error)
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body string
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			b, _ := io.ReadAll(rc)
			body = string(b)
		}
	}
	q := map[string]string{}
	for k, v := range req.URL.Query() {
		q[k] = strings.Join(v, ",")
	}
	r.mu.Lock()
	r.sent = append(r.sent, sentRequest{Method: req.Method, Path: req.URL.Path, Query: q, Body: body})
	n := len(r.sent)
	intercept := r.intercept
	r.mu.Unlock()
	if intercept != nil {
		return intercept(n, req, r.base)
	}
	return r.base.RoundTrip(req)
}

// matching returns the recorded requests with method whose path ends in suffix.
func (r *recorder) matching(method, suffix string) []sentRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sentRequest
	for _, s := range r.sent {
		if s.Method == method && strings.HasSuffix(s.Path, suffix) {
			out = append(out, s)
		}
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = nil
}

// harness is one emulator on its own port and a client pointed at it the way
// a user would (custom_endpoints.compute with /compute/v1/), with seeded
// jitter and a sleep that only records.
type harness struct {
	env   *emulatortest.Env
	c     *client
	rec   *recorder
	sleep *recordingSleep
}

func newHarness(t *testing.T, opts emulator.Options, extra ...Option) *harness {
	t.Helper()
	env := emulatortest.Start(t, opts)
	h := &harness{env: env, rec: &recorder{base: http.DefaultTransport.(*http.Transport).Clone()}, sleep: &recordingSleep{}}
	h.c = h.newClient(t, extra...)
	return h
}

// newClient builds another client on the same emulator (a second writer).
func (h *harness) newClient(t *testing.T, extra ...Option) *client {
	t.Helper()
	auth := pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": h.env.URL + "/compute/v1/"}}
	opts := append([]Option{
		WithBackoff(testBackoff(h.sleep)),
		WithOperationTimeout(30 * time.Second),
		WithClientOptions(option.WithHTTPClient(&http.Client{Transport: h.rec})),
	}, extra...)
	c, err := New(context.Background(), auth, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*client)
}

// putImage lays a fixture image.
func (h *harness) putImage(t testing.TB, project, name, family string, labels map[string]string) {
	t.Helper()
	img := &computepb.Image{Name: proto.String(name), Labels: labels}
	if family != "" {
		img.Family = proto.String(family)
	}
	if err := h.env.Server.PutImage(project, img); err != nil {
		t.Fatal(err)
	}
}

func faults(t testing.TB, spec string) emulator.Faults {
	t.Helper()
	f, err := emulator.ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
