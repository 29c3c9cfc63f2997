package gce

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// slotLog is a RequestSlots that lets every request through and writes each
// acquire and release into the same log as the requests the client sends, so
// a test sees which requests a slot covered.
type slotLog struct {
	mu     *sync.Mutex
	events *[]string
}

func (s slotLog) add(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.events = append(*s.events, e)
}

func (s slotLog) Acquire(context.Context) error { s.add("acquire"); return nil }

func (s slotLog) Release(err error) {
	switch {
	case err == nil:
		s.add("release")
	case errors.Is(err, ErrQuota):
		s.add("release quota")
	default:
		s.add("release error")
	}
}

// shortPath is the part of a request path a test compares:
// "images/web-v1/deprecate", "operations/wait".
func shortPath(p string) string {
	_, rest, _ := strings.Cut(p, "/global/")
	if strings.HasPrefix(rest, "operations/") && strings.HasSuffix(rest, "/wait") {
		return "operations/wait"
	}
	return rest
}

// runs folds repeated events into one "event ×n" (n > 1).
func runs(events []string) []string {
	var out []string
	for i := 0; i < len(events); {
		j := i
		for j < len(events) && events[j] == events[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s ×%d", events[i], j-i))
		} else {
			out = append(out, events[i])
		}
		i = j
	}
	return out
}

func TestMutationHoldsARequestSlotOnlyUntilItsRequestIsAnswered(t *testing.T) {
	tests := []struct {
		name   string
		faults string
		want   []string
	}{
		{"answered: the operation wait runs outside the slot", "",
			[]string{"acquire", "POST images/web-v1/deprecate", "release", "POST operations/wait"}},
		{"retries stay inside the slot", "images.deprecate=503:0.5",
			[]string{"acquire", "POST images/web-v1/deprecate ×3", "release", "POST operations/wait"}},
		{"a quota error that outlasts the retries is reported to the slots", "images.deprecate=429:1",
			[]string{"acquire", "POST images/web-v1/deprecate ×6", "release quota"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Operations stay RUNNING long enough that the client must wait; the
			// seed makes the 503 case fail twice before it goes through.
			opts := emulator.Options{OpLatency: 200 * time.Millisecond, Seed: 4}
			if tt.faults != "" {
				opts.Faults = faults(t, tt.faults)
			}
			h := newHarness(t, opts)
			h.putImage(t, "acme", "web-v1", "web", nil)
			var (
				mu     sync.Mutex
				events []string
			)
			log := slotLog{&mu, &events}
			h.rec.intercept = func(n int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
				log.add(req.Method + " " + shortPath(req.URL.Path))
				return base.RoundTrip(req)
			}
			ctx := WithRequestSlots(t.Context(), log)
			_ = h.c.Deprecate(ctx, "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated})
			if got := runs(events); !slices.Equal(got, tt.want) {
				t.Errorf("events:\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}
