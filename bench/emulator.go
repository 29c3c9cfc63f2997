package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// Counts are the API calls the emulator answered, by method and status.
type Counts struct {
	mu       sync.Mutex
	byMethod map[string]int
	byStatus map[string]int // "images.deprecate 429"
}

func newCounts() *Counts { return &Counts{byMethod: map[string]int{}, byStatus: map[string]int{}} }

func (c *Counts) record(method string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byMethod[method]++
	c.byStatus[fmt.Sprintf("%s %d", method, status)]++
}

// Get is the calls to method, whatever their status.
func (c *Counts) Get(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byMethod[method]
}

// Status is the calls to method answered with status.
func (c *Counts) Status(method string, status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byStatus[fmt.Sprintf("%s %d", method, status)]
}

// Total is every call counted ("batch" envelopes left out: their calls are
// counted one by one).
func (c *Counts) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for m, v := range c.byMethod {
		if m != "batch" {
			n += v
		}
	}
	return n
}

// Methods is a copy of the counts by method.
func (c *Counts) Methods() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byMethod)
}

// String lists the counts by method, sorted: "images.list=2 ...".
func (c *Counts) String() string {
	m := c.Methods()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// Gauge follows a count over time (the actions in flight): per interval,
// the highest count and the time-weighted mean.
type Gauge struct {
	mu       sync.Mutex
	start    time.Time
	interval time.Duration
	cur      int
	last     time.Time // when cur last changed
	peaks    []int
	area     []float64 // integral of cur over each interval, in count·seconds
}

func newGauge(interval time.Duration) *Gauge {
	now := time.Now()
	return &Gauge{start: now, last: now, interval: interval}
}

// advance accounts cur from g.last to now.
func (g *Gauge) advance(now time.Time) {
	for g.last.Before(now) {
		i := int(g.last.Sub(g.start) / g.interval)
		for len(g.peaks) <= i {
			g.peaks = append(g.peaks, g.cur)
			g.area = append(g.area, 0)
		}
		end := g.start.Add(time.Duration(i+1) * g.interval)
		if end.After(now) {
			end = now
		}
		g.area[i] += float64(g.cur) * end.Sub(g.last).Seconds()
		g.peaks[i] = max(g.peaks[i], g.cur)
		g.last = end
	}
}

func (g *Gauge) add(d int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.advance(time.Now())
	g.cur += d
	i := int(g.last.Sub(g.start) / g.interval)
	for len(g.peaks) <= i {
		g.peaks = append(g.peaks, g.cur)
		g.area = append(g.area, 0)
	}
	g.peaks[i] = max(g.peaks[i], g.cur)
}

// Peaks is the highest in-flight count in each interval since the start.
func (g *Gauge) Peaks() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.peaks)
}

// Means is the time-weighted mean in-flight count of each interval.
func (g *Gauge) Means() []float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]float64, len(g.area))
	for i, a := range g.area {
		out[i] = a / g.interval.Seconds()
	}
	return out
}

// actions follows the actions in flight as the server can see them: an
// image's action starts with the first mutation request that names it and
// ends when the operation of the mutation that went through is reported
// DONE. The pauses of a client retrying a refused call lie inside, so this is
// the applier's parallelism, not merely the calls being served.
type actions struct {
	gauge *Gauge
	// requests follows the image mutation requests being served (from
	// arrival until the answer, the emulator's latency L included): the
	// request slots Apply paces, as the server sees them.
	requests *Gauge
	mu       sync.Mutex
	active   map[string]bool   // image -> in flight
	ops      map[string]string // operation -> image
}

var opNameRE = regexp.MustCompile(`"name"\s*:\s*"([^"]+)"`)

// mutatedImage is the image a mutation request names, or "".
func mutatedImage(r *http.Request) string {
	p := r.URL.Path
	i := strings.Index(p, "/global/images/")
	if i < 0 {
		return ""
	}
	rest := p[i+len("/global/images/"):]
	switch {
	case r.Method == http.MethodPost && (strings.HasSuffix(rest, "/deprecate") || strings.HasSuffix(rest, "/setLabels")):
		return rest[:strings.IndexByte(rest, '/')]
	case r.Method == http.MethodDelete && !strings.Contains(rest, "/"):
		return rest
	}
	return ""
}

