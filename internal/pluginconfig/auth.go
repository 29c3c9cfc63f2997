//go:generate go tool packer-sdc struct-markdown
//go:generate go tool packer-sdc mapstructure-to-hcl2 -type Auth

// Package pluginconfig is what every component and the CLI share about
// their configuration: the authentication block, the naming block, and the
// validation rules of the values they all take (project IDs, names, zones).
// Its errors are lifecycle.FieldError values naming each option as the
// templates do; the CLI spells them as its flags (lifecycle.Spell).
package pluginconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

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
func (s Secret) GoString() string { return `pluginconfig.Secret("` + s.String() + `")` }

// Value returns the secret itself, for the one place that hands it to Google's
// libraries.
func (s Secret) Value() string { return string(s) }

// Auth is how a component authenticates to Compute Engine. It is meant to be
// embedded with `mapstructure:",squash"` and uses the option names of the
// official googlecompute plugin so that a template can pass the same values
// to both. With none of the credential options set, application default
// credentials are used; at most one may be set.
type Auth struct {
	// Path to a JSON credentials file (service account key, authorized user,
	// external account or impersonated service account configuration).
	CredentialsFile string `mapstructure:"credentials_file" required:"false"`
	// The same credentials as a JSON string.
	CredentialsJSON Secret `mapstructure:"credentials_json" required:"false"`
	// A path to a credentials file, or, when it starts with `{`, the
	// credentials JSON itself: googlecompute's older option, accepted as it
	// accepts it and deprecated as there (use `credentials_file` or
	// `credentials_json`).
	AccountFile Secret `mapstructure:"account_file" required:"false"`
	// A temporary OAuth 2.0 access token (`Authorization: Bearer`). It is
	// not renewed: it works until it expires.
	AccessToken Secret `mapstructure:"access_token" required:"false"`
	// Service account to impersonate, with application default credentials
	// as the base identity (as in googlecompute).
	ImpersonateServiceAccount string `mapstructure:"impersonate_service_account" required:"false"`
	// Endpoint overrides by service. Only `compute` is used, written as for
	// googlecompute: `{ compute = "http://127.0.0.1:8080/compute/v1/" }`. A
	// plain `http://` endpoint (the emulator of `imagefamily emulator`) gets
	// no credentials unless one of the credential options is set. The other
	// keys googlecompute reads (`oauth2`, `oslogin`, `secretmanager`,
	// `storage`) are accepted and unused, so that one map serves both
	// plugins; any other key is refused.
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

// The authentication options as templates name them; the CLI spells them
// as flags.
const (
	FieldCredentialsFile           = "credentials_file"
	FieldCredentialsJSON           = "credentials_json"
	FieldAccountFile               = "account_file"
	FieldAccessToken               = "access_token"
	FieldImpersonateServiceAccount = "impersonate_service_account"
	FieldCustomEndpoints           = "custom_endpoints"
	FieldComputeEndpoint           = "custom_endpoints.compute"
)

// Prepare validates the configuration and reports every problem, each a
// *lifecycle.FieldError or *lifecycle.ConflictError. It does not look for
// application default credentials: their absence is an error only when a
// client is built (the emulator needs none).
func (a *Auth) Prepare() []error {
	var errs []error
	if set := a.methods(); len(set) > 1 {
		errs = append(errs, &lifecycle.ConflictError{Fields: set, Rule: "choose one way to authenticate"})
	}
	if a.CredentialsFile != "" {
		if _, _, err := a.ReadCredentialsFile(); err != nil {
			errs = append(errs, err)
		}
	}
	if a.CredentialsJSON != "" {
		if _, err := a.CredentialsJSONType(); err != nil {
			errs = append(errs, err)
		}
	}
	if a.AccountFile != "" {
		if _, err := a.accountFile(); err != nil {
			errs = append(errs, err)
		}
	}
	if sa := a.ImpersonateServiceAccount; sa != "" && !strings.Contains(sa, "@") {
		errs = append(errs, &lifecycle.FieldError{Field: FieldImpersonateServiceAccount, Value: strconv.Quote(sa),
			Rule: "is not a service account email (want NAME@PROJECT.iam.gserviceaccount.com)"})
	}
	for _, k := range sortedKeys(a.CustomEndpoints) {
		if !endpointServices[k] {
			errs = append(errs, unknownService(k))
		}
	}
	if raw, ok := a.CustomEndpoints["compute"]; ok && !Unknown(raw) {
		if _, err := NormalizeEndpoint(raw); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// endpointServices are the custom_endpoints keys accepted: compute, the one
// this plugin calls, and the others the googlecompute plugin (v1.2.7) reads
// (its builder: compute, oauth2, oslogin, storage; its secrets manager data
// source: secretmanager), so that one map can be handed to both plugins.
// Any other key is a mistake that would otherwise be ignored silently, and
// a mistyped compute would send the calls to Google instead of the endpoint.
var endpointServices = map[string]bool{"compute": true, "oauth2": true, "oslogin": true, "secretmanager": true, "storage": true}

func unknownService(key string) error {
	rule := fmt.Sprintf("%s is not a service: the key this plugin uses is compute (googlecompute also reads oauth2, oslogin, secretmanager and storage)", strconv.Quote(key))
	if near := closest(key, sortedKeys(endpointServices)); near != "" {
		rule += fmt.Sprintf("; did you mean %s?", near)
	}
	return &lifecycle.FieldError{Field: FieldCustomEndpoints, Layout: lifecycle.Labelled, Rule: rule}
}

// closest is the candidate within two edits of s, "" when none is; the
// first of equally close ones.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, by bytes (keys
// are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// methods lists the authentication options that are set, in the order the
// documentation gives them.
func (a *Auth) methods() []string {
	var set []string
	if a.CredentialsFile != "" {
		set = append(set, FieldCredentialsFile)
	}
	if a.CredentialsJSON != "" {
		set = append(set, FieldCredentialsJSON)
	}
	if a.AccountFile != "" {
		set = append(set, FieldAccountFile)
	}
	if a.AccessToken != "" {
		set = append(set, FieldAccessToken)
	}
	if a.ImpersonateServiceAccount != "" {
		set = append(set, FieldImpersonateServiceAccount)
	}
	return set
}

// Warnings are what the configuration should change although it works: the
// deprecated account_file.
func (a *Auth) Warnings() []string {
	if a.AccountFile == "" {
		return nil
	}
	return []string{"account_file is deprecated (as in googlecompute): set credentials_file to the path, or credentials_json to the contents"}
}

// PrepareLogged is Prepare for a component whose Configure cannot return
// warnings (a data source, a post-processor): each error goes to add, each
// warning to the log, which Packer shows with PACKER_LOG=1.
func (a *Auth) PrepareLogged(add func(error)) {
	for _, err := range a.Prepare() {
		add(err)
	}
	for _, w := range a.Warnings() {
		log.Printf("[WARN] imagefamily: %s", w)
	}
}

// ReadCredentialsFile reads credentials_file and checks that it holds
// credentials the client can load; it returns them and their type.
func (a *Auth) ReadCredentialsFile() ([]byte, string, error) {
	return readCredentials(FieldCredentialsFile, a.CredentialsFile)
}

// readCredentials reads the credentials file at path, which option names.
func readCredentials(option, path string) ([]byte, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", &lifecycle.FieldError{Field: option, Value: strconv.Quote(path),
			Rule: "cannot be read: " + unwrapPath(err).Error()}
	}
	t, rule := credentialsType(b)
	if rule != "" {
		return nil, "", &lifecycle.FieldError{Field: option, Value: strconv.Quote(path), Rule: rule}
	}
	return b, t, nil
}

// CredentialsJSONType checks that credentials_json holds credentials the
// client can load and returns their type. The error never shows the value.
func (a *Auth) CredentialsJSONType() (string, error) {
	t, rule := credentialsType([]byte(a.CredentialsJSON.Value()))
	if rule != "" {
		return "", &lifecycle.FieldError{Field: FieldCredentialsJSON, Rule: rule}
	}
	return t, nil
}

// Endpoint returns the normalised compute endpoint override, or "" for
// Google's default endpoint.
func (a *Auth) Endpoint() (string, error) {
	raw := a.CustomEndpoints["compute"]
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
// Its error is a *lifecycle.FieldError for custom_endpoints.compute.
func NormalizeEndpoint(raw string) (string, error) {
	bad := func(rule string) error {
		return &lifecycle.FieldError{Field: FieldComputeEndpoint, Value: strconv.Quote(raw), Layout: lifecycle.Labelled, Rule: rule}
	}
	const wantScheme = "must start with http:// or https:// (e.g. http://127.0.0.1:8080/compute/v1/)"
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		return "", bad(wantScheme)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", bad(fmt.Sprintf("is not a URL: %v", errors.Unwrap(err)))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", bad(wantScheme)
	}
	if u.Host == "" {
		return "", bad("has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", bad("must not carry a query, fragment or user info")
	}
	p := strings.TrimRight(u.Path, "/")
	for _, v := range []string{"/compute/beta", "/compute/alpha"} {
		if strings.HasSuffix(p, v) {
			return "", bad(fmt.Sprintf("names the %s API; this plugin speaks compute/v1 (write .../compute/v1/ or just the host)", strings.TrimPrefix(v, "/compute/")))
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
// load and returns the type, or the rule b breaks. The rule never quotes b:
// it holds secrets.
func credentialsType(b []byte) (typ, rule string) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return "", fmt.Sprintf("is not valid JSON (syntax error at byte %d)", se.Offset)
		}
		return "", "is not a JSON object"
	}
	if head.Type == "" {
		return "", `has no "type" field: want a service account key or another Google credentials file`
	}
	if !credentialTypes[head.Type] {
		// The type is quoted only when it looks like one: whatever else
		// sits in that field came from the credentials.
		if !typeLike.MatchString(head.Type) {
			return "", fmt.Sprintf("has a \"type\" that is not a credentials type; accepted: %s", strings.Join(sortedKeys(credentialTypes), ", "))
		}
		return "", fmt.Sprintf("has type %q; accepted: %s", head.Type, strings.Join(sortedKeys(credentialTypes), ", "))
	}
	return head.Type, ""
}

// unwrapPath drops the *PathError prefix, which repeats the file name.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
