package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// BenchmarkListFamilyOf10kImages pages through a 10,000-image family (in a
// project holding as many other images) with a family filter, as the rotator
// does: 20 pages of 500, each filtering the whole project.
func BenchmarkListFamilyOf10kImages(b *testing.B) {
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 20000 {
		family := "web"
		if i%2 == 1 {
			family = "api"
		}
		img := &computepb.Image{Name: proto.String(fmt.Sprintf("%s-v%05d", family, i)), Family: proto.String(family),
			Labels: map[string]string{"team": family, "parent": "base-v1"}}
		if err := srv.PutImage("acme", img); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		token, n := "", 0
		for {
			q := url.Values{"filter": {"family = web"}, "maxResults": {"500"}, "pageToken": {token}}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest("GET", "/compute/v1/projects/acme/global/images?"+q.Encode(), nil))
			var page struct {
				Items         []json.RawMessage `json:"items"`
				NextPageToken string            `json:"nextPageToken"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil || rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
			n += len(page.Items)
			if token = page.NextPageToken; token == "" {
				break
			}
		}
		if n != 10000 {
			b.Fatalf("listed %d images, want 10000", n)
		}
	}
}
