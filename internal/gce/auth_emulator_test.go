package gce

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// TestAuthenticationReachesAPlainHTTPEndpoint runs the emulator behind a
// handler that notes the Authorization header, and builds clients from
// pluginconfig.Auth alone, as a Packer component does.
func TestAuthenticationReachesAPlainHTTPEndpoint(t *testing.T) {
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)

	tests := []struct {
		name string
		cfg  pluginconfig.Auth
		want string
	}{
		{name: "access token is sent over http", want: "Bearer ya29.offline",
			cfg: pluginconfig.Auth{AccessToken: "ya29.offline", CustomEndpoints: map[string]string{"compute": hs.URL + "/compute/v1/"}}},
		{name: "no credentials: nothing is sent (no default credentials in clear text)", want: "",
			cfg: pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": hs.URL + "/compute/v1/"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json") // must not be consulted
			c, err := New(t.Context(), tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			mu.Lock()
			seen = nil
			mu.Unlock()
			if _, err := c.ListImages(t.Context(), "acme", ""); err != nil {
				t.Fatalf("ListImages through %s: %v", tt.cfg.CustomEndpoints["compute"], err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || seen[0] != tt.want {
				t.Errorf("Authorization headers = %q, want one %q", seen, tt.want)
			}
		})
	}
}