// serve passes r to next, following the actions it starts and ends.
func (a *actions) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	img := mutatedImage(r)
	waitOp := ""
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/wait") && strings.Contains(r.URL.Path, "/global/operations/") {
		waitOp = strings.TrimSuffix(r.URL.Path[strings.LastIndex(r.URL.Path, "/operations/")+len("/operations/"):], "/wait")
	}
	if img == "" && waitOp == "" {
		next.ServeHTTP(w, r)
		return
	}
	if img != "" {
		a.mu.Lock()
		if !a.active[img] {
			a.active[img] = true
			a.gauge.add(1)
		}
		a.mu.Unlock()
		a.requests.add(1)
	}
	rec := &bodyRecorder{ResponseWriter: w, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	if img != "" {
		a.requests.add(-1)
	}
	body := rec.body.String()
	a.mu.Lock()
	defer a.mu.Unlock()
	end := func(img string) {
		if a.active[img] {
			delete(a.active, img)
			a.gauge.add(-1)
		}
	}
	switch {
	case img != "" && rec.status == http.StatusOK:
		m := opNameRE.FindStringSubmatch(body)
		if m == nil || strings.Contains(body, `"status":"DONE"`) {
			end(img) // done already: nothing to wait for
		} else {
			a.ops[m[1]] = img
		}
	case img != "" && rec.status != http.StatusTooManyRequests && rec.status < 500:
		end(img) // refused for good: the client will not retry
	case waitOp != "" && rec.status == http.StatusOK && strings.Contains(body, `"status":"DONE"`):
		if img, ok := a.ops[waitOp]; ok {
			delete(a.ops, waitOp)
			end(img)
		}
	}
}

// bodyRecorder keeps a copy of what a handler writes.
type bodyRecorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *bodyRecorder) WriteHeader(code int) {
	b.status = code
	b.ResponseWriter.WriteHeader(code)
}

func (b *bodyRecorder) Write(p []byte) (int, error) {
	b.body.Write(p)
	return b.ResponseWriter.Write(p)
}

func (b *bodyRecorder) Unwrap() http.ResponseWriter { return b.ResponseWriter }

func (b *bodyRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(b.ResponseWriter).Hijack()
}

// Emulator is an in-process emulator on a loopback port, counting requests.
type Emulator struct {
	writesMu sync.Mutex
	started  time.Time
	writes   []time.Duration // image mutations answered 200, since markStart
	Server   *emulator.Server
	URL      string // http://127.0.0.1:PORT
	Counts   *Counts
	Gauge    *Gauge
	// Requests is the image mutation requests being served, over time.
	Requests *Gauge
	hs       *http.Server
}

// StartEmulator serves an emulator with opts (OnRequest is taken) on
// 127.0.0.1 until Close.
func StartEmulator(opts emulator.Options) (*Emulator, error) {
	counts := newCounts()
	e := &Emulator{}
	opts.OnRequest = func(method string, status int) {
		counts.record(method, status)
		if status == http.StatusOK && isImageMutation(method) {
			e.writesMu.Lock()
			if !e.started.IsZero() {
				e.writes = append(e.writes, time.Since(e.started))
			}
			e.writesMu.Unlock()
		}
	}
	srv, err := emulator.New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	gauge, requests := newGauge(250*time.Millisecond), newGauge(250*time.Millisecond)
	acts := &actions{gauge: gauge, requests: requests, active: map[string]bool{}, ops: map[string]string{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { acts.serve(srv, w, r) })
	e.Server, e.URL, e.Counts, e.Gauge, e.Requests = srv, "http://"+ln.Addr().String(), counts, gauge, requests
	e.hs = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.hs.Serve(ln) }()
	return e, nil
}

// ComputeEndpoint is the endpoint as googlecompute and gcloud spell it.
func (e *Emulator) ComputeEndpoint() string { return e.URL + "/compute/v1/" }

// Reset starts counting again from zero.
func (e *Emulator) Reset() {
	e.Counts.mu.Lock()
	e.Counts.byMethod, e.Counts.byStatus = map[string]int{}, map[string]int{}
	e.Counts.mu.Unlock()
	now := time.Now()
	for _, g := range []*Gauge{e.Gauge, e.Requests} {
		g.mu.Lock()
		g.start, g.last, g.peaks, g.area = now, now, nil, nil
		g.mu.Unlock()
	}
}

// Close stops the server, then the emulator (which writes its state file,
// when it has one).
func (e *Emulator) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.hs.Shutdown(ctx); err != nil {
		_ = e.hs.Close()
	}
	_ = e.Server.Close()
}

func isImageMutation(method string) bool {
	switch method {
	case "images.deprecate", "images.setLabels", "images.delete", "images.patch":
		return true
	}
	return false
}

// markStart starts the clock of acceptedWrites.
func (e *Emulator) markStart() {
	e.writesMu.Lock()
	defer e.writesMu.Unlock()
	e.started, e.writes = time.Now(), nil
}

// acceptedWrites is when each image mutation was answered 200 since
// markStart, in order.
func (e *Emulator) acceptedWrites() []time.Duration {
	e.writesMu.Lock()
	defer e.writesMu.Unlock()
	return slices.Clone(e.writes)
}

// httpGet reads url's body; a non-200 answer is an error.
func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b, nil
}
