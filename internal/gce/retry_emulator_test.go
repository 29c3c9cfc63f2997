package gce

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// connReset is the error a client sees when the server's connection drops.
func connReset() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

// loseResponse delivers the request to the emulator and then drops the
// answer, as a connection reset after the server applied the call does.
func loseResponse(req *http.Request, base http.RoundTripper) (*http.Response, error) {
	resp, err := base.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return nil, connReset()
}

func isInsert(req *http.Request) bool {
	return req.Method == "POST" && strings.HasSuffix(req.URL.Path, "/global/images")
}

func requestIDs(reqs []sentRequest) []string {
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.Query["requestId"])
	}
	return ids
}

func allSame(ids []string) bool {
	for _, id := range ids {
		if id == "" || id != ids[0] {
			return false
		}
	}
	return len(ids) > 0
}

// insertOps counts the insert operations the emulator recorded.
func insertOps(t *testing.T, h *harness, project string) int {
	t.Helper()
	it := h.c.globalOps.List(t.Context(), &computepb.ListGlobalOperationsRequest{Project: project})
	n := 0
	for {
		op, err := it.Next()
		if err != nil {
			break
		}
		if op.GetOperationType() == "insert" {
			n++
		}
	}
	return n
}

func TestRetriesRideOutInjectedFaultsKeepingOneRequestID(t *testing.T) {
	tests := []struct {
		name   string
		faults string
		call   func(t *testing.T, h *harness) error
		method string // recorded requests to check
		suffix string
	}{
		{name: "deprecate through 503s", faults: "images.deprecate=503:0.5",
			call: func(t *testing.T, h *harness) error {
				return h.c.Deprecate(t.Context(), "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated})
			}, method: "POST", suffix: "/web-v1/deprecate"},
		{name: "insert through connection resets", faults: "images.insert=reset:0.5",
			call: func(t *testing.T, h *harness) error {
				_, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1"})
				return err
			}, method: "POST", suffix: "/acme/global/images"},
		{name: "insert through 429s", faults: "images.insert=429:0.5",
			call: func(t *testing.T, h *harness) error {
				_, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1"})
				return err
			}, method: "POST", suffix: "/acme/global/images"},
		{name: "patch through 502s", faults: "images.patch=502:0.5",
			call:   func(t *testing.T, h *harness) error { return h.c.SetFamily(t.Context(), "acme", "web-v1", "app") },
			method: "PATCH", suffix: "/web-v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Under seed 2 the first attempt of each of these draws the fault.
			h := newHarness(t, emulator.Options{Faults: faults(t, tt.faults), Seed: 2})
			h.putImage(t, "acme", "web-v1", "web", nil)
			h.rec.reset()
			if err := tt.call(t, h); err != nil {
				t.Fatalf("call failed despite retries: %v", err)
			}
			sent := h.rec.matching(tt.method, tt.suffix)
			if len(sent) < 2 {
				t.Fatalf("%d attempts, want a retry (the seed should make the first fail)", len(sent))
			}
			if ids := requestIDs(sent); !allSame(ids) {
				t.Errorf("requestIds across retries = %v, want one id", ids)
			}
			if got := len(h.sleep.Pauses()); got != len(sent)-1 {
				t.Errorf("slept %d times for %d attempts", got, len(sent))
			}
		})
	}
}

func TestRetriesAreBoundedThenTheErrorIsTyped(t *testing.T) {
	tests := []struct {
		faults string
		kind   error
		code   int
	}{
		{"images.get=429:1", ErrQuota, 429},
		{"images.get=503:1", nil, 503},
		{"images.get=500:1", nil, 500},
		{"images.get=reset:1", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.faults, func(t *testing.T) {
			h := newHarness(t, emulator.Options{Faults: faults(t, tt.faults), Seed: 1})
			_, err := h.c.GetImage(t.Context(), "acme", "web-v1")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("GetImage = %v, want *Error", err)
			}
			if e.Attempts != 6 || len(h.rec.sent) < 6 || len(h.sleep.Pauses()) != 5 {
				t.Errorf("attempts %d, requests %d, pauses %d; want 6, 6, 5", e.Attempts, len(h.rec.sent), len(h.sleep.Pauses()))
			}
			if e.Code != tt.code || (tt.kind != nil && !errors.Is(err, tt.kind)) {
				t.Errorf("error %v: code %d kind %v, want %d %v", err, e.Code, e.Kind, tt.code, tt.kind)
			}
			if tt.code != 0 && !strings.Contains(err.Error(), "Injected fault for images.get") {
				t.Errorf("error %q does not carry Google's (the emulator's) message", err)
			}
			if !strings.Contains(err.Error(), "after 6 attempts") {
				t.Errorf("error %q does not say it retried", err)
			}
		})
	}
}

