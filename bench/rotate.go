package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// pageSize is Compute Engine's largest list page.
const pageSize = 500

// RotateConfig is one `imagefamily rotate` measurement.
type RotateConfig struct {
	Fixture     Fixture
	Latency     time.Duration // per request (emulator --latency)
	OpLatency   time.Duration // operations stay RUNNING this long (--op-latency)
	Parallelism int           // rotate --parallelism
	Faults      string        // emulator --faults spec, "" for none
	// Quotas is an emulator --quota spec, "" for none.
	Quotas string
	// StateFile runs the emulator with a state file (--state) in a
	// temporary directory, the fixture written to it before the start.
	StateFile bool
	Seed      int64
	CLI       string   // the imagefamily binary
	Env       []string // more environment for it (GOGC=..., GODEBUG=...)
	Args      []string // more rotate flags, e.g. --check-in-use=false
	// AllFamilies rotates every family of the project (--all-families)
	// instead of the fixture's family alone.
	AllFamilies bool
}

// RotateResult is what one run measured.
type RotateResult struct {
	Config   RotateConfig
	Expected Expected
	// Wall is from starting the imagefamily process to its exit.
	Wall time.Duration
	// MaxRSS is the process's peak resident set (rusage maxrss), in bytes.
	MaxRSS int64
	// CPU is the process's user and system CPU time.
	CPU time.Duration
	// Calls are the API calls the emulator answered, by method.
	Calls map[string]int
	// Throttled is how many calls the emulator answered with 429, or with
	// 403 over a --quota (Compute Engine's answer to a rate quota).
	Throttled int
	// Writes is when the emulator accepted each image mutation, relative
	// to the start of the CLI, in order: the sustained rate under a quota.
	Writes []time.Duration
	// ListPages is the list calls the API forces: one per 500 images of the
	// family, and one per 500 templates, disks and instances for the
	// in-use scan.
	ListPages int
	// TStar is ListPages × L + ceil(M / P) × (L + Lop): the time the API
	// itself forces with P actions in flight and the listings read one
	// after the other.
	TStar time.Duration
	// CriticalPages is the longest single listing in pages, and TCrit the
	// bound with only that listing on the critical path (the listings are
	// independent: imagefamily reads them at once).
	CriticalPages int
	TCrit         time.Duration
	// TReq is the bound with the applier's pacing: P requests in flight,
	// each action's operation waited for outside them, at most Pending
	// actions in flight (TReq), over the critical listing.
	TReq time.Duration
	// Done and Failed are the actions as the CLI's report gives them;
	// QuotaRetries sums the re-sends Apply made after quota errors.
	Done, Failed, QuotaRetries int
	// Peaks is the highest number of actions in flight per 250 ms, as the
	// emulator sees them: from an image's first mutation request until the
	// operation of the one that went through is reported done, the pauses
	// of retries included (the applier's parallelism).
	Peaks []int
	// Means is the time-weighted mean of the same, per 250 ms.
	Means []float64
	// RequestPeaks and RequestMeans are the same for the image mutation
	// requests being served (arrival to answer): the request slots.
	RequestPeaks []int
	RequestMeans []float64
	// StateErrors lists images whose state after the run is not the one
	// the fixture's design expects (empty when the run did exactly M).
	StateErrors []string
	Stderr      string
}

// Ratio is Wall / T*.
func (r RotateResult) Ratio() float64 { return r.Wall.Seconds() / r.TStar.Seconds() }

// RatioReq is Wall / TReq.
func (r RotateResult) RatioReq() float64 { return r.Wall.Seconds() / r.TReq.Seconds() }

// RatioCrit is Wall / TCrit.
func (r RotateResult) RatioCrit() float64 { return r.Wall.Seconds() / r.TCrit.Seconds() }

// Mutations is the image mutations sent (deprecate, setLabels, delete, patch).
func (r RotateResult) Mutations() int {
	return r.Calls["images.deprecate"] + r.Calls["images.setLabels"] + r.Calls["images.delete"] + r.Calls["images.patch"]
}

// Polls is the operation reads and waits sent.
func (r RotateResult) Polls() int {
	return r.Calls["globalOperations.get"] + r.Calls["globalOperations.wait"]
}

// ListCalls is the list calls sent.
// Scans is how many times the run read the in-use listings: the
// instance-template pages it asked for, in whole scans of the fixture.
func (r RotateResult) Scans() float64 {
	return float64(r.Calls["instanceTemplates.aggregatedList"]) / float64(pages(r.Config.Fixture.Templates))
}

