package gce

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// The emulator's "reset" fault closes the connection before the handler
// runs (nothing is applied), so a response lost after the mutation was
// applied is made here: the recorder sends the request to the emulator and
// then gives the client a failure instead of the answer.

// answer503 delivers the request and then answers 503, as a front end that
// failed after the backend applied the call does.
func answer503(req *http.Request, base http.RoundTripper) (*http.Response, error) {
	resp, err := base.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	body := `{"error":{"code":503,"message":"Backend Error","errors":[{"message":"Backend Error","domain":"global","reason":"backendError"}]}}`
	return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json; charset=UTF-8"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// neverSent fails the request without sending it: nothing is applied.
func neverSent(*http.Request, http.RoundTripper) (*http.Response, error) { return nil, connReset() }

// refused429 answers 429 without sending the request: a refusal, which
// leaves nothing in doubt.
func refused429(req *http.Request, _ http.RoundTripper) (*http.Response, error) {
	body := `{"error":{"code":429,"message":"Rate Limit Exceeded","errors":[{"message":"Rate Limit Exceeded","domain":"usageLimits","reason":"rateLimitExceeded"}]}}`
	return &http.Response{StatusCode: http.StatusTooManyRequests, Status: "429 Too Many Requests",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json; charset=UTF-8"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// lostMutation is one mutation whose every attempt is intercepted.
type lostMutation struct {
	name string
	// method and suffix pick the mutation's requests out of the others.
	method, suffix string
	call           func(t *testing.T, h *harness) error
	// applied reports whether the emulator holds the mutation's effect.
	applied func(t *testing.T, h *harness) bool
	// byOperation: the mutation carries a requestId, so an unanswered one
	// is decided by looking its operation up; setLabels has none and is
	// decided by reading the labels back.
	byOperation bool
}

func lostMutations() []lostMutation {
	get := func(t *testing.T, h *harness, name string) (lifecycle.Image, bool) {
		t.Helper()
		img, err := h.c.GetImage(t.Context(), "acme", name)
		if errors.Is(err, ErrNotFound) {
			return img, false
		}
		if err != nil {
			t.Fatalf("reading %s back: %v", name, err)
		}
		return img, true
	}
	return []lostMutation{
		{name: "insert", method: "POST", suffix: "/acme/global/images", byOperation: true,
			call: func(t *testing.T, h *harness) error {
				img, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1"})
				if err == nil && img.Name != "web-v2" {
					t.Errorf("insert returned %+v, want web-v2", img)
				}
				return err
			},
			applied: func(t *testing.T, h *harness) bool { _, ok := get(t, h, "web-v2"); return ok }},
		{name: "delete", method: "DELETE", suffix: "/global/images/web-v1", byOperation: true,
			call:    func(t *testing.T, h *harness) error { return h.c.DeleteImage(t.Context(), "acme", "web-v1") },
			applied: func(t *testing.T, h *harness) bool { _, ok := get(t, h, "web-v1"); return !ok }},
		{name: "patch family", method: "PATCH", suffix: "/global/images/web-v1", byOperation: true,
			call: func(t *testing.T, h *harness) error { return h.c.SetFamily(t.Context(), "acme", "web-v1", "app") },
			applied: func(t *testing.T, h *harness) bool {
				img, _ := get(t, h, "web-v1")
				return img.Family == "app"
			}},
		{name: "deprecate", method: "POST", suffix: "/web-v1/deprecate", byOperation: true,
			call: func(t *testing.T, h *harness) error {
				return h.c.Deprecate(t.Context(), "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated})
			},
			applied: func(t *testing.T, h *harness) bool {
				img, _ := get(t, h, "web-v1")
				return img.State() == lifecycle.StateDeprecated
			}},
		{name: "setLabels", method: "POST", suffix: "/web-v1/setLabels",
			call: func(t *testing.T, h *harness) error {
				return h.c.setLabels(t.Context(), "acme", "web-v1", nil, func(cur map[string]string) (map[string]string, error) {
					cur["released"] = "true"
					return cur, nil
				})
			},
			applied: func(t *testing.T, h *harness) bool {
				img, _ := get(t, h, "web-v1")
				return img.Labels["released"] == "true"
			}},
	}
}

// TestAMutationWhoseEveryAnswerIsLostEndsAsComputeEngineDidIt: when every
// attempt is applied and its answer lost, the mutation succeeded and must
// say so (an insert reported as failed leaves its image behind, unknown to
// the caller); when no attempt reached Compute Engine, it failed and must say
// that nothing was applied; a refusal (429) leaves nothing to look up.
func TestAMutationWhoseEveryAnswerIsLostEndsAsComputeEngineDidIt(t *testing.T) {
	for _, mut := range lostMutations() {
		for _, loss := range []struct {
			name    string
			lose    func(*http.Request, http.RoundTripper) (*http.Response, error)
			applied bool
			// lookup: the outcome is in doubt, so it is looked up.
			lookup bool
			// errText is in the error of a mutation that was not applied.
			errText string
		}{
			{name: "reset after apply", lose: loseResponse, applied: true, lookup: true},
			{name: "503 after apply", lose: answer503, applied: true, lookup: true},
			{name: "reset before apply", lose: neverSent, lookup: true, errText: "connection reset"},
			{name: "429 every time", lose: refused429, errText: "Rate Limit Exceeded"},
		} {
			t.Run(mut.name+"/"+loss.name, func(t *testing.T) {
				h := newHarness(t, emulator.Options{})
				h.putImage(t, "acme", "web-v1", "web", map[string]string{"team": "web"})
				h.rec.reset()
				h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
					if req.Method == mut.method && strings.HasSuffix(req.URL.Path, mut.suffix) {
						return loss.lose(req, base)
					}
					return base.RoundTrip(req)
				}
				err := mut.call(t, h)
				attempts := len(h.rec.matching(mut.method, mut.suffix))
				lookups := len(h.rec.matching("GET", "/acme/global/operations"))
				h.rec.intercept = nil

				if attempts != 6 {
					t.Errorf("%d attempts, want 6 (every one unanswered)", attempts)
				}
				if got := mut.applied(t, h); got != loss.applied {
					t.Fatalf("applied = %v, want %v (the fixture is wrong)", got, loss.applied)
				}
				wantLookups := 0
				if mut.byOperation && loss.lookup {
					wantLookups = 1
				}
				if lookups != wantLookups {
					t.Errorf("%d operation lookups, want %d", lookups, wantLookups)
				}
				if loss.applied {
					if err != nil {
						t.Fatalf("%s = %v; want success: Compute Engine applied it", mut.name, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("%s succeeded, but nothing was applied", mut.name)
				}
				if mut.byOperation && loss.lookup && !strings.Contains(err.Error(), "no attempt was applied") {
					t.Errorf("error %q does not say that nothing was applied", err)
				}
				if !strings.Contains(err.Error(), loss.errText) || !strings.Contains(err.Error(), "after 6 attempts") {
					t.Errorf("error %q lost the failure itself (%q)", err, loss.errText)
				}
			})
		}
	}
}

func TestAnUnansweredInsertWhoseLookupFailsSaysItMayExist(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
		switch {
		case isInsert(req):
			return loseResponse(req, base)
		case req.Method == "GET" && strings.HasSuffix(req.URL.Path, "/global/operations"):
			return nil, connReset()
		}
		return base.RoundTrip(req)
	}
	_, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1"})
	if err == nil || !strings.Contains(err.Error(), "may have been applied all the same") {
		t.Fatalf("insert = %v; want an error saying the image may exist", err)
	}
}

func TestAnUnansweredInsertWhoseOperationFailedReportsItsError(t *testing.T) {
	h := newHarness(t, emulator.Options{Faults: faults(t, "images.insert=fail:1")})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
		if isInsert(req) {
			return loseResponse(req, base)
		}
		return base.RoundTrip(req)
	}
	_, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1"})
	if !errors.Is(err, ErrOperationFailed) || !strings.Contains(err.Error(), "Injected operation failure for images.insert") {
		t.Fatalf("insert = %v; want the found operation's own failure", err)
	}
}
