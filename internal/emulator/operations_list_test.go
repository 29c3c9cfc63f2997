package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// globalOperations.list takes filter, maxResults and pageToken like every
// other list: gce finds the operation of a mutation whose answers were lost
// by filtering on its requestId (clientOperationId).
func TestGlobalOperationsListFiltersAndPages(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	const images = "/compute/v1/projects/p/global/images"
	ids := []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "33333333-3333-4333-8333-333333333333"}
	for i, id := range ids {
		body := fmt.Sprintf(`{"name":"web-v%d","rawDisk":{"source":"gs://b/o.tar.gz"}}`, i+1)
		if code, out := do(t, env, "POST", images+"?requestId="+id, body); code != http.StatusOK {
			t.Fatalf("insert %d: %d %s", i+1, code, out)
		}
	}
	type opList struct {
		Items []struct {
			ClientOperationID string `json:"clientOperationId"`
			TargetLink        string `json:"targetLink"`
		} `json:"items"`
		NextPageToken string `json:"nextPageToken"`
	}
	list := func(query url.Values) opList {
		t.Helper()
		code, out := do(t, env, "GET", "/compute/v1/projects/p/global/operations?"+query.Encode(), "")
		if code != http.StatusOK {
			t.Fatalf("list %v: %d %s", query, code, out)
		}
		var l opList
		if err := json.Unmarshal(out, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}

	got := list(url.Values{"filter": {fmt.Sprintf(`clientOperationId = "%s"`, ids[1])}})
	if len(got.Items) != 1 || got.Items[0].ClientOperationID != ids[1] {
		t.Errorf("filtered on the second requestId: %+v, want its one operation", got.Items)
	}

	var seen []string
	query := url.Values{"maxResults": {"2"}}
	for pages := 1; ; pages++ {
		l := list(query)
		for _, it := range l.Items {
			seen = append(seen, it.ClientOperationID)
		}
		if l.NextPageToken == "" {
			if pages != 2 {
				t.Errorf("%d pages of at most 2 for 3 operations, want 2", pages)
			}
			break
		}
		query.Set("pageToken", l.NextPageToken)
	}
	if len(seen) != len(ids) {
		t.Errorf("paged through %v, want the 3 operations once each", seen)
	}
}
