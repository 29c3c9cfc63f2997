package emulator

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

func listImages(n int) []*computepb.Image {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]*computepb.Image, n)
	for i := range out {
		out[i] = &computepb.Image{
			Name:              proto.String(fmt.Sprintf("img-%05d", (i*7919)%n)),
			CreationTimestamp: proto.String(formatTime(base.Add(time.Duration(i) * time.Second))),
		}
	}
	return out
}

func TestListPageWalksEveryItemOnceInOrder(t *testing.T) {
	items := listImages(1203)
	for _, order := range []string{"", "name", "creationTimestamp desc"} {
		t.Run("orderBy="+order, func(t *testing.T) {
			var got []*computepb.Image
			token := ""
			for pages := 0; ; pages++ {
				q := url.Values{"maxResults": {"100"}, "pageToken": {token}, "orderBy": {order}, "alt": {"json"}}
				page, next, err := listPage(httptest.NewRequest("GET", "/x?"+q.Encode(), nil), items)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if next == "" {
					break
				}
				token = next
			}
			if len(got) != len(items) {
				t.Fatalf("got %d items, want %d", len(got), len(items))
			}
			for i := 1; i < len(got); i++ {
				if order == "creationTimestamp desc" {
					if got[i-1].GetCreationTimestamp() <= got[i].GetCreationTimestamp() {
						t.Fatalf("not newest first at %d", i)
					}
				} else if got[i-1].GetName() >= got[i].GetName() {
					t.Fatalf("not by name at %d: %s, %s", i, got[i-1].GetName(), got[i].GetName())
				}
			}
		})
	}
}

func TestListPageRejectsBadParameters(t *testing.T) {
	items := listImages(3)
	for _, q := range []string{
		"orderBy=family", "orderBy=name+desc", "maxResults=-1", "maxResults=501", "maxResults=x",
		"pageToken=%21%21", "pageToken=e30", "filter=name%3Dx%20AND%20(",
	} {
		t.Run(q, func(t *testing.T) {
			_, _, err := listPage(httptest.NewRequest("GET", "/x?"+q, nil), items)
			ae, ok := err.(*apiError)
			if !ok || ae.Code != 400 || ae.Reason != "invalid" {
				t.Fatalf("got %v, want a 400 invalid", err)
			}
		})
	}
}

func TestListPageRefusesATokenFromAnotherQuery(t *testing.T) {
	items := listImages(10)
	_, next, err := listPage(httptest.NewRequest("GET", "/x?maxResults=2", nil), items)
	if err != nil || next == "" {
		t.Fatal(err, next)
	}
	_, _, err = listPage(httptest.NewRequest("GET", "/x?maxResults=2&orderBy=creationTimestamp+desc&pageToken="+next, nil), items)
	if ae, ok := err.(*apiError); !ok || ae.Code != 400 {
		t.Fatalf("got %v, want 400", err)
	}
}

func BenchmarkGenericObject10k(b *testing.B) {
	items := listImages(10000)
	for _, it := range items {
		it.Labels = map[string]string{"team": "web", "parent": "base-v1"}
		it.Family = proto.String("app")
	}
	b.ResetTimer()
	for b.Loop() {
		for _, it := range items {
			genericObject(it)
		}
	}
}

func BenchmarkToGenericUncached10k(b *testing.B) {
	items := listImages(10000)
	for _, it := range items {
		it.Labels = map[string]string{"team": "web", "parent": "base-v1"}
		it.Family = proto.String("app")
	}
	for b.Loop() {
		for _, it := range items {
			toGeneric(it)
		}
	}
}

func BenchmarkGenericObjectFrozen10k(b *testing.B) {
	items := listImages(10000)
	for _, it := range items {
		it.Labels = map[string]string{"team": "web", "parent": "base-v1"}
		it.Family = proto.String("app")
		freeze(it)
	}
	for b.Loop() {
		for _, it := range items {
			genericObject(it)
		}
	}
}

func TestGenericObjectSeesInPlaceChangesOfUnfrozenResources(t *testing.T) {
	img := &computepb.Image{Name: proto.String("a")}
	if genericObject(img)["name"] != "a" {
		t.Fatal("first conversion")
	}
	img.Name = proto.String("b")
	if got := genericObject(img)["name"]; got != "b" {
		t.Fatalf("got %v after an in-place change, want b", got)
	}
}
