package gce

import (
	"context"
	"fmt"
	"net/url"
	"os"

	"golang.org/x/oauth2"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

// cloudPlatformScope covers Compute Engine; impersonation needs a scope named.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// ClientOptions turns the configuration into options for the Compute Engine
// clients: credentials (or none), and the endpoint. With nothing set the
// client library finds application default credentials itself, when the
// first call needs a token; nothing here fails for their absence.
//
// A plain http:// endpoint (the emulator) with no credential option set gets
// no authentication at all: application default credentials are real
// credentials and must not travel in clear text to a local server. An
// access_token set explicitly is still sent: the REST client accepts a token
// over http (checked), which is what googlecompute users do offline.
func (c *AuthConfig) ClientOptions(ctx context.Context) ([]option.ClientOption, error) {
	if errs := c.Prepare(); len(errs) > 0 {
		return nil, errs[0]
	}
	var opts []option.ClientOption
	endpoint, err := c.Endpoint()
	if err != nil {
		return nil, fmt.Errorf("custom_endpoints.compute: %w", err)
	}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	switch {
	case c.AccessToken != "":
		ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: c.AccessToken.Value(), TokenType: "Bearer"})
		opts = append(opts, option.WithTokenSource(ts))
	case c.CredentialsFile != "":
		b, err := os.ReadFile(c.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("credentials_file %q cannot be read: %w", c.CredentialsFile, unwrapPath(err))
		}
		t, err := credentialsType(b)
		if err != nil {
			return nil, fmt.Errorf("credentials_file %q %w", c.CredentialsFile, err)
		}
		// The typed variant: the type was checked against the kinds we
		// accept, which is the validation the untyped (deprecated) option
		// leaves to the caller.
		opts = append(opts, option.WithAuthCredentialsFile(option.CredentialsType(t), c.CredentialsFile))
	case c.CredentialsJSON != "":
		b := []byte(c.CredentialsJSON.Value())
		t, err := credentialsType(b)
		if err != nil {
			return nil, fmt.Errorf("credentials_json %w", err)
		}
		opts = append(opts, option.WithAuthCredentialsJSON(option.CredentialsType(t), b))
	case c.ImpersonateServiceAccount != "":
		// googlecompute impersonates with application default credentials
		// as the base identity; so do we.
		ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
			TargetPrincipal: c.ImpersonateServiceAccount,
			Scopes:          []string{cloudPlatformScope},
		})
		if err != nil {
			return nil, fmt.Errorf("impersonate_service_account %q: %w", c.ImpersonateServiceAccount, err)
		}
		opts = append(opts, option.WithTokenSource(ts))
	default:
		if isPlainHTTP(endpoint) {
			opts = append(opts, option.WithoutAuthentication())
		}
	}
	return opts, nil
}

func isPlainHTTP(endpoint string) bool {
	u, err := url.Parse(endpoint)
	return err == nil && u.Scheme == "http"
}
