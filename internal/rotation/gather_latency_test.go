package rotation

import (
	"context"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// Reading the family and scanning for uses do not wait for each other: with
// every call taking L, Gather takes about L (four one-page listings at
// once), not 4·L.
func TestGatherReadsTheFamilyWhileItScans(t *testing.T) {
	const latency = 150 * time.Millisecond
	c := startFamily(t, 5, emulator.Options{Latency: latency}, 1)
	start := time.Now()
	s, err := Gather(context.Background(), c, "p", "web", nil, true)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Images) != 5 {
		t.Fatalf("%d images, want 5", len(s.Images))
	}
	if took >= 2*latency {
		t.Errorf("Gather took %v with %v per call: the family list and the scan ran one after the other", took, latency)
	}
}
