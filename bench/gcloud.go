package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gcloudrun"
)

// GcloudConfig is the baseline comparison: bench/gcloud-rotate.sh and
// `imagefamily rotate` on the same family of N ACTIVE images (keep 2), at the
// same latencies.
type GcloudConfig struct {
	Root      string // the module root (bench/gcloud-rotate.sh is under it)
	N         int
	Latency   time.Duration
	OpLatency time.Duration
	CLI       string // the imagefamily binary
	// Parallelisms are the --parallelism values imagefamily rotate runs
	// with, each with the in-use check (the default); the first also runs
	// without it (--check-in-use=false: exactly the script's work).
	Parallelisms []int
}

// GcloudResult compares the two.
type GcloudResult struct {
	N           int
	Deprecated  int // images the script deprecated (N - 2)
	GcloudWall  time.Duration
	GcloudCalls map[string]int
	Ours        []OursRun
}

// OursRun is imagefamily rotate on the family, the median of 3 runs.
type OursRun struct {
	Parallelism int
	CheckInUse  bool
	Wall        time.Duration
	Calls       map[string]int
}

// GcloudPerImage is the script's wall time per image deprecated.
func (g GcloudResult) GcloudPerImage() time.Duration {
	return g.GcloudWall / time.Duration(max(1, g.Deprecated))
}

// PerImage is imagefamily rotate's wall time per image deprecated.
func (g GcloudResult) PerImage(o OursRun) time.Duration {
	return o.Wall / time.Duration(max(1, g.Deprecated))
}

// Speedup is how many times faster per image imagefamily rotate is.
func (g GcloudResult) Speedup(o OursRun) float64 { return g.GcloudWall.Seconds() / o.Wall.Seconds() }

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
	env := gcloudrun.Env(em.ComputeEndpoint(), Project, configDir)
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

	// imagefamily rotate, three times each (the median counts).
	type variant struct {
		p     int
		inUse bool
	}
	var variants []variant
	for i, p := range cfg.Parallelisms {
		variants = append(variants, variant{p, true})
		if i == 0 {
			variants = append(variants, variant{p, false})
		}
	}
	for _, v := range variants {
		var args []string
		if !v.inUse {
			args = []string{"--check-in-use=false"}
		}
		run := OursRun{Parallelism: v.p, CheckInUse: v.inUse}
		var walls []time.Duration
		for range 3 {
			ours, err := RunRotate(ctx, RotateConfig{Fixture: f, Latency: cfg.Latency, OpLatency: cfg.OpLatency,
				Parallelism: v.p, CLI: cfg.CLI, Args: args})
			if err != nil {
				return res, err
			}
			if ours.Done != res.Deprecated || len(ours.StateErrors) > 0 {
				return res, fmt.Errorf("imagefamily rotate %v did %d actions (want %d): %v", args, ours.Done, res.Deprecated, ours.StateErrors)
			}
			walls = append(walls, ours.Wall)
			run.Calls = ours.Calls
		}
		run.Wall = median(walls)
		res.Ours = append(res.Ours, run)
	}
	return res, nil
}
