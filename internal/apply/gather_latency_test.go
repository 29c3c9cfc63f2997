package apply

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// barrier holds each listing request until n of them have been sent, so
// that listings read one after the other never get past the first.
type barrier struct {
	n    int
	mu   sync.Mutex
	seen int
	all  chan struct{}
}

func (b *barrier) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || !(strings.HasSuffix(req.URL.Path, "/global/images") || strings.Contains(req.URL.Path, "/aggregated/")) {
		return http.DefaultTransport.RoundTrip(req)
	}
	b.mu.Lock()
	if b.seen++; b.seen == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return http.DefaultTransport.RoundTrip(req)
	case <-time.After(10 * time.Second):
		return nil, errors.New("the other listings were never sent while this one was in flight")
	}
}

// Reading the family and scanning for uses do not wait for each other: the
// family list and the scan's three aggregated listings are all in flight at
// once.
func TestGatherReadsTheFamilyWhileItScans(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	for i := 1; i <= 5; i++ {
		if err := env.Server.PutImage("p", &computepb.Image{Name: proto.String(fmt.Sprintf("web-v%d", i)), Family: proto.String("web")}); err != nil {
			t.Fatal(err)
		}
	}
	b := &barrier{n: 4, all: make(chan struct{})}
	c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.URL + "/compute/v1/"}},
		gce.WithClientOptions(option.WithHTTPClient(&http.Client{Transport: b})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := Gather(context.Background(), c, "p", "web", nil, true)
	if err != nil {
		t.Fatalf("the family list and the scan did not run at once: %v", err)
	}
	if len(s.Images) != 5 {
		t.Fatalf("%d images, want 5", len(s.Images))
	}
}
