// Package emulator is a local Compute Engine REST API: images, families,
// deprecation, operations, and the instances, disks, zones and instance
// templates that the googlecompute builder and in-use detection touch. The
// real Go client, gcloud and the googlecompute builder run against it
// unchanged, so it answers in Compute Engine's shapes and error envelopes.
package emulator

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// UndeprecateMode decides whether a deprecated image may be set ACTIVE again.
type UndeprecateMode string

const (
	// UndeprecateReject follows Google's current documentation: deprecation
	// is irreversible, DEPRECATED/OBSOLETE/DELETED -> ACTIVE is a 400.
	UndeprecateReject UndeprecateMode = "reject"
	// UndeprecateAllow reproduces the older behaviour (gcloud's --state=ACTIVE).
	UndeprecateAllow UndeprecateMode = "allow"
)

// Options configure a Server. The zero value is a fast, fault-free emulator
// on the wall clock.
type Options struct {
	// StateFile, when set, is loaded by New (with the journal beside it)
	// and kept up to date through that journal; Close writes it whole
	// (journal.go).
	StateFile string
	// Latency delays every response.
	Latency time.Duration
	// OpLatency keeps operations RUNNING for this long after they start.
	OpLatency time.Duration
	// Faults injects errors per method (see ParseFaults).
	Faults Faults
	// Seed makes fault injection, generated ids and read lag reproducible.
	Seed int64
	// ReadLag, when positive, makes reads of images and instance templates
	// see each write only after a delay drawn from (0, ReadLag]: what lags
	// and what does not is in lag.go.
	ReadLag time.Duration
	// Quotas limit API calls per project and method group, answered as
	// Compute Engine answers a rate quota (see quota.go and ParseQuotas).
	Quotas Quotas
	// Undeprecate is UndeprecateReject when empty.
	Undeprecate UndeprecateMode
	// Clock returns the current time; time.Now when nil. Tests inject one.
	Clock func() time.Time
	// OnRequest, when set, is called once per API call after it is
	// answered, with the call's discovery name ("images.list",
	// "globalOperations.wait"...) and the HTTP status sent; 0 means none
	// (an injected reset, or the client went away). A call embedded in a
	// batch is reported under its own name and the envelope once more as
	// "batch"; a path that names no method is "unknown". The benchmarks in
	// bench/ count requests with it. It is called concurrently.
	OnRequest func(method string, status int)
}

// Server is an http.Handler serving the Compute Engine v1 REST API.
type Server struct {
	opts  Options
	store *Store
	mux   *http.ServeMux
}

