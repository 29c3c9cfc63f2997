// Package emulatortest starts the Compute Engine emulator for a test: one
// emulator per test, on a free loopback port, stopped when the test ends.
//
//	env := emulatortest.Start(t, emulator.Options{})
//	images := env.Images(t)
package emulatortest

import (
	"context"
	"net/http/httptest"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"google.golang.org/api/option"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// Env is a running emulator.
type Env struct {
	// Server is the emulator itself: fixtures go through it (PutImage,
	// LoadState) and assertions can read it (SnapshotState).
	Server *emulator.Server
	// URL is the endpoint, http://127.0.0.1:PORT, without a trailing slash.
	URL string
}

// Start runs an emulator with opts until the test ends. It fails the test
// when the emulator cannot be built (for example, an unreadable state file).
func Start(t testing.TB, opts emulator.Options) *Env {
	t.Helper()
	srv, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulatortest: starting the emulator: %v", err)
	}
	// Cleanups run last first: the server stops serving, then the emulator
	// writes its state file (when it has one) for the last time.
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("emulatortest: closing the emulator: %v", err)
		}
	})
	return Serve(t, srv)
}

// Serve serves an emulator the test built itself until the test ends,
// without closing it: a test of what a killed emulator leaves behind.
func Serve(t testing.TB, srv *emulator.Server) *Env {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &Env{Server: srv, URL: hs.URL}
}

// ClientOptions point a cloud.google.com/go client at the emulator, without
// credentials.
func (e *Env) ClientOptions() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(e.URL), option.WithoutAuthentication()}
}

// ComputeEndpoint is the URL gcloud's CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE
// and the googlecompute builder's custom_endpoints.compute expect (with the
// trailing slash both require).
func (e *Env) ComputeEndpoint() string { return e.URL + "/compute/v1/" }

// Images returns a REST images client for the emulator, closed when the test
// ends.
func (e *Env) Images(t testing.TB) *compute.ImagesClient {
	t.Helper()
	c, err := compute.NewImagesRESTClient(context.Background(), e.ClientOptions()...)
	if err != nil {
		t.Fatalf("emulatortest: images client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
