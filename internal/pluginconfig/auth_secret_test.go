package pluginconfig

import (
	"strings"
	"testing"
)

// TestCredentialsErrorsDoNotQuoteAnUnexpectedType: credentials JSON whose
// "type" holds something else than a type name (a pasted key, a token) is
// refused without repeating it; a plausible but unknown type is still named
// (found by reliability.TestSecretsNeverShow).
func TestCredentialsErrorsDoNotQuoteAnUnexpectedType(t *testing.T) {
	for _, tc := range []struct {
		json, want, never string
	}{
		{`{"type":"ya29.SECRET-TOKEN-1234"}`, `has a "type" that is not a credentials type; accepted: `, "SECRET"},
		{`{"type":"-----BEGIN PRIVATE KEY-----\nMIIEv"}`, `has a "type" that is not a credentials type`, "PRIVATE"},
		{`{"type":"user_account"}`, `has type "user_account"; accepted: `, ""},
	} {
		cfg := Auth{CredentialsJSON: Secret(tc.json)}
		errs := cfg.Prepare()
		if len(errs) != 1 {
			t.Fatalf("%s: %v", tc.json, errs)
		}
		msg := errs[0].Error()
		if !strings.Contains(msg, tc.want) || (tc.never != "" && strings.Contains(msg, tc.never)) {
			t.Errorf("credentials_json %s: %q, want %q and never %q", tc.json, msg, tc.want, tc.never)
		}
	}
}