func TestInsertWithALostResponseIsReplayedByRequestID(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.rec.reset()
	lost := false
	h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
		if isInsert(req) && !lost {
			lost = true
			return loseResponse(req, base)
		}
		return base.RoundTrip(req)
	}
	img, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1", Family: "web"})
	if err != nil || img.Name != "web-v2" {
		t.Fatalf("insert after a lost response = %+v, %v", img, err)
	}
	inserts := h.rec.matching("POST", "/acme/global/images")
	if len(inserts) != 2 || !allSame(requestIDs(inserts)) {
		t.Fatalf("inserts = %d with ids %v, want 2 with one id", len(inserts), requestIDs(inserts))
	}
	if n := insertOps(t, h, "acme"); n != 1 {
		t.Errorf("the emulator ran %d insert operations, want 1 (the retry replayed)", n)
	}
}

func TestAlreadyExistsOnARetryIsSuccessOnlyWhenTheOperationIsOurs(t *testing.T) {
	t.Run("ours: the server forgot the requestId", func(t *testing.T) {
		h := newHarness(t, emulator.Options{})
		h.putImage(t, "acme", "web-v1", "web", nil)
		h.rec.reset()
		attempt := 0
		h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
			if !isInsert(req) {
				return base.RoundTrip(req)
			}
			attempt++
			if attempt == 1 {
				return loseResponse(req, base)
			}
			// A server that no longer remembers the requestId: the retry
			// arrives as a new request and meets the image.
			r2 := req.Clone(req.Context())
			q := r2.URL.Query()
			q.Set("requestId", uuid.NewString())
			r2.URL.RawQuery = q.Encode()
			return base.RoundTrip(r2)
		}
		img, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1"})
		if err != nil || img.Name != "web-v2" {
			t.Fatalf("insert = %+v, %v; want success: the operation with our requestId created it", img, err)
		}
		if n := len(h.rec.matching("GET", "/acme/global/operations")); n != 1 {
			t.Errorf("looked for the operation %d times, want 1", n)
		}
	})
	t.Run("someone else's image", func(t *testing.T) {
		h := newHarness(t, emulator.Options{})
		h.putImage(t, "acme", "web-v1", "web", nil)
		h.putImage(t, "acme", "web-v2", "web", nil) // made by another run
		h.rec.reset()
		attempt := 0
		h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
			if isInsert(req) {
				if attempt++; attempt == 1 {
					return nil, connReset() // never reached the server
				}
			}
			return base.RoundTrip(req)
		}
		_, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1"})
		if !errors.Is(err, ErrAlreadyExists) || !strings.Contains(err.Error(), "no operation carries its requestId") {
			t.Fatalf("insert = %v, want ErrAlreadyExists explaining no operation is ours", err)
		}
	})
	t.Run("first attempt: no lookup", func(t *testing.T) {
		h := newHarness(t, emulator.Options{})
		h.putImage(t, "acme", "web-v1", "web", nil)
		h.putImage(t, "acme", "web-v2", "web", nil)
		h.rec.reset()
		_, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1"})
		if !errors.Is(err, ErrAlreadyExists) || len(h.rec.matching("GET", "/global/operations")) != 0 {
			t.Fatalf("insert = %v with %d operation lookups; want ErrAlreadyExists and none", err, len(h.rec.matching("GET", "/global/operations")))
		}
	})
}

func TestDeleteWithALostResponseSucceeds(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	lost := false
	h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
		if req.Method == "DELETE" && !lost {
			lost = true
			return loseResponse(req, base)
		}
		return base.RoundTrip(req)
	}
	if err := h.c.DeleteImage(t.Context(), "acme", "web-v1"); err != nil {
		t.Fatalf("delete after a lost response = %v", err)
	}
	if _, err := h.c.GetImage(t.Context(), "acme", "web-v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("image still there: %v", err)
	}
}

