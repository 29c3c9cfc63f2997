package gce

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
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
// options carry no credentials, and each client built with them would look
// for application default credentials itself: New looks for them once
// instead (DefaultCredentials), so nothing here fails for their absence.
// Errors name the option (*lifecycle.FieldError), as Auth.Prepare's do.
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

// NoCredentialsError is what building a client with none of the credential
// options set says when application default credentials cannot be found.
type NoCredentialsError struct {
	// Err is the client library's reason.
	Err error
	// Options names the credential options in the words of the front end
	// (credentials_file, ... in a template); "" for none.
	Options string
}

func (e *NoCredentialsError) Error() string {
	set := "set one of the credential options"
	if e.Options != "" {
		set = "set one of " + e.Options
	}
	return fmt.Sprintf("no Google credentials: none is given and application default credentials were not found (%v): run `gcloud auth application-default login`, point GOOGLE_APPLICATION_CREDENTIALS at a credentials file, or %s", e.Err, set)
}

func (e *NoCredentialsError) Unwrap() error { return e.Err }

// usesDefaultCredentials reports whether a client built from a sends
// application default credentials: none of the credential options is set,
// and the endpoint is not plain http (which gets none, see ClientOptions).
func usesDefaultCredentials(a pluginconfig.Auth) bool {
	if a.AccessToken != "" || a.CredentialsFile != "" || a.CredentialsJSON != "" || a.AccountFile != "" || a.ImpersonateServiceAccount != "" {
		return false
	}
	endpoint, err := a.Endpoint()
	return err == nil && !isPlainHTTP(endpoint)
}

// DefaultCredentials finds application default credentials once, for every
// client New builds. Left to themselves, each of the six generated clients
// looks for them on its own (reading the same file, or asking the metadata
// server for a token of its own), and without any each fails with the same
// message: joined, that message was printed six times.
func DefaultCredentials() (*auth.Credentials, error) {
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{cloudPlatformScope}})
	if err != nil {
		return nil, &NoCredentialsError{Err: err}
	}
	return creds, nil
}

func isPlainHTTP(endpoint string) bool {
	u, err := url.Parse(endpoint)
	return err == nil && u.Scheme == "http"
}