func (r RotateResult) ListCalls() int {
	return r.Calls["images.list"] + r.Calls["instanceTemplates.aggregatedList"] + r.Calls["disks.aggregatedList"] + r.Calls["instances.aggregatedList"]
}

func pages(n int) int { return max(1, (n+pageSize-1)/pageSize) }

// ForcedListPages is the list calls a family of this fixture forces to plan:
// its images, the orphans of interrupted releases into it (one filtered
// list), the family's lease, and the in-use scan. Re-reading the family while the plan is
// carried out adds pages(Images) per second of the run (RereadPages).
func (f Fixture) ForcedListPages() int {
	return pages(f.Images) + 1 + LeaseLists + pages(f.Templates) + pages(f.Instances) + pages(f.Instances)
}

// The family's lease costs every rotation the same few calls, whatever its
// size: a filtered images.list before writing it on the head (found with one
// getFromFamily) and one after, and two images.setLabels (take and give
// back, each waited for). Giving it back writes from the labels and
// fingerprint the second list returned: no images.get unless the head's
// labels changed during the run.
const (
	LeaseLists     = 2
	LeaseHeadReads = 1
	LeaseWrites    = 2
	LeaseGets      = 0
)

// RereadPages bounds the listing pages the applier may add to keep its
// picture fresh during a run of wall: one re-listing of the family a second.
func (f Fixture) RereadPages(wall time.Duration) int {
	return int(wall/time.Second+1) * pages(f.Images)
}

// TStar is the bound for m actions.
func TStar(listPages, m, p int, l, lop time.Duration) time.Duration {
	rounds := (m + p - 1) / p
	return time.Duration(listPages)*l + time.Duration(rounds)*(l+lop)
}

// TReq is the bound for m actions when p bounds the requests in flight (a
// request holds its slot for L) and pending bounds the actions (an action
// holds its place for at least L + Lop): the requests take ceil(m / p)
// rounds of L and the last operation Lop more, or, when pending binds,
// ceil(m / pending) rounds of L + Lop.
func TReq(listPages, m, p, pending int, l, lop time.Duration) time.Duration {
	requests := time.Duration((m+p-1)/p)*l + lop
	actions := time.Duration((m+pending-1)/pending) * (l + lop)
	if m == 0 {
		requests, actions = 0, 0
	}
	return time.Duration(listPages)*l + max(requests, actions)
}

// rotateOutput is the part of rotate's JSON output read here.
type rotateOutput struct {
	Families []struct {
		Results []struct {
			Action       string `json:"action"`
			Error        string `json:"error"`
			QuotaRetries int    `json:"quota_retries"`
		} `json:"results"`
	} `json:"families"`
	Summary struct {
		Actions, Done, Failed int
	} `json:"summary"`
}