func TestAFailedOperationIsATypedErrorWithGooglesMessage(t *testing.T) {
	for _, strip := range []bool{false, true} {
		name := "with httpErrorStatusCode"
		if strip {
			name = "without httpErrorStatusCode (Wait alone would say success)"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{Faults: faults(t, "images.deprecate=fail:1")})
			h.putImage(t, "acme", "web-v1", "web", nil)
			if strip {
				h.rec.intercept = func(_ int, req *http.Request, base http.RoundTripper) (*http.Response, error) {
					resp, err := base.RoundTrip(req)
					if err != nil {
						return resp, err
					}
					return stripHTTPError(t, resp), nil
				}
			}
			err := h.c.Deprecate(t.Context(), "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated})
			var e *Error
			if !errors.Is(err, ErrOperationFailed) || !errors.As(err, &e) {
				t.Fatalf("Deprecate = %v, want ErrOperationFailed", err)
			}
			if !strings.Contains(e.Message, "Injected operation failure for images.deprecate") || e.Operation == "" {
				t.Errorf("error %q lacks the operation's message or name", err)
			}
			if n := len(h.rec.matching("POST", "/deprecate")); n != 1 {
				t.Errorf("a failed operation was retried: %d deprecate calls", n)
			}
			img, _ := h.c.GetImage(t.Context(), "acme", "web-v1")
			if img.State() != lifecycle.StateActive {
				t.Errorf("image state %s after a failed deprecate", img.State())
			}
		})
	}
}

// stripHTTPError removes httpErrorStatusCode/httpErrorMessage from an
// operation response, as some Compute Engine operations come back.
func stripHTTPError(t *testing.T, resp *http.Response) *http.Response {
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if json.Unmarshal(b, &m) == nil && m["kind"] == "compute#operation" {
		delete(m, "httpErrorStatusCode")
		delete(m, "httpErrorMessage")
		b, _ = json.Marshal(m)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp
}

func TestSetLabelsMergesAgainWhenAConcurrentWriterWins(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", map[string]string{"team": "web"})
	other := h.newClient(t)

	merges := 0
	err := h.c.setLabels(t.Context(), "acme", "web-v1", nil, func(cur map[string]string) (map[string]string, error) {
		merges++
		if merges == 1 {
			// Between our read and our write, another writer adds its label.
			if err := other.setLabels(t.Context(), "acme", "web-v1", nil, func(c map[string]string) (map[string]string, error) {
				c["reviewed"] = "yes"
				return c, nil
			}); err != nil {
				t.Fatalf("concurrent writer: %v", err)
			}
		}
		cur["released"] = "true"
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := h.c.GetImage(t.Context(), "acme", "web-v1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "web", "reviewed": "yes", "released": "true"}
	if len(img.Labels) != 3 || img.Labels["reviewed"] != "yes" || img.Labels["released"] != "true" || img.Labels["team"] != "web" {
		t.Errorf("labels = %v, want %v: both writers' labels survive", img.Labels, want)
	}
	if merges != 2 {
		t.Errorf("merge ran %d times, want 2 (once more after the 412)", merges)
	}
}

func TestSetLabelsGivesUpAfterBoundedRacesWithAFingerprintError(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", nil)
	other := h.newClient(t)
	n := 0
	err := h.c.setLabels(t.Context(), "acme", "web-v1", nil, func(cur map[string]string) (map[string]string, error) {
		n++
		// Someone always writes in between.
		_ = other.setLabels(t.Context(), "acme", "web-v1", nil, func(c map[string]string) (map[string]string, error) {
			c["n"] = strings.Repeat("x", n)
			return c, nil
		})
		cur["mine"] = "1"
		return cur, nil
	})
	var e *Error
	if !errors.Is(err, ErrFingerprintMismatch) || !errors.As(err, &e) || e.Attempts != 6 || n != 6 {
		t.Fatalf("SetLabels under constant races = %v after %d merges; want ErrFingerprintMismatch after 6", err, n)
	}
	if !strings.Contains(e.Message, "Labels fingerprint either invalid or resource labels have changed") {
		t.Errorf("error %q lacks Google's message", err)
	}
}

func TestSetLabelsWritesNothingWhenTheMergeChangesNothing(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	h.putImage(t, "acme", "web-v1", "web", map[string]string{"team": "web"})
	h.rec.reset()
	err := h.c.setLabels(t.Context(), "acme", "web-v1", nil, func(cur map[string]string) (map[string]string, error) { return cur, nil })
	if err != nil || len(h.rec.matching("POST", "/setLabels")) != 0 {
		t.Fatalf("SetLabels with no change = %v, %d writes; want nil, 0", err, len(h.rec.matching("POST", "/setLabels")))
	}
	wantErr := errors.New("label team is protected")
	err = h.c.setLabels(t.Context(), "acme", "web-v1", nil, func(map[string]string) (map[string]string, error) { return nil, wantErr })
	if !errors.Is(err, wantErr) {
		t.Fatalf("merge error = %v, want it passed through", err)
	}
}
