package reliability

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/release"
)

// TestReleaseFailingAfterTheImageIsInTheFamily: when the built image is in
// the family before the release (googlecompute's image_family set to the
// release's family, or a release run again), it is the family's head: a
// release that then fails (here: the label write's operation fails) must not
// return an error, because Packer deletes the image of a failed
// post-processor. Found by TestChaosRelease; run with
// IMAGEFAMILY_KNOWN_BUGS=1 until internal/release handles it.
func TestReleaseFailingAfterTheImageIsInTheFamily(t *testing.T) {
	if os.Getenv("IMAGEFAMILY_KNOWN_BUGS") == "" {
		t.Skip("known bug in internal/release (under active change; reported): set IMAGEFAMILY_KNOWN_BUGS=1 to run")
	}
	faults, err := emulator.ParseFaults("images.setLabels=fail:1")
	if err != nil {
		t.Fatal(err)
	}
	e := startEmu(t, emulator.Options{Faults: faults}, 0)
	conv := &lifecycle.Convention{OS: "debian-12", Software: "web", Version: "1.0"}
	n, err := conv.Name(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	putBuilt(t, e, n.String())
	c, err := gce.New(context.Background(), gce.AuthConfig{CustomEndpoints: map[string]string{"compute": e.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The builder put the image in the family: it is the head already.
	if err := c.SetFamily(context.Background(), project, n.String(), "web"); err != nil {
		t.Fatal(err)
	}
	if head, _ := readWorld(t, e).head(t, "web"); head != n.String() {
		t.Fatalf("head %q", head)
	}
	out, err := release.Run(context.Background(), c, release.Request{Project: project, Family: "web", Image: n.String(),
		Convention: conv, Policy: lifecycle.DefaultPolicy()}, &reporter{})
	if err != nil {
		t.Errorf("release.Run returned an error for an image that is the family's head (Packer now deletes it): %v (released: %v)",
			strings.TrimSpace(err.Error()), out.Released)
	}
}
