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
		{name: "the other services googlecompute reads are accepted and unused",
			cfg: Auth{CustomEndpoints: map[string]string{"oslogin": "::", "oauth2": "x", "storage": "x", "secretmanager": "x"}}},
		{name: "a mistyped compute is refused, with the known keys and the nearest",
			cfg:  Auth{CustomEndpoints: map[string]string{"computer": "http://127.0.0.1:8080/compute/v1/"}},
			want: []string{`custom_endpoints: "computer" is not a service: the key this plugin uses is compute (googlecompute also reads oauth2, oslogin, secretmanager and storage); did you mean compute?`}},
		{name: "an unknown key far from any is refused without a guess",
			cfg:  Auth{CustomEndpoints: map[string]string{"dns": "x", "bigquery": "y"}},
			want: []string{`custom_endpoints: "bigquery" is not a service: the key this plugin uses is compute (googlecompute also reads oauth2, oslogin, secretmanager and storage)`, `custom_endpoints: "dns" is not a service`}},
		{name: "an endpoint not known yet (packer validate) passes",
			cfg: Auth{CustomEndpoints: map[string]string{"compute": "<unknown>"}}},
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

func TestAccountFileIsAPathOrTheJSONAsInGooglecompute(t *testing.T) {
	sa := credtest.ServiceAccountJSON(t)
	path := credtest.WriteFile(t, "sa.json", sa)
	missing := filepath.Join(t.TempDir(), "missing.json")
	tests := []struct {
		name     string
		auth     Auth
		wantFile string
		wantJSON bool
		want     []string // Prepare's errors, substrings
	}{
		{name: "a path is read as credentials_file", auth: Auth{AccountFile: Secret(path)}, wantFile: path},
		{name: "contents starting with { are credentials_json", auth: Auth{AccountFile: Secret(sa)}, wantJSON: true},
		{name: "contents after white space too", auth: Auth{AccountFile: Secret("\n  " + string(sa))}, wantJSON: true},
		{name: "an unreadable path is named",
			auth: Auth{AccountFile: Secret(missing)},
			want: []string{`account_file "` + missing + `" cannot be read: no such file or directory`}},
		{name: "contents that are not credentials never show",
			auth: Auth{AccountFile: `{"type":"nope-secret"}`},
			want: []string{`account_file has a "type" that is not a credentials type`}},
		{name: "it is one more way to authenticate",
			auth: Auth{AccountFile: Secret(path), CredentialsFile: path},
			want: []string{"credentials_file and account_file are both set: choose one way to authenticate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := tt.auth.Prepare()
			if len(errs) != len(tt.want) {
				t.Fatalf("Prepare() = %v, want %d error(s) containing %q", errs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) || strings.Contains(errs[i].Error(), "secret") {
					t.Errorf("error %d = %q, want it to contain %q (and never the contents)", i, errs[i], w)
				}
			}
			if len(tt.want) > 0 {
				return
			}
			cr, err := tt.auth.Credentials()
			if err != nil || cr.File != tt.wantFile || (len(cr.JSON) > 0) != tt.wantJSON || cr.Type != "service_account" {
				t.Errorf("Credentials() = file %q, %d bytes of JSON, type %q, %v; want file %q, JSON %v", cr.File, len(cr.JSON), cr.Type, err, tt.wantFile, tt.wantJSON)
			}
			if w := tt.auth.Warnings(); len(w) != 1 || !strings.Contains(w[0], "account_file is deprecated") {
				t.Errorf("Warnings() = %q, want the deprecation", w)
			}
		})
	}
	if w := (&Auth{CredentialsFile: path}).Warnings(); w != nil {
		t.Errorf("Warnings() without account_file = %q", w)
	}
}
