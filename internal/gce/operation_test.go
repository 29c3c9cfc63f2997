package gce

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// With an operation latency the insert answers RUNNING, and the wait goes
// through globalOperations.wait; waits that fail are retried under our
// policy.
func TestMutationsWaitForRunningOperationsThroughFailingWaits(t *testing.T) {
	h := newHarness(t, emulator.Options{OpLatency: 50 * time.Millisecond, Faults: faults(t, "globalOperations.wait=503:0.5"), Seed: 2})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.rec.reset()
	img, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v2", SourceImage: "web-v1", Family: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !img.Ready() {
		t.Errorf("image returned before its operation finished: status %s", img.Status)
	}
	waits := len(h.rec.matching("POST", "/wait"))
	if waits < 2 || len(h.sleep.Pauses()) == 0 {
		t.Errorf("%d operation waits and %d retries, want the operation waited for and a failed wait retried", waits, len(h.sleep.Pauses()))
	}
}

// One mutation, one wait: globalOperations.wait answers when the operation
// ends, where operations.get polling would ask too early and then sleep a
// whole second (what rotations at scale paid per action).
func TestAMutationCostsOneWaitAndNoIdleSecond(t *testing.T) {
	const opLatency = 200 * time.Millisecond
	h := newHarness(t, emulator.Options{OpLatency: opLatency})
	h.putImage(t, "acme", "web-v1", "web", nil)
	h.putImage(t, "acme", "web-v2", "web", nil)
	h.rec.reset()
	start := time.Now()
	err := h.c.Deprecate(t.Context(), "acme", "web-v1", lifecycle.Deprecation{State: lifecycle.StateDeprecated, Replacement: "web-v2"})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, r := range h.rec.matching("POST", "") {
		calls = append(calls, r.String())
	}
	want := []string{
		"POST /compute/v1/projects/acme/global/images/web-v1/deprecate",
		"POST /compute/v1/projects/acme/global/operations/OP/wait",
	}
	if len(calls) == 2 {
		calls[1] = regexp.MustCompile(`operation-[0-9a-f-]+`).ReplaceAllString(calls[1], "OP")
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	if took < opLatency || took > opLatency+700*time.Millisecond {
		t.Errorf("the deprecation took %v; its operation ran %v", took, opLatency)
	}
}

func TestGlobalOperationProject(t *testing.T) {
	for _, tt := range []struct {
		link, zone, resource string
		project              string
		global               bool
	}{
		{"https://www.googleapis.com/compute/v1/projects/acme/global/operations/op-1", "", "projects/x/global/images/i", "acme", true},
		{"http://127.0.0.1:1/compute/v1/projects/a:b/global/operations/op-1", "", "", "a:b", true},
		{"https://www.googleapis.com/compute/v1/projects/acme/zones/z/operations/op-1", "z", "", "", false},
		{"https://www.googleapis.com/compute/v1/projects/acme/regions/r/operations/op-1", "", "", "", false},
		{"", "", "projects/acme/global/images/i", "acme", true},
		{"", "", "images/i", "", false},
	} {
		op := &computepb.Operation{Name: proto.String("op-1"), SelfLink: proto.String(tt.link)}
		if tt.zone != "" {
			op.Zone = proto.String(tt.zone)
		}
		p, g := globalOperationProject(op, tt.resource)
		if p != tt.project || g != tt.global {
			t.Errorf("globalOperationProject(%q, %q) = %q, %v; want %q, %v", tt.link, tt.resource, p, g, tt.project, tt.global)
		}
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