// New builds a Server, loading Options.StateFile when it exists.
func New(opts Options) (*Server, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Undeprecate == "" {
		opts.Undeprecate = UndeprecateReject
	}
	store, err := newStore(opts)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, store: store, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// handler is one API method: it returns the response message or an error
// that writeError renders in Compute Engine's envelope.
type handler func(r *http.Request) (proto.Message, error)

// route registers one API method under its discovery name (e.g.
// "images.deprecate"), which is also the key fault injection matches on.
// Paths are relative to /compute/v1/.
func (s *Server) route(method, path, name string, h handler) {
	s.mux.HandleFunc(method+" /compute/v1/"+strings.TrimPrefix(path, "/"), func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, name, h)
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, name string, h handler) {
	if s.opts.OnRequest != nil {
		cw := reporting(w, func(code int) { s.opts.OnRequest(name, code) })
		defer cw.done()
		w = cw
	}
	if s.opts.Latency > 0 {
		select {
		case <-time.After(s.opts.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if ae := s.overQuota(r, name); ae != nil {
		writeError(w, ae)
		return
	}
	if s.injectFault(w, r, name) {
		return
	}
	msg, err := h(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeMessage(w, msg)
}

// ServeHTTP routes a request; anything unknown gets a Compute Engine-shaped
// 404 (unknown path) or 405 (known path, wrong method), never a bare text page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/batch/compute/v1" || r.URL.Path == "/batch" {
		if s.opts.OnRequest != nil {
			cw := reporting(w, func(code int) { s.opts.OnRequest("batch", code) })
			defer cw.done()
			w = cw
		}
		s.serveBatch(w, r)
		return
	}
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		if s.opts.OnRequest != nil {
			cw := reporting(w, func(code int) { s.opts.OnRequest("unknown", code) })
			defer cw.done()
			w = cw
		}
		// ServeMux answers 405 itself when only the method is wrong; ask it
		// which case this is without letting it write its text body.
		rec := newBufferedResponse()
		s.mux.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			writeError(w, &apiError{Code: http.StatusMethodNotAllowed, Reason: "httpMethodNotAllowed",
				Message: "HTTP method " + r.Method + " is not supported by this URL"})
			return
		}
		writeError(w, &apiError{Code: http.StatusNotFound, Reason: "notFound",
			Message: "The requested URL " + r.URL.Path + " was not found on this server."})
		return
	}
	s.mux.ServeHTTP(w, r)
}

// codeWriter remembers the status written, for Options.OnRequest. Hijack
// reaches the connection beneath, so the "reset" fault works through it.
type codeWriter struct {
	http.ResponseWriter
	code int
	// report is Options.OnRequest for this call; done calls it once.
	report   func(code int)
	reported bool
}

// reporting wraps w so that the call is reported, once, when done runs or
// when the connection is taken away (a reset fault closes it), whichever
// comes first.
func reporting(w http.ResponseWriter, report func(code int)) *codeWriter {
	return &codeWriter{ResponseWriter: w, report: report}
}

// done reports the call with the status written so far (0 for none). A
// reset reports before the connection closes: the client's next request,
// on a new connection, must not be reported first.
func (c *codeWriter) done() {
	if !c.reported {
		c.reported = true
		c.report(c.code)
	}
}

func (c *codeWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

func (c *codeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *codeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c.done()
	return http.NewResponseController(c.ResponseWriter).Hijack()
}

var marshal = protojson.MarshalOptions{UseProtoNames: false, EmitUnpopulated: false}

func writeMessage(w http.ResponseWriter, msg proto.Message) {
	b, err := marshal.Marshal(msg)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// maxBody bounds request bodies: Compute Engine requests are small, and an
// emulator that reads without a bound can be made to hold gigabytes.
const maxBody = 4 << 20

// decodeBody reads a JSON request body into msg. Unknown fields and malformed
// JSON are the 400 `invalid`/`parseError` Compute Engine returns.
func decodeBody(r *http.Request, msg proto.Message) error {
	_, err := decodeBodyKeys(r, msg)
	return err
}

// decodeBodyKeys is decodeBody that also returns the body's top-level keys
// as sent: a PATCH must know which fields the caller set, and a proto message
// cannot tell an absent field from one sent as its zero value. keys is nil for
// an empty body.
func decodeBodyKeys(r *http.Request, msg proto.Message) (keys map[string]json.RawMessage, err error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, errBadRequest("Could not read the request body: %v", err)
	}
	if len(b) > maxBody {
		return nil, &apiError{Code: http.StatusRequestEntityTooLarge, Reason: "badRequest", Message: "Request body too large"}
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, &apiError{Code: http.StatusBadRequest, Reason: "parseError", Message: "Parse Error"}
	}
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, errInvalid("Invalid JSON payload received. The request body must be a JSON object.")
	}
	if err := protojson.Unmarshal(b, msg); err != nil {
		return nil, errInvalid("Invalid JSON payload received. %s", protojsonReason(err))
	}
	return keys, nil
}

func protojsonReason(err error) string {
	s := err.Error()
	if i := strings.Index(s, ": "); i >= 0 && strings.HasPrefix(s, "proto") {
		s = s[i+2:]
	}
	return s
}
