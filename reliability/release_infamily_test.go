package reliability

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// TestReleaseFailingAfterTheImageIsInTheFamily: when the built image is in
// the family before the release (googlecompute's image_family set to the
// release's family, or a release run again), it is the family's head: a
// release that then fails (here: the label write's operation fails) must not
// return an error, because Packer deletes the image of a failed
// post-processor. Found by TestChaosRelease.
func TestReleaseFailingAfterTheImageIsInTheFamily(t *testing.T) {
	t.Parallel()
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
	c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": e.URL}})
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
	out, err := releaser.Run(context.Background(), c, releaser.Request{Project: project, Family: "web", Image: n.String(),
		Convention: conv, Policy: lifecycle.DefaultPolicy()}, &reporter{})
	if err != nil {
		t.Errorf("releaser.Run returned an error for an image that is the family's head (Packer now deletes it): %v (released: %v)",
			strings.TrimSpace(err.Error()), out.Released)
	}
}

// TestPackerKeepsAnImageAlreadyInTheFamilyWhenItsReleaseFails is
// the same through the real packer: googlecompute with image_family set to
// the release's family, and the release's label write failing. The built
// image is the family's head; Packer used to delete it.
func TestPackerKeepsAnImageAlreadyInTheFamilyWhenItsReleaseFails(t *testing.T) {
	t.Parallel()
	env := packerEnv(t)
	faults, err := emulator.ParseFaults("images.setLabels=fail:1")
	if err != nil {
		t.Fatal(err)
	}
	e := startEmu(t, emulator.Options{Faults: faults}, 0)
	appFixture(t, e)
	dir := t.TempDir()
	const name = "debian-12-nginx-1-26-v20261126t080000"
	endpoint := e.URL + "/compute/v1/"
	packerrun.WriteTemplate(t, dir, packerrun.GoogleComputeApp(endpoint, name, `image_family = "app-nginx"`)+
		fmt.Sprintf(releaseTemplate, endpoint, filepath.Join(dir, "report.json")))
	stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", ".")
	w := readWorld(t, e)
	if _, ok := w.images[name]; !ok {
		head, _ := w.head(t, "app-nginx")
		t.Errorf("packer build (%v) deleted %s, which googlecompute had put in app-nginx as its head; the family now resolves to %s\n%s",
			err, name, head, lastLines(stdout+stderr, 12))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
