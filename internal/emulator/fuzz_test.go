package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// FuzzImageInsertBody sends arbitrary bodies through the request decoder of
// every image method that takes one: whatever arrives, the emulator answers
// 2xx or 4xx with a JSON body, and never panics or returns a 5xx.
func FuzzImageInsertBody(f *testing.F) {
	for _, seed := range []string{
		``,
		`{}`,
		`{"name":"web-v1","rawDisk":{"source":"gs://b/o.tar.gz"}}`,
		`{"name":"web-v1","sourceImage":"projects/p/global/images/family/base","labels":{"team":"web"}}`,
		`{"name":"web-v1","sourceDisk":"/compute/v1/projects/p/zones/z/disks/d","diskSizeGb":"20"}`,
		`{"name":"web-v1","sourceSnapshot":"global/snapshots/s","deprecated":{"state":"DEPRECATED","obsolete":"2027-01-01T00:00:00Z"}}`,
		`{"state":"ACTIVE","deprecated":"2027-01-01T00:00:00Z"}`,
		`{"labelFingerprint":"42WmSpB8rSM=","labels":{"a":"b"}}`,
		`{"family":null,"description":""}`,
		`{"name":"web-v1","guestOsFeatures":[{"type":"UEFI_COMPATIBLE"}],"id":"18446744073709551615"}`,
		`[1,2,3]`,
		`"text"`,
		`null`,
		`{"name":"\u0000"}`,
		`{"labels":{"":"x"}}`,
	} {
		f.Add([]byte(seed))
	}
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		f.Fatal(err)
	}
	const base = "/compute/v1/projects/p/global/images"
	fixture := httptest.NewRequest("POST", base, bytes.NewReader([]byte(`{"name":"fixture","family":"base","rawDisk":{"source":"gs://b/o"}}`)))
	srv.ServeHTTP(httptest.NewRecorder(), fixture)

	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []struct{ method, path string }{
			{"POST", base},
			{"POST", base + "/fixture/deprecate"},
			{"POST", base + "/fixture/setLabels"},
			{"PATCH", base + "/fixture"},
		} {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(target.method, target.path, bytes.NewReader(body)))
			if rec.Code >= 500 || rec.Code < 200 {
				t.Fatalf("%s %s %q: status %d: %s", target.method, target.path, body, rec.Code, rec.Body)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s %s %q: body is not JSON: %q", target.method, target.path, body, rec.Body)
			}
			if rec.Code != http.StatusOK {
				var e envelope
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != rec.Code || len(e.Error.Errors) == 0 {
					t.Fatalf("%s %s %q: %d without an error envelope: %s", target.method, target.path, body, rec.Code, rec.Body)
				}
			}
		}
	})
}
