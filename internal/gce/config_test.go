package gce

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serviceAccountJSON returns a syntactically real service account key (a
// fresh RSA key): enough for the client libraries to build a token source
// without any network.
func serviceAccountJSON(t testing.TB) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "acme-images",
		"private_key_id": "0123456789abcdef",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "builder@acme-images.iam.gserviceaccount.com",
		"client_id":      "1234567890",
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrepareReportsEachProblemByOptionName(t *testing.T) {
	good := writeFile(t, "sa.json", serviceAccountJSON(t))
	notJSON := writeFile(t, "bad.json", []byte("not json at all"))
	noType := writeFile(t, "notype.json", []byte(`{"client_email":"x@y"}`))
	oddType := writeFile(t, "odd.json", []byte(`{"type":"api_key"}`))
	missing := filepath.Join(t.TempDir(), "missing.json")

	tests := []struct {
		name string
		cfg  AuthConfig
		want []string // substrings, one error each; none means valid
	}{
		{name: "nothing set is valid (application default credentials)", cfg: AuthConfig{}},
		{name: "access token alone is valid", cfg: AuthConfig{AccessToken: "tok"}},
		{name: "readable service account file is valid", cfg: AuthConfig{CredentialsFile: good}},
		{name: "impersonation alone is valid", cfg: AuthConfig{ImpersonateServiceAccount: "sa@p.iam.gserviceaccount.com"}},
		{name: "emulator endpoint as googlecompute users write it is valid",
			cfg: AuthConfig{AccessToken: "x", CustomEndpoints: map[string]string{"compute": "http://127.0.0.1:8080/compute/v1/"}}},
		{name: "other services' endpoints are ignored",
			cfg: AuthConfig{CustomEndpoints: map[string]string{"oslogin": "::"}}},
		{name: "file and token name both",
			cfg:  AuthConfig{CredentialsFile: good, AccessToken: "tok"},
			want: []string{"credentials_file and access_token are both set: choose one way to authenticate"}},
		{name: "json and impersonation name both",
			cfg:  AuthConfig{CredentialsJSON: "{}", ImpersonateServiceAccount: "sa@p.iam.gserviceaccount.com"},
			want: []string{"credentials_json and impersonate_service_account are both set", `credentials_json has no "type" field`}},
		{name: "three methods name all three",
			cfg:  AuthConfig{CredentialsFile: good, CredentialsJSON: Secret(serviceAccountJSON(t)), AccessToken: "tok"},
			want: []string{"credentials_file, credentials_json and access_token are all set"}},
		{name: "unreadable credentials file is named",
			cfg:  AuthConfig{CredentialsFile: missing},
			want: []string{`credentials_file "` + missing + `" cannot be read: no such file or directory`}},
		{name: "credentials file that is not JSON",
			cfg:  AuthConfig{CredentialsFile: notJSON},
			want: []string{`credentials_file "` + notJSON + `" is not valid JSON`}},
		{name: "credentials file without a type",
			cfg:  AuthConfig{CredentialsFile: noType},
			want: []string{`has no "type" field`}},
		{name: "credentials file of an unknown type lists the accepted ones",
			cfg:  AuthConfig{CredentialsFile: oddType},
			want: []string{`has type "api_key"; accepted: authorized_user, external_account`}},
		{name: "impersonation needs an email",
			cfg:  AuthConfig{ImpersonateServiceAccount: "builder"},
			want: []string{`impersonate_service_account "builder" is not a service account email`}},
		{name: "endpoint without scheme",
			cfg:  AuthConfig{CustomEndpoints: map[string]string{"compute": "127.0.0.1:8080"}},
			want: []string{`custom_endpoints.compute: "127.0.0.1:8080" must start with http:// or https://`}},
		{name: "endpoint with another scheme",
			cfg:  AuthConfig{CustomEndpoints: map[string]string{"compute": "ftp://host/compute/v1/"}},
			want: []string{`custom_endpoints.compute: "ftp://host/compute/v1/" must start with http://`}},
		{name: "endpoint of the beta API",
			cfg:  AuthConfig{CustomEndpoints: map[string]string{"compute": "https://compute.googleapis.com/compute/beta/"}},
			want: []string{"names the beta API; this plugin speaks compute/v1"}},
		{name: "endpoint that does not parse",
			cfg:  AuthConfig{CustomEndpoints: map[string]string{"compute": "http://[::1"}},
			want: []string{`custom_endpoints.compute: "http://[::1" is not a URL`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.cfg.Prepare()
			if len(errs) != len(tt.want) {
				t.Fatalf("Prepare() = %v, want %d error(s) containing %q", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}

func TestNormalizeEndpointGivesTheRESTClientItsBase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080/compute/v1/", "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080/compute/v1", "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{" https://compute.googleapis.com/compute/v1/ ", "https://compute.googleapis.com"},
		{"https://proxy.example/gce/compute/v1/", "https://proxy.example/gce"},
		{"https://proxy.example/gce/", "https://proxy.example/gce"},
	}
	for _, tt := range tests {
		got, err := NormalizeEndpoint(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeEndpoint(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestEndpointFromEnvReadsTheCLIVariable(t *testing.T) {
	t.Setenv(EndpointEnv, " http://127.0.0.1:9/compute/v1/ ")
	if got := EndpointFromEnv(); got != "http://127.0.0.1:9/compute/v1/" {
		t.Fatalf("EndpointFromEnv() = %q", got)
	}
	t.Setenv(EndpointEnv, "")
	if got := EndpointFromEnv(); got != "" {
		t.Fatalf("EndpointFromEnv() with the variable empty = %q", got)
	}
}

func TestSecretsNeverShowInPrintsOrErrors(t *testing.T) {
	const token = "ya29.super-secret-token"
	const jsonSecret = `{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\nTOPSECRETKEY` // truncated: invalid JSON
	cfg := AuthConfig{
		AccessToken:     token,
		CredentialsJSON: jsonSecret,
		CustomEndpoints: map[string]string{"compute": "http://127.0.0.1:1/compute/v1/"},
	}
	// A component config embeds AuthConfig the way Packer configs do.
	outer := struct {
		ProjectID string
		AuthConfig
	}{"acme-images", cfg}

	var shown []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		shown = append(shown, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, outer))
	}
	shown = append(shown, cfg.AccessToken.String(), cfg.CredentialsJSON.GoString())
	for _, err := range cfg.Prepare() {
		shown = append(shown, err.Error())
	}
	if _, err := cfg.ClientOptions(t.Context()); err == nil {
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
		t.Errorf("embedding AuthConfig hid the outer config's fields: %+v", outer)
	}
	if !strings.Contains(fmt.Sprintf("%+v", cfg), "AccessToken:<redacted>") {
		t.Errorf("a set secret should print as <redacted>: %+v", cfg)
	}
	if cfg.AccessToken.Value() != token {
		t.Error("Value() must return the secret itself")
	}
}

func TestClientOptionsBuildsEachAuthenticationWithoutNetwork(t *testing.T) {
	sa := serviceAccountJSON(t)
	saFile := writeFile(t, "sa.json", sa)
	endpoint := map[string]string{"compute": "http://127.0.0.1:1/compute/v1/"}
	tests := []struct {
		name     string
		cfg      AuthConfig
		env      string // GOOGLE_APPLICATION_CREDENTIALS
		wantOpts int
		wantErr  string
	}{
		{name: "nothing set defers to application default credentials", wantOpts: 0},
		{name: "plain http endpoint without credentials sends none", cfg: AuthConfig{CustomEndpoints: endpoint}, wantOpts: 2},
		{name: "access token", cfg: AuthConfig{AccessToken: "tok", CustomEndpoints: endpoint}, wantOpts: 2},
		{name: "credentials file", cfg: AuthConfig{CredentialsFile: saFile}, wantOpts: 1},
		{name: "credentials json", cfg: AuthConfig{CredentialsJSON: Secret(sa)}, wantOpts: 1},
		{name: "impersonation over application default credentials",
			cfg: AuthConfig{ImpersonateServiceAccount: "target@acme.iam.gserviceaccount.com"}, env: saFile, wantOpts: 1},
		{name: "invalid config is refused",
			cfg: AuthConfig{AccessToken: "a", CredentialsFile: saFile}, wantErr: "credentials_file and access_token are both set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", tt.env)
			opts, err := tt.cfg.ClientOptions(t.Context())
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
