package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
	goldenfile "github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the outputs seen")

// t0 is the tests' "now": fixtures are dated relative to it, and the CLI's
// clock and the emulator's clock read testNow, which tests may move.
var t0 = time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)

var testNow = t0

const day = 24 * time.Hour

func TestMain(m *testing.M) {
	clock = func() time.Time { return testNow }
	headRecheckEvery = 0
	noSleep := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	gceOptions = []gce.Option{gce.WithBackoff(gce.Backoff{Attempts: 6, Sleep: noSleep, Rand: func() float64 { return 0.5 }})}
	code := m.Run()
	gobuild.Clean()
	os.Exit(code)
}

// setNow moves the clock for the rest of the test.
func setNow(t *testing.T, at time.Time) {
	t.Helper()
	testNow = at
	t.Cleanup(func() { testNow = t0 })
}

// emu starts an emulator on the tests' clock.
func emu(t *testing.T, opts emulator.Options) *emulatortest.Env {
	t.Helper()
	testNow = t0
	t.Cleanup(func() { testNow = t0 })
	opts.Clock = func() time.Time { return testNow }
	return emulatortest.Start(t, opts)
}

type imageOpt func(*computepb.Image)

func labels(kv ...string) imageOpt {
	return func(img *computepb.Image) {
		if img.Labels == nil {
			img.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			img.Labels[kv[i]] = kv[i+1]
		}
	}
}

func deprecated(state string, deprecatedAt, obsoleteAt, deletedAt time.Time) imageOpt {
	return func(img *computepb.Image) {
		d := &computepb.DeprecationStatus{State: proto.String(state)}
		for _, f := range []struct {
			t time.Time
			p **string
		}{{deprecatedAt, &d.Deprecated}, {obsoleteAt, &d.Obsolete}, {deletedAt, &d.Deleted}} {
			if !f.t.IsZero() {
				*f.p = proto.String(f.t.UTC().Format(time.RFC3339))
			}
		}
		img.Deprecated = d
	}
}

// put stores an image of family in project, created age before t0.
func put(t *testing.T, env *emulatortest.Env, project, family, name string, age time.Duration, opts ...imageOpt) {
	t.Helper()
	img := &computepb.Image{Name: proto.String(name), CreationTimestamp: proto.String(t0.Add(-age).Format("2006-01-02T15:04:05.000Z07:00"))}
	if family != "" {
		img.Family = proto.String(family)
	}
	for _, o := range opts {
		o(img)
	}
	if err := env.Server.PutImage(project, img); err != nil {
		t.Fatal(err)
	}
}

// loadState adds resources given as the emulator's state JSON.
func loadState(t *testing.T, env *emulatortest.Env, js string) {
	t.Helper()
	var st emulator.State
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		t.Fatal(err)
	}
	if err := env.Server.LoadState(st); err != nil {
		t.Fatal(err)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the CLI in-process against env (nil: no endpoint).
func cli(t *testing.T, env *emulatortest.Env, args ...string) result {
	t.Helper()
	return cliEnv(t, env, nil, args...)
}

// cliEnv runs the CLI in-process against env with the environment vars
// (and nothing else: no HOME, no gcloud configuration of the machine's).
func cliEnv(t *testing.T, env *emulatortest.Env, vars map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string {
		if k == endpointEnv && env != nil {
			return env.URL
		}
		return vars[k]
	}
	code := run(context.Background(), args, &stdout, &stderr, getenv)
	return result{code, stdout.String(), stderr.String()}
}

// mustCLI runs the CLI and fails the test unless it exits with want.
func mustCLI(t *testing.T, env *emulatortest.Env, want int, args ...string) result {
	t.Helper()
	r := cli(t, env, args...)
	if r.code != want {
		t.Fatalf("imagefamily %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), got, *update)
}

// image reads one image from the emulator through the gce client.
func image(t *testing.T, env *emulatortest.Env, project, name string) (computeImage, bool) {
	t.Helper()
	c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.URL}}, gceOptions...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	img, err := c.GetImage(context.Background(), project, name)
	if err != nil {
		return computeImage{}, false
	}
	return computeImage{State: string(img.State()), Labels: img.Labels, Family: img.Family, Replacement: img.Deprecation.Replacement}, true
}

type computeImage struct {
	State       string
	Labels      map[string]string
	Family      string
	Replacement string
}

func head(t *testing.T, env *emulatortest.Env, project, family string) string {
	t.Helper()
	c, err := gce.New(context.Background(), pluginconfig.Auth{CustomEndpoints: map[string]string{"compute": env.URL}}, gceOptions...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	img, err := c.GetFromFamily(context.Background(), project, family)
	if err != nil {
		return ""
	}
	return img.Name
}

// emulatorCommand runs `imagefamily emulator ARGS` in-process.
func emulatorCommand(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) int {
	return run(ctx, append([]string{"emulator"}, args...), stdout, stderr, nil)
}
