package gce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/api/googleapi"
)

// Backoff is the one retry policy for every Compute Engine call: exponential
// backoff with full jitter (the pause before retry n is uniform in
// [0, min(Cap, Base·2^(n-1)))), a bounded number of attempts, and the
// context's end stopping it at once.
//
// The generated client's own retries (reads only, 503/504 only, no attempt
// cap) are switched off on every call (gax.WithRetry(nil)) so that this
// policy alone decides: one bound, the same for reads and writes, and 429 and
// connection resets covered too.
type Backoff struct {
	// Base is the first retry's ceiling; 200 ms when zero.
	Base time.Duration
	// Cap bounds every pause; 10 s when zero.
	Cap time.Duration
	// Attempts bounds the calls sent, the first included; 6 when zero.
	Attempts int
	// Rand returns a number in [0, 1); math/rand/v2 when nil. Tests pass a
	// seeded source. Calls to it are serialised by the client.
	Rand func() float64
	// Sleep pauses for d or until ctx ends, returning ctx's error then.
	// Tests pass one that records d and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultBackoff is the policy New uses unless WithBackoff says otherwise.
func DefaultBackoff() Backoff {
	return Backoff{Base: 200 * time.Millisecond, Cap: 10 * time.Second, Attempts: 6}
}

func (b Backoff) withDefaults() Backoff {
	d := DefaultBackoff()
	if b.Base <= 0 {
		b.Base = d.Base
	}
	if b.Cap <= 0 {
		b.Cap = d.Cap
	}
	if b.Attempts <= 0 {
		b.Attempts = d.Attempts
	}
	if b.Rand == nil {
		b.Rand = rand.Float64
	}
	if b.Sleep == nil {
		b.Sleep = Sleep
	}
	return b
}

// Sleep waits d, or until ctx is done (its error then): the wait between
// retries, and the one for anything else that backs off under a context.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retrier applies a Backoff; one per client, shared by concurrent calls.
type retrier struct {
	b  Backoff
	mu sync.Mutex // guards b.Rand, which need not be safe for concurrent use
}

func newRetrier(b Backoff) *retrier { return &retrier{b: b.withDefaults()} }

// delay is the pause before retry n (n ≥ 1).
func (r *retrier) delay(n int) time.Duration {
	ceiling := r.b.Cap
	if shift := n - 1; shift < 32 {
		if c := r.b.Base << shift; c > 0 && c < ceiling {
			ceiling = c
		}
	}
	r.mu.Lock()
	f := r.b.Rand()
	r.mu.Unlock()
	return time.Duration(f * float64(ceiling))
}

// do calls fn until it succeeds, fails in a way retrying cannot help, the
// attempts run out, or ctx ends. It returns the attempts made and the last
// error. A mutation's fn must send the same requestId every time: Compute
// Engine then applies it at most once however many copies arrive.
// onRetry, when not nil, hears of each retry before its pause.
func (r *retrier) do(ctx context.Context, fn func(ctx context.Context) error, onRetry func(attempt int, err error, wait time.Duration)) (int, error) {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !Retryable(err) || attempt >= r.b.Attempts {
			return attempt, err
		}
		if ctx.Err() != nil {
			return attempt, stopped(err, ctx.Err())
		}
		if isQuota(err) {
			NotifyQuota(ctx)
		}
		wait := r.delay(attempt)
		if onRetry != nil {
			onRetry(attempt, err, wait)
		}
		if serr := r.b.Sleep(ctx, wait); serr != nil {
			return attempt, stopped(err, serr)
		}
	}
}

// Retry is one call about to be sent again (WithRetryNotify): the call, the
// attempt that failed (1 for the first), its error, whether that was a quota
// or rate limit, and the pause before the next attempt.
type Retry struct {
	Method   string
	Resource string
	Attempt  int
	Err      error
	Quota    bool
	Wait     time.Duration
}

// WithRetryNotify makes the client call notify before each retry of any
// call, so that a front end can say what is happening while calls are being
// throttled (notify may be called concurrently). Without it, retries are
// silent until a call gives up.
func WithRetryNotify(notify func(Retry)) Option { return func(s *settings) { s.onRetry = notify } }

type quotaNotifyKey struct{}

// WithQuotaNotify returns ctx carrying notify, which calls made with the
// returned context invoke each time Compute Engine answers an attempt with a
// quota or rate-limit error (429, or 403 with a rate or quota reason) that
// they are about to retry. Those retries usually absorb the error, so a
// caller that paces its own requests (rotation.Apply's AIMD) would otherwise
// never learn it is being throttled; a call that ends in ErrQuota reports
// that itself. notify may be called concurrently.
func WithQuotaNotify(ctx context.Context, notify func()) context.Context {
	return context.WithValue(ctx, quotaNotifyKey{}, notify)
}

// NotifyQuota calls the notify function WithQuotaNotify put in ctx, if any:
// what the client does for each quota error it retries. Fakes of Compute
// call it to act the same.
func NotifyQuota(ctx context.Context) {
	if notify, ok := ctx.Value(quotaNotifyKey{}).(func()); ok {
		notify()
	}
}

// isQuota reports whether an attempt's error is a quota or rate limit.
func isQuota(err error) bool {
	if errors.Is(err, ErrQuota) {
		return true
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return false
	}
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
	}
	return kindOf(ge.Code, reason) == ErrQuota
}

// stopped keeps both the last failure (what the user needs to read) and the
// context's end (what errors.Is(err, context.Canceled) looks for).
func stopped(last, why error) error { return fmt.Errorf("%w (stopped retrying: %w)", last, why) }

// Retryable reports whether err is worth another attempt: 429, 500, 502,
// 503, 504, a 403 rate limit, or a connection that broke (reset, EOF, broken
// pipe). A failed operation is not: it has run, and its error is its answer.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var r refused
	if errors.As(err, &r) {
		return false // the caller's precheck stopped it: nothing was sent
	}
	var mapped *Error
	if errors.As(err, &mapped) && mapped.Operation != "" {
		return false
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch ge.Code {
		case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		case http.StatusForbidden:
			for _, e := range ge.Errors {
				if e.Reason == "rateLimitExceeded" || e.Reason == "userRateLimitExceeded" {
					return true
				}
			}
		}
		return false
	}
	// A connection the server reset or closed under the request (net.ErrClosed:
	// the client wrote to a connection that was closed meanwhile).
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	// Some transports lose the error's type on the way up; their text stays.
	s := err.Error()
	return strings.Contains(s, "connection reset by peer") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "server closed the connection") || strings.Contains(s, "unexpected EOF") ||
		strings.Contains(s, "use of closed network connection")
}
