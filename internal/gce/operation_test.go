package gce

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// With an operation latency the insert answers RUNNING, and the client's own
// Operation.Wait polls operations.get until DONE (its first pause is a real
// second); polls that fail are retried under our policy.
func TestMutationsWaitForRunningOperationsThroughFailingPolls(t *testing.T) {
	h := newHarness(t, emulator.Options{OpLatency: 50 * time.Millisecond, Faults: faults(t, "globalOperations.get=503:0.5"), Seed: 2})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.rec.reset()
	img, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1", Family: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !img.Ready() {
		t.Errorf("image returned before its operation finished: status %s", img.Status)
	}
	polls := h.rec.matching("GET", "")
	n := 0
	for _, p := range polls {
		if strings.Contains(p.Path, "/global/operations/") {
			n++
		}
	}
	if n < 2 || len(h.sleep.Pauses()) == 0 {
		t.Errorf("%d operation polls and %d retries, want the operation waited for and a failed poll retried", n, len(h.sleep.Pauses()))
	}
}

func TestAnOperationThatOutlivesTheTimeoutIsReported(t *testing.T) {
	h := newHarness(t, emulator.Options{OpLatency: time.Hour}, WithOperationTimeout(100*time.Millisecond))
	h.putImage(t, "acme", "web-v1", "web", nil)
	start := time.Now()
	err := h.c.SetFamily(t.Context(), "acme", "web-v1", "app")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not finish within 100ms") {
		t.Fatalf("SetFamily with a stuck operation = %v, want a timeout naming the operation", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the timeout took %v", time.Since(start))
	}
}
