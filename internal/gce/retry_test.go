package gce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
)

// recordingSleep is a Backoff.Sleep that returns at once and remembers the
// pauses asked for, so retry tests are instant and can check the schedule.
type recordingSleep struct {
	mu     sync.Mutex
	pauses []time.Duration
}

func (r *recordingSleep) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.pauses = append(r.pauses, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *recordingSleep) Pauses() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.pauses...)
}

// testBackoff is the default policy with seeded jitter and no real sleeping.
func testBackoff(sleep *recordingSleep) Backoff {
	b := DefaultBackoff()
	b.Rand = rand.New(rand.NewPCG(1, 2)).Float64
	b.Sleep = sleep.Sleep
	return b
}

func apiErr(code int, reason string) error {
	return &googleapi.Error{Code: code, Message: "m", Errors: []googleapi.ErrorItem{{Reason: reason, Message: "m"}}}
}

func TestRetryableClassifiesTransientFailures(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"429 rate limit", apiErr(429, "rateLimitExceeded"), true},
		{"500", apiErr(500, "backendError"), true},
		{"502", apiErr(502, "badGateway"), true},
		{"503", apiErr(503, "backendError"), true},
		{"504", apiErr(504, "timeout"), true},
		{"403 user rate limit", apiErr(403, "userRateLimitExceeded"), true},
		{"403 quota is not transient", apiErr(403, "quotaExceeded"), false},
		{"403 forbidden", apiErr(403, "forbidden"), false},
		{"400", apiErr(400, "invalid"), false},
		{"404", apiErr(404, "notFound"), false},
		{"409", apiErr(409, "alreadyExists"), false},
		{"412", apiErr(412, "conditionNotMet"), false},
		{"EOF on a POST", &url.Error{Op: "Post", URL: "http://x", Err: io.EOF}, true},
		{"unexpected EOF", fmt.Errorf("reading body: %w", io.ErrUnexpectedEOF), true},
		{"connection reset", &url.Error{Op: "Get", URL: "http://x", Err: &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}, true},
		{"broken pipe", &net.OpError{Op: "write", Err: os.NewSyscallError("write", syscall.EPIPE)}, true},
		{"written to a connection closed meanwhile", &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "write", Net: "tcp", Err: net.ErrClosed}}, true},
		{"connection refused is not (nothing is there)", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
		{"context canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"failed operation", &Error{Operation: "operation-1", Code: 503}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestRetryStopsAfterTheAttemptBoundWithFullJitterBackoff(t *testing.T) {
	sleep := &recordingSleep{}
	r := newRetrier(testBackoff(sleep))
	calls := 0
	n, err := r.do(t.Context(), func(context.Context) error { calls++; return apiErr(503, "backendError") }, nil)
	if n != 6 || calls != 6 || err == nil {
		t.Fatalf("do() = %d attempts, %d calls, %v; want 6 and the last error", n, calls, err)
	}
	pauses := sleep.Pauses()
	if len(pauses) != 5 {
		t.Fatalf("slept %d times, want 5 (between 6 attempts)", len(pauses))
	}
	for i, p := range pauses {
		ceiling := min(10*time.Second, 200*time.Millisecond<<i)
		if p < 0 || p >= ceiling {
			t.Errorf("pause %d = %v, want in [0, %v)", i+1, p, ceiling)
		}
	}
	// Seeded: the same seed gives the same schedule.
	sleep2 := &recordingSleep{}
	r2 := newRetrier(testBackoff(sleep2))
	_, _ = r2.do(t.Context(), func(context.Context) error { return apiErr(503, "") }, nil) // fails by design: only the schedule matters
	if fmt.Sprint(sleep2.Pauses()) != fmt.Sprint(pauses) {
		t.Errorf("schedules differ under one seed: %v vs %v", sleep2.Pauses(), pauses)
	}
}

func TestRetryDelayIsCappedForLateRetries(t *testing.T) {
	b := testBackoff(&recordingSleep{})
	b.Rand = func() float64 { return 0.999999 }
	r := newRetrier(b)
	for n, want := range map[int]time.Duration{1: 200 * time.Millisecond, 3: 800 * time.Millisecond, 7: 10 * time.Second, 60: 10 * time.Second} {
		if got := r.delay(n); got > want || got < want*99/100 {
			t.Errorf("delay(%d) = %v, want just under %v", n, got, want)
		}
	}
}

func TestRetryGivesUpAtOnceOnAPermanentError(t *testing.T) {
	sleep := &recordingSleep{}
	r := newRetrier(testBackoff(sleep))
	n, err := r.do(t.Context(), func(context.Context) error { return apiErr(404, "notFound") }, nil)
	if n != 1 || len(sleep.Pauses()) != 0 || err == nil {
		t.Fatalf("do() = %d attempts, %d pauses, %v; want 1, 0, the error", n, len(sleep.Pauses()), err)
	}
}

func TestRetryEndsWhenTheContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := newRetrier(Backoff{Base: time.Hour, Cap: time.Hour, Attempts: 100})
	calls := 0
	start := time.Now()
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	n, err := r.do(ctx, func(context.Context) error { calls++; return apiErr(503, "") }, nil)
	if time.Since(start) > 5*time.Second || calls != 1 || n != 1 || !errors.Is(err, context.Canceled) || !Retryable(apiErr(503, "")) {
		t.Fatalf("do() after cancel: %d attempts, %v, took %v", n, err, time.Since(start))
	}
}

func TestRetrySucceedsOnceTheFailureClears(t *testing.T) {
	sleep := &recordingSleep{}
	r := newRetrier(testBackoff(sleep))
	calls := 0
	n, err := r.do(t.Context(), func(context.Context) error {
		calls++
		if calls < 3 {
			return errors.Join(io.EOF)
		}
		return nil
	}, nil)
	if err != nil || n != 3 || len(sleep.Pauses()) != 2 {
		t.Fatalf("do() = %d, %v with %d pauses; want 3, nil, 2", n, err, len(sleep.Pauses()))
	}
}

func TestQuotaNotifyHearsEveryRetriedQuotaError(t *testing.T) {
	sleep := &recordingSleep{}
	r := newRetrier(testBackoff(sleep))
	answers := []error{
		apiErr(429, "rateLimitExceeded"),
		apiErr(503, "backendError"), // retried, but not a quota error
		apiErr(403, "userRateLimitExceeded"),
		apiErr(429, "rateLimitExceeded"),
		nil,
	}
	heard := 0
	ctx := WithQuotaNotify(context.Background(), func() { heard++ })
	n, err := r.do(ctx, func(context.Context) error {
		e := answers[0]
		answers = answers[1:]
		return e
	}, nil)
	if err != nil || n != 5 {
		t.Fatalf("do = %d attempts, %v; want success on the 5th", n, err)
	}
	if heard != 3 {
		t.Errorf("notified %d times, want 3 (the three quota errors the retries absorbed)", heard)
	}

	// A call whose attempts run out on quota errors reports ErrQuota itself:
	// its last error is not announced a second time.
	heard = 0
	b := testBackoff(sleep)
	b.Attempts = 2
	_, err = newRetrier(b).do(ctx, func(context.Context) error { return apiErr(429, "rateLimitExceeded") }, nil)
	if err == nil || heard != 1 {
		t.Errorf("exhausted: err %v, notified %d times; want the error and 1 notification", err, heard)
	}
	// No notify in the context: nothing to call.
	if _, err := r.do(context.Background(), func(context.Context) error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
}
