package gce

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
)

// EndpointEnv names the environment variable the CLI reads for the Compute
// Engine endpoint override (the same value as custom_endpoints.compute).
const EndpointEnv = "IMAGEFAMILY_COMPUTE_ENDPOINT"

// EndpointFromEnv returns the endpoint override from IMAGEFAMILY_COMPUTE_ENDPOINT,
// or "" when it is unset.
func EndpointFromEnv() string { return strings.TrimSpace(os.Getenv(EndpointEnv)) }

// Secret holds a credential. Its String and GoString never show the value, so
// a config printed with %v, %+v or %#v (by us, Packer or a panic) leaks
// nothing. Value is the only way to read it.
type Secret string

const redacted = "<redacted>"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `gce.Secret("` + s.String() + `")` }

// Value returns the secret itself, for the one place that hands it to Google's
// libraries.
func (s Secret) Value() string { return string(s) }

// AuthConfig is how a component authenticates to Compute Engine. It is meant
// to be embedded with `mapstructure:",squash"` and uses the option names of the
// official googlecompute plugin so that a template can pass the same values
// to both.
type AuthConfig struct {
	// Path to a JSON credentials file (service account key, authorized user,
	// external account or impersonated service account configuration).
	CredentialsFile string `mapstructure:"credentials_file" required:"false"`
	// The same credentials as a JSON string.
	CredentialsJSON Secret `mapstructure:"credentials_json" required:"false"`
	// A temporary OAuth 2.0 access token (`Authorization: Bearer`). It is
	// not renewed: it works until it expires.
	AccessToken Secret `mapstructure:"access_token" required:"false"`
	// Service account to impersonate, with application default credentials
	// as the base identity (as in googlecompute).
	ImpersonateServiceAccount string `mapstructure:"impersonate_service_account" required:"false"`
	// Endpoint overrides by service. Only `compute` is used, written as for
	// googlecompute: `{ compute = "http://127.0.0.1:8080/compute/v1/" }`.
	CustomEndpoints map[string]string `mapstructure:"custom_endpoints" required:"false"`
}

// credentialTypes are the credential JSON types the Go client can load.
var credentialTypes = map[string]bool{
	"service_account":                  true,
	"authorized_user":                  true,
	"external_account":                 true,
	"impersonated_service_account":     true,
	"external_account_authorized_user": true,
	"gdch_service_account":             true,
}

// Prepare validates the configuration and reports every problem. It does not
// look for application default credentials: their absence is an error only
// when a client is built (the emulator needs none).
func (c *AuthConfig) Prepare() []error {
	var errs []error
	if set := c.methods(); len(set) > 1 {
		verb := "are both set"
		if len(set) > 2 {
			verb = "are all set"
		}
		errs = append(errs, fmt.Errorf("%s %s: choose one way to authenticate", joinAnd(set), verb))
	}
	if c.CredentialsFile != "" {
		b, err := os.ReadFile(c.CredentialsFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("credentials_file %q cannot be read: %w", c.CredentialsFile, unwrapPath(err)))
		} else if _, err := credentialsType(b); err != nil {
			errs = append(errs, fmt.Errorf("credentials_file %q %w", c.CredentialsFile, err))
		}
	}
	if c.CredentialsJSON != "" {
		if _, err := credentialsType([]byte(c.CredentialsJSON)); err != nil {
			errs = append(errs, fmt.Errorf("credentials_json %w", err))
		}
	}
	if sa := c.ImpersonateServiceAccount; sa != "" && !strings.Contains(sa, "@") {
		errs = append(errs, fmt.Errorf("impersonate_service_account %q is not a service account email (want NAME@PROJECT.iam.gserviceaccount.com)", sa))
	}
	if raw, ok := c.CustomEndpoints["compute"]; ok {
		if _, err := NormalizeEndpoint(raw); err != nil {
			errs = append(errs, fmt.Errorf("custom_endpoints.compute: %w", err))
		}
	}
	return errs
}

// methods lists the authentication options that are set, in the order the
// documentation gives them.
func (c *AuthConfig) methods() []string {
	var set []string
	if c.CredentialsFile != "" {
		set = append(set, "credentials_file")
	}
	if c.CredentialsJSON != "" {
		set = append(set, "credentials_json")
	}
	if c.AccessToken != "" {
		set = append(set, "access_token")
	}
	if c.ImpersonateServiceAccount != "" {
		set = append(set, "impersonate_service_account")
	}
	return set
}

// Endpoint returns the normalised compute endpoint override, or "" for
// Google's default endpoint.
func (c *AuthConfig) Endpoint() (string, error) {
	raw := c.CustomEndpoints["compute"]
	if strings.TrimSpace(raw) == "" {
		return "", nil
	}
	return NormalizeEndpoint(raw)
}

// NormalizeEndpoint turns an endpoint as googlecompute users write it
// (http://127.0.0.1:8080/compute/v1/, the discovery client's base path) into
// what the generated REST client expects: scheme, host and an optional path
// prefix, without a trailing slash. The REST client appends
// "/compute/v1/projects/..." itself, so a kept /compute/v1/ would double it.
func NormalizeEndpoint(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		return "", fmt.Errorf("%q must start with http:// or https:// (e.g. http://127.0.0.1:8080/compute/v1/)", raw)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %v", raw, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q must start with http:// or https:// (e.g. http://127.0.0.1:8080/compute/v1/)", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q must not carry a query, fragment or user info", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	for _, v := range []string{"/compute/beta", "/compute/alpha"} {
		if strings.HasSuffix(p, v) {
			return "", fmt.Errorf("%q names the %s API; this plugin speaks compute/v1 (write .../compute/v1/ or just the host)", raw, strings.TrimPrefix(v, "/compute/"))
		}
	}
	p = strings.TrimSuffix(p, "/compute/v1")
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// typeLike is what a credentials "type" looks like (service_account,
// external_account...).
var typeLike = regexp.MustCompile(`^[a-z_]{1,40}$`)

// credentialsType checks that b is credentials JSON of a type the client can
// load and returns the type. Errors never quote b: it holds secrets.
func credentialsType(b []byte) (string, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", fmt.Errorf("is not valid JSON (syntax error at byte %d)", se.Offset)
		}
		return "", errors.New("is not a JSON object")
	}
	if head.Type == "" {
		return "", errors.New(`has no "type" field: want a service account key or another Google credentials file`)
	}
	if !credentialTypes[head.Type] {
		// The type is quoted only when it looks like one: whatever else
		// sits in that field came from the credentials.
		if !typeLike.MatchString(head.Type) {
			return "", fmt.Errorf("has a \"type\" that is not a credentials type; accepted: %s", strings.Join(sortedKeys(credentialTypes), ", "))
		}
		return "", fmt.Errorf("has type %q; accepted: %s", head.Type, strings.Join(sortedKeys(credentialTypes), ", "))
	}
	return head.Type, nil
}

// unwrapPath drops the *PathError prefix, which repeats the file name.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func joinAnd(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
