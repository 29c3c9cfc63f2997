package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// GcloudConfig is the baseline comparison: bench/gcloud-rotate.sh and
// `imagefamily rotate` on the same family of N ACTIVE images (keep 2), at the
// same latencies.
type GcloudConfig struct {
	Root        string // the module root (bench/gcloud-rotate.sh is under it)
	N           int
	Latency     time.Duration
	OpLatency   time.Duration
	CLI         string // the imagefamily binary
	Parallelism int
}

// GcloudResult compares the two.
type GcloudResult struct {
	N           int
	Deprecated  int // images the script deprecated (N - 2)
	GcloudWall  time.Duration
	GcloudCalls map[string]int
	// OursWall is imagefamily rotate's (median of 3) with the in-use check,
	// OursNoScanWall without it.
	OursWall        time.Duration
	OursCalls       map[string]int
	OursNoScanWall  time.Duration
	OursNoScanCalls map[string]int
}

// GcloudPerImage is the script's wall time per image deprecated.
func (g GcloudResult) GcloudPerImage() time.Duration {
	return g.GcloudWall / time.Duration(max(1, g.Deprecated))
}

// OursPerImage is imagefamily rotate's wall time per image deprecated.
func (g GcloudResult) OursPerImage() time.Duration {
	return g.OursWall / time.Duration(max(1, g.Deprecated))
}

// Speedup is how many times faster per image imagefamily rotate is.
func (g GcloudResult) Speedup() float64 { return g.GcloudWall.Seconds() / g.OursWall.Seconds() }

// SpeedupNoScan is the same without the in-use check.
func (g GcloudResult) SpeedupNoScan() float64 {
	return g.GcloudWall.Seconds() / g.OursNoScanWall.Seconds()
}

// gcloudEnv is the environment of gcloud calls against endpoint.
func gcloudEnv(endpoint, configDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CLOUDSDK_") || strings.HasPrefix(name, "GOOGLE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"CLOUDSDK_CONFIG="+configDir,
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_CORE_PROJECT="+Project,
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="+endpoint,
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
	)
}

// RunGcloud runs the script, then imagefamily rotate, each on a fresh
// emulator holding the same family.
func RunGcloud(ctx context.Context, cfg GcloudConfig) (GcloudResult, error) {
	res := GcloudResult{N: cfg.N}
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		return res, fmt.Errorf("gcloud is not installed: %w", err)
	}
	f := Fixture{Images: cfg.N, AllActive: true}
	em, err := StartEmulator(emulator.Options{Latency: cfg.Latency, OpLatency: cfg.OpLatency})
	if err != nil {
		return res, err
	}
	defer em.Close()
	state, err := f.State(time.Now())
	if err != nil {
		return res, err
	}
	if err := em.Server.LoadState(state); err != nil {
		return res, err
	}
	configDir, err := os.MkdirTemp("", "rotatebench-gcloud-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(configDir)
	env := gcloudEnv(em.ComputeEndpoint(), configDir)
	// gcloud writes its configuration directory on its first call; a cron
	// job's gcloud has one already, so that call is not timed.
	warm := exec.CommandContext(ctx, gcloud, "config", "list")
	warm.Env = env
	if b, err := warm.CombinedOutput(); err != nil {
		return res, fmt.Errorf("gcloud config list: %v\n%s", err, b)
	}
	em.Reset()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(cfg.Root, "bench", "gcloud-rotate.sh"), Family, "2")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	res.GcloudWall = time.Since(start)
	res.GcloudCalls = em.Counts.Methods()
	if err != nil {
		return res, fmt.Errorf("bench/gcloud-rotate.sh: %v\n%s", err, out.String())
	}
	res.Deprecated = res.GcloudCalls["images.deprecate"]
	snap, err := em.Server.SnapshotState()
	if err != nil {
		return res, err
	}
	if bad, err := f.check(snap); err != nil || len(bad) > 0 {
		return res, fmt.Errorf("after bench/gcloud-rotate.sh: %v %v", err, bad)
	}
	if want := cfg.N - 2; res.Deprecated != want {
		return res, fmt.Errorf("bench/gcloud-rotate.sh deprecated %d images, want %d:\n%s", res.Deprecated, want, out.String())
	}

	// imagefamily rotate, three times each (the median counts): with the
	// in-use check (the default: three more list calls, none of which the
	// script makes) and without it (exactly the script's work).
	for _, args := range [][]string{nil, {"--check-in-use=false"}} {
		var walls []time.Duration
		for range 3 {
			ours, err := RunRotate(ctx, RotateConfig{Fixture: f, Latency: cfg.Latency, OpLatency: cfg.OpLatency,
				Parallelism: cfg.Parallelism, CLI: cfg.CLI, Args: args})
			if err != nil {
				return res, err
			}
			if ours.Done != res.Deprecated || len(ours.StateErrors) > 0 {
				return res, fmt.Errorf("imagefamily rotate %v did %d actions (want %d): %v", args, ours.Done, res.Deprecated, ours.StateErrors)
			}
			walls = append(walls, ours.Wall)
			if args == nil {
				res.OursCalls = ours.Calls
			} else {
				res.OursNoScanCalls = ours.Calls
			}
		}
		if args == nil {
			res.OursWall = median(walls)
		} else {
			res.OursNoScanWall = median(walls)
		}
	}
	return res, nil
}
