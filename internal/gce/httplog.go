package gce

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	htransport "google.golang.org/api/transport/http"

	"google.golang.org/api/option"
	"google.golang.org/api/option/internaloption"
)

// WithHTTPLog logs every request the client sends to Compute Engine and its
// answer on logger: at info the method, URL, status and duration; at debug
// the request and response bodies as well. Credentials never reach the log:
// the Authorization header, token query parameters and token fields of JSON
// bodies are redacted (see LoggingTransport). A nil logger logs nothing.
//
// The logging transport sits under the authentication, so a retried call
// shows as one line per attempt, exactly as sent.
func WithHTTPLog(logger *slog.Logger) Option { return func(s *settings) { s.httpLog = logger } }

// LoggingTransport wraps base (http.DefaultTransport when nil) so that each
// request and answer is logged on logger as WithHTTPLog describes: for
// clients built without New, e.g. by a Packer component.
func LoggingTransport(base http.RoundTripper, logger *slog.Logger) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &loggingTransport{base: base, log: logger}
}

// loggedClientOptions replaces the options' transport with an authenticated
// one that logs: option.WithHTTPClient takes the authentication out of the
// generated clients' hands, so the transport is built here with the same
// options and the defaults the Compute Engine REST clients use themselves.
func loggedClientOptions(ctx context.Context, copts []option.ClientOption, endpoint string, logger *slog.Logger) ([]option.ClientOption, error) {
	defaults := []option.ClientOption{
		internaloption.WithDefaultEndpointTemplate("https://compute.UNIVERSE_DOMAIN"),
		internaloption.WithDefaultMTLSEndpoint("https://compute.mtls.googleapis.com"),
		internaloption.WithDefaultUniverseDomain("googleapis.com"),
		internaloption.WithDefaultAudience("https://compute.googleapis.com/"),
		internaloption.WithDefaultScopes(compute.DefaultAuthScopes()...),
		internaloption.EnableNewAuthLibrary(),
	}
	base := LoggingTransport(http.DefaultTransport.(*http.Transport).Clone(), logger)
	rt, err := htransport.NewTransport(ctx, base, append(defaults, copts...)...)
	if err != nil {
		return nil, fmt.Errorf("building the logged HTTP transport: %w", err)
	}
	out := []option.ClientOption{option.WithHTTPClient(&http.Client{Transport: rt})}
	// The generated clients still read the endpoint once given an HTTP
	// client; it is the one option they do.
	if endpoint != "" {
		out = append(out, option.WithEndpoint(endpoint))
	}
	return out, nil
}

type loggingTransport struct {
	base http.RoundTripper
	log  *slog.Logger
}

// maxLoggedBody bounds each body written at debug: a page of 500 images is
// some 1 MB of JSON, which would drown everything else.
const maxLoggedBody = 8 << 10

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.log == nil {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	debug := t.log.Enabled(ctx, slog.LevelDebug)
	var reqBody string
	if debug && req.Body != nil && req.GetBody != nil {
		if b, err := req.GetBody(); err == nil {
			reqBody = readLimited(b)
		}
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	elapsed := time.Since(start).Round(time.Millisecond)
	attrs := []slog.Attr{slog.String("method", req.Method), slog.String("url", RedactURL(req.URL))}
	if err != nil {
		attrs = append(attrs, slog.Duration("duration", elapsed), slog.String("error", RedactBody(err.Error())))
		t.log.LogAttrs(ctx, slog.LevelInfo, "http", attrs...)
		return resp, err
	}
	attrs = append(attrs, slog.Int("status", resp.StatusCode), slog.Duration("duration", elapsed))
	if debug {
		attrs = append(attrs, slog.String("request_headers", redactHeaders(req.Header)))
		if reqBody != "" {
			attrs = append(attrs, slog.String("request_body", RedactBody(reqBody)))
		}
	}
	if debug && resp.Body != nil {
		body, rerr := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if rerr == nil {
			attrs = append(attrs, slog.String("response_body", RedactBody(truncate(string(body)))))
		}
	}
	t.log.LogAttrs(ctx, slog.LevelInfo, "http", attrs...)
	return resp, nil
}

func readLimited(r io.ReadCloser) string {
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, maxLoggedBody+1))
	return truncate(string(b))
}

func truncate(s string) string {
	if len(s) > maxLoggedBody {
		return s[:maxLoggedBody] + fmt.Sprintf("... (%d bytes in all)", len(s))
	}
	return s
}

const redacted = "REDACTED"

// secretParams are query parameters that carry credentials.
var secretParams = []string{"access_token", "key", "token", "id_token", "refresh_token", "client_secret"}

// RedactURL is u as text with every credential-carrying query parameter's
// value replaced.
func RedactURL(u *url.URL) string {
	c := *u
	c.User = nil
	q := c.Query()
	changed := false
	for k := range q {
		for _, s := range secretParams {
			if strings.EqualFold(k, s) {
				q.Set(k, redacted)
				changed = true
			}
		}
	}
	if changed {
		c.RawQuery = q.Encode()
	}
	return c.String()
}

// secretHeaders are headers whose values are credentials.
var secretHeaders = []string{"Authorization", "Proxy-Authorization", "X-Goog-Api-Key", "Cookie"}

func redactHeaders(h http.Header) string {
	var parts []string
	for k, vs := range h {
		v := strings.Join(vs, ",")
		for _, s := range secretHeaders {
			if strings.EqualFold(k, s) {
				v = redactAuthorization(v)
			}
		}
		parts = append(parts, k+": "+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// redactAuthorization keeps the scheme ("Bearer") and hides the rest: the
// scheme says which kind of credential was sent, which is what debugging
// needs.
func redactAuthorization(v string) string {
	if scheme, _, ok := strings.Cut(v, " "); ok {
		return scheme + " " + redacted
	}
	return redacted
}

var secretJSONField = regexp.MustCompile(`("(?:access_token|refresh_token|id_token|private_key|private_key_id|client_secret|token)"\s*:\s*)"(?:[^"\\]|\\.)*"`)

// bearerToken catches a token written out anywhere else in a text (an error
// message quoting a header).
var bearerToken = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+`)

// RedactBody is s with the values of JSON token fields and bearer tokens
// replaced.
func RedactBody(s string) string {
	s = secretJSONField.ReplaceAllString(s, `$1"`+redacted+`"`)
	return bearerToken.ReplaceAllString(s, "${1}"+redacted)
}
