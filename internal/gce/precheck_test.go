package gce

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

var errStale = errors.New("changed since planned (test)")

func TestAPrecheckThatFailsStopsTheMutationBeforeItIsSent(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.rec.reset()
	ctx := WithPrecheck(t.Context(), func(context.Context) error { return errStale })
	err := h.c.Deprecate(ctx, "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated})
	if !errors.Is(err, errStale) || err.Error() != errStale.Error() {
		t.Fatalf("Deprecate = %v, want the precheck's error as it is", err)
	}
	if sent := h.rec.matching("POST", "/web-v1/deprecate"); len(sent) != 0 {
		t.Fatalf("%d deprecate requests sent, want none", len(sent))
	}
	if got := readBack(t, h, "web-v1"); got.State() != lifecycle.StateActive {
		t.Fatalf("the image changed: %v", got.Deprecation)
	}
}

func TestAPrecheckRunsBeforeEveryAttemptWhileTheRequestHoldsItsSlot(t *testing.T) {
	h := newHarness(t, emulator.Options{Faults: faults(t, "images.deprecate=503:1")})
	h.putImage(t, "acme", "web-v1", "web", nil)
	var (
		mu     sync.Mutex
		events []string
	)
	note := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	slots := &recordingSlots{note: note}
	checks := 0
	ctx := WithRequestSlots(t.Context(), slots)
	ctx = WithPrecheck(ctx, func(context.Context) error {
		checks++
		note("check")
		if checks == 3 {
			return errStale // the world changed during the retries
		}
		return nil
	})
	err := h.c.Deprecate(ctx, "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated})
	if !errors.Is(err, errStale) {
		t.Fatalf("Deprecate = %v, want the third check's error", err)
	}
	if sent := h.rec.matching("POST", "/web-v1/deprecate"); len(sent) != 2 {
		t.Fatalf("%d attempts sent, want 2 (the third was checked and not sent)", len(sent))
	}
	if got := strings.Join(events, " "); got != "acquire check check check release" {
		t.Fatalf("events = %q: the checks must run while the slot is held, before each attempt", got)
	}
}

func TestARefusedRetryOfAnUnansweredAttemptThatWasAppliedSucceeds(t *testing.T) {
	// The first attempt is applied and its answer lost; the retry's check
	// then sees the image changed (by that very attempt): the operation
	// found by requestId says it was ours.
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.rec.intercept = func(n int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
		if req.Method == "POST" && strings.HasSuffix(req.URL.Path, "/web-v1/deprecate") && len(h.rec.matching("POST", "/web-v1/deprecate")) == 1 {
			return loseResponse(req, base)
		}
		return base.RoundTrip(req)
	}
	attempt := 0
	ctx := WithPrecheck(t.Context(), func(context.Context) error {
		attempt++
		if attempt > 1 {
			return errStale
		}
		return nil
	})
	if err := h.c.Deprecate(ctx, "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated}); err != nil {
		t.Fatalf("Deprecate = %v, want success: the first attempt was applied", err)
	}
	if got := readBack(t, h, "web-v1"); got.State() != lifecycle.StateDeprecated {
		t.Fatalf("state = %q", got.State())
	}
}

func TestARefusedRetryOfAnAttemptThatNeverArrivedIsRefused(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.rec.intercept = func(n int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
		if req.Method == "POST" && strings.HasSuffix(req.URL.Path, "/web-v1/deprecate") {
			return neverSent(req, base)
		}
		return base.RoundTrip(req)
	}
	attempt := 0
	ctx := WithPrecheck(t.Context(), func(context.Context) error {
		attempt++
		if attempt > 1 {
			return errStale
		}
		return nil
	})
	err := h.c.Deprecate(ctx, "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated})
	if !errors.Is(err, errStale) {
		t.Fatalf("Deprecate = %v, want the check's refusal: nothing was applied", err)
	}
	if lookups := h.rec.matching("GET", "/acme/global/operations"); len(lookups) != 1 {
		t.Fatalf("%d operation lookups, want 1 (to tell our own change from another's)", len(lookups))
	}
}

// recordingSlots is a RequestSlots of one slot that notes its use.
type recordingSlots struct{ note func(string) }

func (s *recordingSlots) Acquire(context.Context) error { s.note("acquire"); return nil }
func (s *recordingSlots) Release(error)                 { s.note("release") }

func readBack(t *testing.T, h *harness, name string) lifecycle.Image {
	t.Helper()
	img, err := h.c.GetImage(context.Background(), "acme", name)
	if err != nil {
		t.Fatalf("reading %s back: %v", name, err)
	}
	return img
}
