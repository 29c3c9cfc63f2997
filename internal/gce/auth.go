package gce

import (
	"context"
	"net/url"
	"strconv"

	"golang.org/x/oauth2"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// cloudPlatformScope covers Compute Engine; impersonation needs a scope named.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// ClientOptions turns the configuration into options for the Compute Engine
// clients: credentials (or none), and the endpoint. With nothing set the
// client library finds application default credentials itself, when the
// first call needs a token; nothing here fails for their absence. Errors
// name the option (*lifecycle.FieldError), as Auth.Prepare's do.
//
// A plain http:// endpoint (the emulator) with no credential option set gets
// no authentication at all: application default credentials are real
// credentials and must not travel in clear text to a local server. An
// access_token set explicitly is still sent: the REST client accepts a token
// over http (checked), which is what googlecompute users do offline.
func ClientOptions(ctx context.Context, a pluginconfig.Auth) ([]option.ClientOption, error) {
	if errs := a.Prepare(); len(errs) > 0 {
		return nil, errs[0]
	}
	var opts []option.ClientOption
	endpoint, err := a.Endpoint()
	if err != nil {
		return nil, err
	}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	switch {
	case a.AccessToken != "":
		ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: a.AccessToken.Value(), TokenType: "Bearer"})
		opts = append(opts, option.WithTokenSource(ts))
	case a.CredentialsFile != "" || a.CredentialsJSON != "" || a.AccountFile != "":
		cr, err := a.Credentials()
		if err != nil {
			return nil, err
		}
		// The typed variants: the type was checked against the kinds we
		// accept, which is the validation the untyped (deprecated) options
		// leave to the caller.
		if cr.File != "" {
			opts = append(opts, option.WithAuthCredentialsFile(option.CredentialsType(cr.Type), cr.File))
		} else {
			opts = append(opts, option.WithAuthCredentialsJSON(option.CredentialsType(cr.Type), cr.JSON))
		}
	case a.ImpersonateServiceAccount != "":
		// googlecompute impersonates with application default credentials
		// as the base identity; so do we.
		ts, err := impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
			TargetPrincipal: a.ImpersonateServiceAccount,
			Scopes:          []string{cloudPlatformScope},
		})
		if err != nil {
			return nil, &lifecycle.FieldError{Field: pluginconfig.FieldImpersonateServiceAccount,
				Value: strconv.Quote(a.ImpersonateServiceAccount), Layout: lifecycle.Headed, Rule: err.Error()}
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
