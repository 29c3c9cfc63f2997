package gce

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// lockedBuffer is a log sink the client's goroutines may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHTTPLogShowsEachCallAndNoCredential(t *testing.T) {
	const token = "ya29.secret-token-value"
	tests := []struct {
		name      string
		level     slog.Level
		wantBody  bool
		wantLines int
	}{
		{"info: method, URL, status, duration", slog.LevelInfo, false, 1},
		{"debug: the bodies too", slog.LevelDebug, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := emulatortest.Start(t, emulator.Options{})
			var log lockedBuffer
			logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: tt.level}))
			c, err := New(t.Context(), pluginconfig.Auth{AccessToken: token, CustomEndpoints: map[string]string{"compute": env.URL}}, WithHTTPLog(logger))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.ListImages(t.Context(), "acme-images", ""); err != nil {
				t.Fatal(err)
			}
			out := log.String()
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != tt.wantLines {
				t.Fatalf("%d log lines, want %d:\n%s", len(lines), tt.wantLines, out)
			}
			for _, want := range []string{"method=GET", `url="` + env.URL + "/compute/v1/projects/acme-images/global/images?maxResults=500\"", "status=200", "duration="} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, token) {
				t.Errorf("the access token reached the log:\n%s", out)
			}
			if got := strings.Contains(out, "response_body="); got != tt.wantBody {
				t.Errorf("response body logged: %v, want %v:\n%s", got, tt.wantBody, out)
			}
			if tt.wantBody && !strings.Contains(out, "Authorization: Bearer REDACTED") {
				t.Errorf("debug log does not show the redacted Authorization header:\n%s", out)
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"access_token":"abc.def","expires_in":3599}`, `{"access_token":"REDACTED","expires_in":3599}`},
		{`{"private_key": "-----BEGIN\nKEY-----", "type":"service_account"}`, `{"private_key": "REDACTED", "type":"service_account"}`},
		{`401: header was Bearer ya29.a0AfH6`, `401: header was Bearer REDACTED`},
		{`{"name":"web-v1"}`, `{"name":"web-v1"}`},
	}
	for _, tt := range tests {
		if got := RedactBody(tt.in); got != tt.want {
			t.Errorf("RedactBody(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	u, _ := url.Parse("https://compute.googleapis.com/compute/v1/projects/p/global/images?access_token=xyz&filter=name+eq+a")
	if got := RedactURL(u); strings.Contains(got, "xyz") || !strings.Contains(got, "filter=") {
		t.Errorf("RedactURL = %q, want the token hidden and the filter kept", got)
	}
}

func TestRetryNotifySaysEachRetry(t *testing.T) {
	faults, err := emulator.ParseFaults("images.list=429:1")
	if err != nil {
		t.Fatal(err)
	}
	env := emulatortest.Start(t, emulator.Options{Faults: faults})
	var (
		mu      sync.Mutex
		retries []Retry
	)
	noSleep := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	c, err := New(t.Context(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.URL}},
		WithBackoff(Backoff{Attempts: 3, Sleep: noSleep}),
		WithRetryNotify(func(r Retry) { mu.Lock(); retries = append(retries, r); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ListImages(t.Context(), "acme-images", ""); err == nil {
		t.Fatal("ListImages succeeded against a 429 on every call")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(retries) != 2 {
		t.Fatalf("%d retries heard, want 2 (3 attempts)", len(retries))
	}
	for i, r := range retries {
		if r.Attempt != i+1 || !r.Quota || r.Method == "" {
			t.Errorf("retry %d = %+v, want attempt %d, a quota error, the method named", i, r, i+1)
		}
	}
}
