package apply

import (
	"encoding/json"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// MarshalJSON writes the report with every time as textfmt.Stamp writes it
// (RFC 3339 UTC, milliseconds): one precision in the whole document, whatever
// clock the times came from.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // the same fields, without this method
	untouched := make([]untouchedJSON, len(r.Untouched))
	for i, u := range r.Untouched {
		untouched[i] = untouchedJSON{plainUntouched: plainUntouched(u), Next: textfmt.AtPtr(u.Next)}
	}
	return json.Marshal(struct {
		plain
		At        textfmt.Instant `json:"at"`
		Untouched []untouchedJSON `json:"untouched"`
	}{plain: plain(r), At: textfmt.At(r.At), Untouched: untouched})
}

type plainUntouched Untouched

type untouchedJSON struct {
	plainUntouched
	Next *textfmt.Instant `json:"next,omitempty"`
}
