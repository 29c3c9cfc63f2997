package gce

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/credtest"
)

func TestSecretsNeverShowInPrintsOrErrors(t *testing.T) {
	const token = "ya29.super-secret-token"
	const jsonSecret = `{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\nTOPSECRETKEY` // truncated: invalid JSON
	cfg := pluginconfig.Auth{
		AccessToken:     token,
		CredentialsJSON: jsonSecret,
		CustomEndpoints: map[string]string{"compute": "http://127.0.0.1:1/compute/v1/"},
	}
	// A component config embeds Auth the way Packer configs do.
	outer := struct {
		ProjectID string
		pluginconfig.Auth
	}{"acme-images", cfg}

	var shown []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		shown = append(shown, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, outer))
	}
	shown = append(shown, cfg.AccessToken.String(), cfg.CredentialsJSON.GoString())
	for _, err := range cfg.Prepare() {
		shown = append(shown, err.Error())
	}
	if _, err := ClientOptions(t.Context(), cfg); err == nil {
		t.Fatal("ClientOptions with two credentials succeeded")
	} else {
		shown = append(shown, err.Error())
	}
	for _, s := range shown {
		for _, secret := range []string{token, "TOPSECRETKEY", "super-secret"} {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q shown in %q", secret, s)
			}
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", outer), "ProjectID:acme-images") {
		t.Errorf("embedding Auth hid the outer config's fields: %+v", outer)
	}
	if !strings.Contains(fmt.Sprintf("%+v", cfg), "AccessToken:<redacted>") {
		t.Errorf("a set secret should print as <redacted>: %+v", cfg)
	}
	if cfg.AccessToken.Value() != token {
		t.Error("Value() must return the secret itself")
	}
}

func TestClientOptionsBuildsEachAuthenticationWithoutNetwork(t *testing.T) {
	sa := credtest.ServiceAccountJSON(t)
	saFile := credtest.WriteFile(t, "sa.json", sa)
	endpoint := map[string]string{"compute": "http://127.0.0.1:1/compute/v1/"}
	tests := []struct {
		name     string
		cfg      pluginconfig.Auth
		env      string // GOOGLE_APPLICATION_CREDENTIALS
		wantOpts int
		wantErr  string
	}{
		{name: "nothing set defers to application default credentials", wantOpts: 0},
		{name: "plain http endpoint without credentials sends none", cfg: pluginconfig.Auth{CustomEndpoints: endpoint}, wantOpts: 2},
		{name: "access token", cfg: pluginconfig.Auth{AccessToken: "tok", CustomEndpoints: endpoint}, wantOpts: 2},
		{name: "credentials file", cfg: pluginconfig.Auth{CredentialsFile: saFile}, wantOpts: 1},
		{name: "credentials json", cfg: pluginconfig.Auth{CredentialsJSON: pluginconfig.Secret(sa)}, wantOpts: 1},
		{name: "account_file as a path", cfg: pluginconfig.Auth{AccountFile: pluginconfig.Secret(saFile)}, wantOpts: 1},
		{name: "account_file as the contents", cfg: pluginconfig.Auth{AccountFile: pluginconfig.Secret(sa)}, wantOpts: 1},
		{name: "impersonation over application default credentials",
			cfg: pluginconfig.Auth{ImpersonateServiceAccount: "target@acme.iam.gserviceaccount.com"}, env: saFile, wantOpts: 1},
		{name: "invalid config is refused",
			cfg: pluginconfig.Auth{AccessToken: "a", CredentialsFile: saFile}, wantErr: "credentials_file and access_token are both set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tt.env)
			opts, err := ClientOptions(t.Context(), tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ClientOptions() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ClientOptions() = %v", err)
			}
			if len(opts) != tt.wantOpts {
				t.Fatalf("ClientOptions() gave %d options, want %d", len(opts), tt.wantOpts)
			}
		})
	}
}

// TestNewLooksForDefaultCredentialsOnce: with no credential option, the
// clients share one lookup of application default credentials, so a
// missing one is one error, said once (each generated client used to look
// on its own, and the six failures were joined).
func TestNewLooksForDefaultCredentialsOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "adc.json")
	for _, tc := range []struct {
		name string
		dial func(context.Context, pluginconfig.Auth) (Compute, error)
		want string
	}{
		{"New, for the CLI", func(ctx context.Context, a pluginconfig.Auth) (Compute, error) { return New(ctx, a) }, "or set one of the credential options"},
		{"Dial, for the components", func(ctx context.Context, a pluginconfig.Auth) (Compute, error) { return Dial(ctx, a) }, "or set one of credentials_file, credentials_json, access_token or impersonate_service_account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", missing)
			c, err := tc.dial(t.Context(), pluginconfig.Auth{})
			if err == nil {
				_ = c.Close()
				t.Fatal("built a client without credentials")
			}
			var nc *NoCredentialsError
			if !errors.As(err, &nc) {
				t.Fatalf("error %T %v, want a *NoCredentialsError", err, err)
			}
			msg := err.Error()
			if n := strings.Count(msg, missing); n != 1 || strings.Count(msg, "credentials:") > 1 || !strings.HasSuffix(msg, tc.want) ||
				!strings.HasPrefix(msg, "no Google credentials: none is given and application default credentials were not found (") {
				t.Errorf("error names the lookup %d times, want once, and ends %q:\n%s", n, tc.want, msg)
			}
		})
	}
	t.Run("found once, the clients are built", func(t *testing.T) {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", credtest.WriteFile(t, "sa.json", credtest.ServiceAccountJSON(t)))
		c, err := New(t.Context(), pluginconfig.Auth{})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	})
}
