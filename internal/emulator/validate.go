package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// namePattern is Compute Engine's RFC 1035 rule for resource names and image
// families, written as the API quotes it in its error messages.
const namePattern = "[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"

var (
	nameRE     = regexp.MustCompile("^" + namePattern + "$")
	labelKeyRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValRE = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
)

// maxLabels is Compute Engine's per-resource label limit.
const maxLabels = 64

func validName(s string) bool { return nameRE.MatchString(s) }

// checkName validates a resource name or family sent in field (for example
// "resource.name"), with the wording Compute Engine uses.
func checkName(field, value string) error {
	if value == "" {
		return &apiError{Code: http.StatusBadRequest, Reason: "required",
			Message: "Required field '" + field + "' not specified"}
	}
	if !validName(value) {
		return errInvalid("Invalid value for field '%s': '%s'. Must be a match of regex '%s'", field, value, namePattern)
	}
	return nil
}

// checkLabels validates a label map sent in field ("resource.labels" or
// "labels"); the error names the offending key so a caller can fix it.
func checkLabels(field string, labels map[string]string) error {
	if len(labels) > maxLabels {
		return errInvalid("Invalid value for field '%s': ''. Resource has %d labels; at most %d are allowed.", field, len(labels), maxLabels)
	}
	keys := sortedKeys(labels)
	for _, k := range keys {
		if !labelKeyRE.MatchString(k) {
			return errInvalid("Invalid value for field '%s': ''. Label key '%s' violates format constraints. The key must start with a lowercase character, can only contain lowercase letters, numeric characters, underscores and dashes. The key can be at most 63 characters long. International characters are allowed.", field, k)
		}
		if v := labels[k]; !labelValRE.MatchString(v) {
			return errInvalid("Invalid value for field '%s': ''. Label value '%s' of key '%s' violates format constraints. The value can only contain lowercase letters, numeric characters, underscores and dashes. The value can be at most 63 characters long. International characters are allowed.", field, v, k)
		}
	}
	return nil
}

// emptyLabelFingerprint is what Compute Engine reports for a resource without
// labels; clients compare against it, so it is reproduced exactly.
const emptyLabelFingerprint = "42WmSpB8rSM="

// labelFingerprint is the fingerprint reported for a label map: stable for
// equal maps, different (with overwhelming probability) for different ones.
// Only the empty map's value is Compute Engine's own; any other value is
// opaque to clients, as the API documents.
func labelFingerprint(labels map[string]string) string {
	if len(labels) == 0 {
		return emptyLabelFingerprint
	}
	h := sha256.New()
	for _, k := range sortedKeys(labels) {
		// NUL cannot occur in a valid key or value, so pairs cannot run
		// into each other ambiguously.
		h.Write([]byte(k + "\x00" + labels[k] + "\x00"))
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)[:8])
}

// sameFingerprint compares two fingerprints as Compute Engine does: by the
// bytes they encode. The API writes them in standard base64 (nTmtRUFb+2s=)
// and gcloud sends them back URL-safe (nTmtRUFb-2s=); comparing the strings
// would refuse one gcloud label edit in four. Values that are not base64 at
// all are compared as they are, so a garbage fingerprint is still refused.
func sameFingerprint(sent, current string) bool {
	a, okA := decodeFingerprint(sent)
	b, okB := decodeFingerprint(current)
	if okA && okB {
		return bytes.Equal(a, b)
	}
	return sent == current
}

func decodeFingerprint(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// numericID reads a resource id as paths may carry it in place of a name
// (the discovery document's pattern [1-9][0-9]{0,19}).
func numericID(s string) (uint64, bool) {
	if s == "" || s[0] < '1' || s[0] > '9' || len(s) > 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(s, 10, 64)
	return id, err == nil
}

// requestIDOf returns the requestId query parameter, which must be a non-zero
// UUID when present.
func requestIDOf(r *http.Request) (string, error) {
	id := r.URL.Query().Get("requestId")
	if id == "" {
		return "", nil
	}
	u, err := uuid.Parse(id)
	if err != nil || u == uuid.Nil {
		return "", errInvalid("Invalid value for field 'requestId': '%s'. The request ID must be a valid non-zero UUID.", id)
	}
	return strings.ToLower(u.String()), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
