package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
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

// Gauge follows how many image mutations and operation waits are in flight
// at the emulator (what the applier's parallelism looks like from the
// server): per interval, the highest count and the time-weighted mean.
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

// isActionCall reports whether a request is part of carrying out an action:
// an image mutation or the wait for its operation.
func isActionCall(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && (strings.HasSuffix(p, "/deprecate") || strings.HasSuffix(p, "/setLabels") || strings.HasSuffix(p, "/wait")):
		return true
	case r.Method == http.MethodDelete && strings.Contains(p, "/global/images/"):
		return true
	case r.Method == http.MethodGet && strings.Contains(p, "/global/operations/"):
		return true
	}
	return false
}

// Emulator is an in-process emulator on a loopback port, counting requests.
type Emulator struct {
	Server *emulator.Server
	URL    string // http://127.0.0.1:PORT
	Counts *Counts
	Gauge  *Gauge
	hs     *http.Server
}

// StartEmulator serves an emulator with opts (OnRequest is taken) on
// 127.0.0.1 until Close.
func StartEmulator(opts emulator.Options) (*Emulator, error) {
	counts := newCounts()
	opts.OnRequest = counts.record
	srv, err := emulator.New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	gauge := newGauge(250 * time.Millisecond)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isActionCall(r) {
			gauge.add(1)
			defer gauge.add(-1)
		}
		srv.ServeHTTP(w, r)
	})
	e := &Emulator{Server: srv, URL: "http://" + ln.Addr().String(), Counts: counts, Gauge: gauge,
		hs: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
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
	e.Gauge.mu.Lock()
	now := time.Now()
	e.Gauge.start, e.Gauge.last, e.Gauge.peaks, e.Gauge.area = now, now, nil, nil
	e.Gauge.mu.Unlock()
}

// Close stops the server.
func (e *Emulator) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.hs.Shutdown(ctx); err != nil {
		_ = e.hs.Close()
	}
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
