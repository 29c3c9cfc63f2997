package pluginconfig

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/credtest"
)

func TestPrepareReportsEachProblemByOptionName(t *testing.T) {
	good := credtest.WriteFile(t, "sa.json", credtest.ServiceAccountJSON(t))
	notJSON := credtest.WriteFile(t, "bad.json", []byte("not json at all"))
	noType := credtest.WriteFile(t, "notype.json", []byte(`{"client_email":"x@y"}`))
	oddType := credtest.WriteFile(t, "odd.json", []byte(`{"type":"api_key"}`))
	missing := filepath.Join(t.TempDir(), "missing.json")

	tests := []struct {
		name string
		cfg  Auth
		want []string // substrings, one error each; none means valid
	}{
		{name: "nothing set is valid (application default credentials)", cfg: Auth{}},
		{name: "access token alone is valid", cfg: Auth{AccessToken: "tok"}},
		{name: "readable service account file is valid", cfg: Auth{CredentialsFile: good}},
		{name: "impersonation alone is valid", cfg: Auth{ImpersonateServiceAccount: "sa@p.iam.gserviceaccount.com"}},
		{name: "emulator endpoint as googlecompute users write it is valid",
			cfg: Auth{AccessToken: "x", CustomEndpoints: map[string]string{"compute": "http://127.0.0.1:8080/compute/v1/"}}},
		{name: "other services' endpoints are ignored",
			cfg: Auth{CustomEndpoints: map[string]string{"oslogin": "::"}}},
		{name: "file and token name both",
			cfg:  Auth{CredentialsFile: good, AccessToken: "tok"},
			want: []string{"credentials_file and access_token are both set: choose one way to authenticate"}},
		{name: "json and impersonation name both",
			cfg:  Auth{CredentialsJSON: "{}", ImpersonateServiceAccount: "sa@p.iam.gserviceaccount.com"},
			want: []string{"credentials_json and impersonate_service_account are both set", `credentials_json has no "type" field`}},
		{name: "three methods name all three",
			cfg:  Auth{CredentialsFile: good, CredentialsJSON: Secret(credtest.ServiceAccountJSON(t)), AccessToken: "tok"},
			want: []string{"credentials_file, credentials_json and access_token are all set"}},
		{name: "unreadable credentials file is named",
			cfg:  Auth{CredentialsFile: missing},
			want: []string{`credentials_file "` + missing + `" cannot be read: no such file or directory`}},
		{name: "credentials file that is not JSON",
			cfg:  Auth{CredentialsFile: notJSON},
			want: []string{`credentials_file "` + notJSON + `" is not valid JSON`}},
		{name: "credentials file without a type",
			cfg:  Auth{CredentialsFile: noType},
			want: []string{`has no "type" field`}},
		{name: "credentials file of an unknown type lists the accepted ones",
			cfg:  Auth{CredentialsFile: oddType},
			want: []string{`has type "api_key"; accepted: authorized_user, external_account`}},
		{name: "impersonation needs an email",
			cfg:  Auth{ImpersonateServiceAccount: "builder"},
			want: []string{`impersonate_service_account "builder" is not a service account email`}},
		{name: "endpoint without scheme",
			cfg:  Auth{CustomEndpoints: map[string]string{"compute": "127.0.0.1:8080"}},
			want: []string{`custom_endpoints.compute: "127.0.0.1:8080" must start with http:// or https://`}},
		{name: "endpoint with another scheme",
			cfg:  Auth{CustomEndpoints: map[string]string{"compute": "ftp://host/compute/v1/"}},
			want: []string{`custom_endpoints.compute: "ftp://host/compute/v1/" must start with http://`}},
		{name: "endpoint of the beta API",
			cfg:  Auth{CustomEndpoints: map[string]string{"compute": "https://compute.googleapis.com/compute/beta/"}},
			want: []string{"names the beta API; this plugin speaks compute/v1"}},
		{name: "endpoint that does not parse",
			cfg:  Auth{CustomEndpoints: map[string]string{"compute": "http://[::1"}},
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