// RunRotate lays the fixture in a fresh emulator and runs
// `imagefamily rotate` against it once.
func RunRotate(ctx context.Context, cfg RotateConfig) (RotateResult, error) {
	res := RotateResult{Config: cfg, Expected: cfg.Fixture.Expect()}
	faults, err := emulator.ParseFaults(cfg.Faults)
	if err != nil {
		return res, err
	}
	quotas, err := emulator.ParseQuotas(cfg.Quotas)
	if err != nil {
		return res, err
	}
	now := time.Now()
	state, err := cfg.Fixture.State(now)
	if err != nil {
		return res, err
	}
	opts := emulator.Options{Latency: cfg.Latency, OpLatency: cfg.OpLatency, Faults: faults, Seed: cfg.Seed, Quotas: quotas}
	if cfg.StateFile {
		// Written before the start, as `imagefamily emulator --state`
		// finds a fixture: loading it is not what is measured.
		dir, err := os.MkdirTemp("", "rotatebench-state-")
		if err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
		opts.StateFile = filepath.Join(dir, "state.json")
		b, err := json.Marshal(state)
		if err != nil {
			return res, err
		}
		if err := os.WriteFile(opts.StateFile, b, 0o600); err != nil {
			return res, err
		}
	}
	em, err := StartEmulator(opts)
	if err != nil {
		return res, err
	}
	defer em.Close()
	if !cfg.StateFile {
		if err := em.Server.LoadState(state); err != nil {
			return res, fmt.Errorf("loading the fixture: %w", err)
		}
	}
	// The fixture's garbage is collected now rather than while the CLI
	// runs: the emulator shares this process, and the machine has few cores.
	runtime.GC()
	debug.FreeOSMemory()
	em.Reset()

	var stdout, stderr bytes.Buffer
	selection := []string{"--family", Family}
	if cfg.AllFamilies {
		selection = []string{"--all-families"}
	}
	args := append(append([]string{"rotate", "--project", Project}, selection...),
		append([]string{"--parallelism", strconv.Itoa(cfg.Parallelism), "--format", "json"}, cfg.Args...)...)
	cmd, err := measured(ctx, cfg.CLI, args...)
	if err != nil {
		return res, err
	}
	cmd.Env = append(append(cmd.Env, "IMAGEFAMILY_COMPUTE_ENDPOINT="+em.ComputeEndpoint()), cfg.Env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	em.markStart()
	runErr := cmd.Run()
	var ferr error
	res.MaxRSS, res.Wall, res.CPU, res.Stderr, ferr = launcherFigures(stderr.String())
	if ferr != nil {
		return res, fmt.Errorf("imagefamily rotate (%v): %w", runErr, ferr)
	}
	res.Calls = em.Counts.Methods()
	for _, m := range []string{"images.deprecate", "images.delete", "images.setLabels", "images.list", "globalOperations.wait", "globalOperations.get"} {
		res.Throttled += em.Counts.Status(m, 429) + em.Counts.Status(m, 403)
	}
	res.Writes = em.acceptedWrites()
	res.Peaks, res.Means = em.Gauge.Peaks(), em.Gauge.Means()
	res.RequestPeaks, res.RequestMeans = em.Requests.Peaks(), em.Requests.Means()
	res.ListPages = cfg.Fixture.ForcedListPages()
	res.TStar = TStar(res.ListPages, res.Expected.Actions, cfg.Parallelism, cfg.Latency, cfg.OpLatency)
	res.CriticalPages = max(pages(cfg.Fixture.Images), pages(cfg.Fixture.Templates), pages(cfg.Fixture.Instances))
	res.TCrit = TStar(res.CriticalPages, res.Expected.Actions, cfg.Parallelism, cfg.Latency, cfg.OpLatency)
	res.TReq = TReq(res.CriticalPages, res.Expected.Actions, cfg.Parallelism, apply.PendingPerSlot*cfg.Parallelism, cfg.Latency, cfg.OpLatency)
	var out rotateOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return res, fmt.Errorf("imagefamily rotate (%v) printed no JSON report: %v\n%s", runErr, err, res.Stderr)
	}
	res.Done, res.Failed = out.Summary.Done, out.Summary.Failed
	for _, f := range out.Families {
		for _, r := range f.Results {
			res.QuotaRetries += r.QuotaRetries
		}
	}
	if runErr != nil && res.Failed == 0 {
		return res, fmt.Errorf("imagefamily rotate: %v\n%s", runErr, res.Stderr)
	}
	snap, err := em.Server.SnapshotState()
	if err != nil {
		return res, err
	}
	res.StateErrors, err = cfg.Fixture.check(snap)
	return res, err
}

// check compares the images after a rotation with what the design expects:
// every due image moved exactly one step (a purged one is gone), every other
// image untouched.
func (f Fixture) check(st emulator.State) ([]string, error) {
	got := map[string]string{}
	for _, raw := range st.Projects[Project].Images {
		var img struct {
			Name       string `json:"name"`
			Deprecated struct {
				State string `json:"state"`
			} `json:"deprecated"`
		}
		if err := json.Unmarshal(raw, &img); err != nil {
			return nil, err
		}
		got[img.Name] = img.Deprecated.State
	}
	held := map[int]bool{}
	for j := 0; j < f.Templates; j++ {
		held[heldBy(j, f.Images)] = true
	}
	for j := 0; j < f.Instances; j++ {
		held[heldBy(j+1, f.Images)] = true
	}
	var errs []string
	for i := 0; i < f.Images; i++ {
		k := f.kindAt(i)
		want := map[kind]string{kindKept: "", kindDeprecateDue: "DEPRECATED", kindDeprecatedWait: "DEPRECATED",
			kindObsoleteDue: "OBSOLETE", kindMarkDeletedDue: "DELETED", kindObsoleteWait: "OBSOLETE",
			kindPurgeDue: "gone", kindDeletedWait: "DELETED"}[k]
		if held[i] && k.due() {
			want = map[kind]string{kindDeprecateDue: "", kindObsoleteDue: "DEPRECATED", kindMarkDeletedDue: "OBSOLETE", kindPurgeDue: "DELETED"}[k]
		}
		name := ImageName(i, f.Images)
		have, ok := got[name]
		if !ok {
			have = "gone"
		}
		if have == "ACTIVE" {
			have = ""
		}
		if have != want {
			errs = append(errs, fmt.Sprintf("%s (%s): state %q, want %q", name, k, have, want))
		}
	}
	return errs, nil
}
