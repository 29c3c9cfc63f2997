package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/releaser"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

func TestMain(m *testing.M) {
	code := m.Run()
	gobuild.Clean()
	os.Exit(code)
}

// packerEnv is an isolated packer environment with googlecompute and this
// plugin, built from the working tree, installed.
func packerEnv(t testing.TB) *packerrun.Environment {
	t.Helper()
	env := packerrun.Env(t)
	packerrun.InstallPlugins(t, env)
	return env
}

// computeClient is the project's own client against an endpoint.
func computeClient(t testing.TB, endpoint string) gce.Compute {
	t.Helper()
	c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": endpoint}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readOutcome reads a release report.
func readOutcome(t testing.TB, path string) releaser.Outcome {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("e2e: release report: %v", err)
	}
	var o releaser.Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("e2e: release report %s: %v\n%s", path, err, b)
	}
	return o
}

// manifest is the part of packer's manifest post-processor output the test
// reads.
type manifest struct {
	Builds []struct {
		Name        string `json:"name"`
		BuilderType string `json:"builder_type"`
		ArtifactID  string `json:"artifact_id"`
	} `json:"builds"`
}

func readManifest(t testing.TB, path string) manifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("e2e: manifest: %v", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("e2e: manifest %s: %v\n%s", path, err, b)
	}
	return m
}

// waitUntilDue waits until every rotation date in the families that falls
// within the next few seconds has passed (by the emulator's clock, the wall
// clock here): then the next run finds each image's next step due, and the
// walk through the states is deterministic. Dates further away are not
// waited for; with second-long durations there are none.
func waitUntilDue(t testing.TB, c gce.Compute, project string, families []string, purgeAfter time.Duration) {
	t.Helper()
	var latest time.Time
	horizon := time.Now().Add(10 * time.Second)
	for _, fam := range families {
		images, err := c.ListFamily(context.Background(), project, fam)
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range images {
			d := img.Deprecation
			var due *time.Time
			switch img.State() {
			case lifecycle.StateDeprecated:
				due = d.Obsolete
			case lifecycle.StateObsolete:
				due = d.Deleted
			case lifecycle.StateDeleted:
				if d.Deleted != nil {
					p := d.Deleted.Add(purgeAfter)
					due = &p
				}
			}
			if due != nil && due.After(latest) && due.Before(horizon) {
				latest = *due
			}
		}
	}
	// Dates are written to the second and compared at the second: one more
	// second makes "due" unambiguous.
	if wait := time.Until(latest.Add(time.Second)); wait > 0 {
		t.Logf("e2e: waiting %s for the rotation dates to pass", wait.Round(time.Millisecond))
		time.Sleep(wait)
	}
}

// readLagEnv names the read lag the e2e emulators run with, a Go duration
// (IMAGEFAMILY_E2E_READ_LAG=2s go test ./e2e): reads of images and instance
// templates then see each write only after a seeded delay of up to that
// long, as Compute Engine's do (internal/emulator/lag.go). Unset: no lag.
const readLagEnv = "IMAGEFAMILY_E2E_READ_LAG"

// emulatorOptions are the options every e2e emulator starts with.
func emulatorOptions(t testing.TB) emulator.Options {
	t.Helper()
	var opts emulator.Options
	if d := readLag(t); d > 0 {
		opts.ReadLag, opts.Seed = d, 1
		t.Logf("e2e: the emulator's reads lag by up to %s", d)
	}
	return opts
}

// readLag is the read lag asked for with IMAGEFAMILY_E2E_READ_LAG; zero
// when unset.
func readLag(t testing.TB) time.Duration {
	t.Helper()
	v := os.Getenv(readLagEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q: want a duration such as 2s", readLagEnv, v)
	}
	return d
}

// afterReadLag waits out the emulator's read lag before a test reads back
// what the command under test wrote: the test's reads lag like everyone's,
// by at most that bound (internal/emulator/lag.go), and the checks are of
// what the command did, not of how soon a reader sees it. No wait without a
// lag.
func afterReadLag(t testing.TB) {
	t.Helper()
	if d := readLag(t); d > 0 {
		time.Sleep(d)
	}
}

func isNotFound(err error) bool { return errors.Is(err, gce.ErrNotFound) }

func joinLines(lines []string) string { return strings.Join(lines, "\n") }
