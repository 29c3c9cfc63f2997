package pluginconfig

import (
	"strings"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Credentials are the credentials a credentials option gives, read and
// checked: credentials_file, credentials_json, or account_file as either.
// With none of them set, Credentials is the zero value (File and JSON both
// empty).
type Credentials struct {
	// File is the path of a credentials file; JSON the credentials
	// themselves. One of them is set.
	File string
	JSON []byte
	// Type is the credentials' "type" (service_account, ...).
	Type string
}

// Credentials reads and checks the credentials option that is set. Its
// errors name the option (never the JSON: it holds secrets).
func (a *Auth) Credentials() (Credentials, error) {
	switch {
	case a.CredentialsFile != "":
		_, t, err := a.ReadCredentialsFile()
		return Credentials{File: a.CredentialsFile, Type: t}, err
	case a.CredentialsJSON != "":
		t, err := a.CredentialsJSONType()
		return Credentials{JSON: []byte(a.CredentialsJSON.Value()), Type: t}, err
	case a.AccountFile != "":
		return a.accountFile()
	}
	return Credentials{}, nil
}

// accountFile reads account_file as googlecompute does: contents when it
// starts with "{", else a path.
func (a *Auth) accountFile() (Credentials, error) {
	v := a.AccountFile.Value()
	if strings.HasPrefix(strings.TrimSpace(v), "{") {
		t, rule := credentialsType([]byte(v))
		if rule != "" {
			return Credentials{}, &lifecycle.FieldError{Field: FieldAccountFile, Rule: rule}
		}
		return Credentials{JSON: []byte(v), Type: t}, nil
	}
	_, t, err := readCredentials(FieldAccountFile, v)
	return Credentials{File: v, Type: t}, err
}
