// Command rotatebench is `make bench`: it builds the imagefamily CLI, runs it
// against the in-process Compute Engine emulator (loopback HTTP, per-request
// latency L, operation latency Lop) on families of growing size with an
// in-use scan, runs the gcloud-script baseline (bench/gcloud-rotate.sh) and
// the release post-processor comparison, and prints every figure as the
// Markdown tables BENCHMARKS.md holds.
//
//	go run ./bench/cmd/rotatebench                 # the whole run (~10 minutes)
//	go run ./bench/cmd/rotatebench -sizes 1000 -skip gcloud,release,faults
//	go run ./bench/cmd/rotatebench -skip rotate,faults,catchup,gcloud,release,quota   # the state-file rows
//	go run ./bench/cmd/rotatebench -skip rotate,faults,catchup,gcloud,release,state   # the quota row
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/bench"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

type options struct {
	sizes       []int
	latency     time.Duration
	opLatency   time.Duration
	parallelism int
	templates   int
	instances   int
	otherImages int
	gcloudN     int
	faults      string
	faultsN     int
	catchUpN    int
	stateSizes  []int
	stateRuns   int
	quota       string
	quotaN      int
	// families is how many families the --all-families run rotates, and
	// familyTemplates the templates its scan reads.
	families, familyTemplates int
	skip                      map[string]bool
	cli                       string
	jsonOut                   string
	packerDir                 string
	cliEnv                    []string
}

func main() {
	bench.Main()
	var o options
	var sizes, skip string
	flag.StringVar(&sizes, "sizes", "10,100,1000,10000", "family sizes N, comma-separated")
	flag.DurationVar(&o.latency, "latency", 50*time.Millisecond, "per-request latency L")
	flag.DurationVar(&o.opLatency, "op-latency", 200*time.Millisecond, "operation latency Lop")
	flag.IntVar(&o.parallelism, "parallelism", 16, "rotate --parallelism P")
	flag.IntVar(&o.templates, "templates", 10000, "instance templates in the project (1 in 5 regional) for the in-use scan")
	flag.IntVar(&o.instances, "instances", 10000, "instances in the project, each with a boot disk, for the in-use scan")
	flag.IntVar(&o.otherImages, "other-images", 20000, "images of other families in the project")
	flag.IntVar(&o.gcloudN, "gcloud-n", 50, "family size for the gcloud-script baseline")
	flag.StringVar(&o.faults, "faults", "images.deprecate=429:0.3", "fault spec for the rate-limit run")
	flag.IntVar(&o.faultsN, "faults-n", 1000, "family size for the rate-limit run")
	flag.IntVar(&o.catchUpN, "catchup-n", 1000, "family size for the catch-up run (label stamps before steps)")
	var stateSizes string
	flag.StringVar(&stateSizes, "state-sizes", "1000,10000", "family sizes for the state-file rows: in memory and with --state, at zero latency")
	flag.IntVar(&o.stateRuns, "state-runs", 3, "runs of each kind per state-file row (the medians are compared)")
	flag.StringVar(&o.quota, "quota", "writes=20/s", "emulator --quota spec for the quota run")
	flag.IntVar(&o.quotaN, "quota-n", 2000, "family size for the quota run")
	flag.IntVar(&o.families, "families", 50, "families for the --all-families run (the in-use scan is read once for them all)")
	flag.IntVar(&o.familyTemplates, "families-templates", 5000, "instance templates for the --all-families run")
	flag.StringVar(&skip, "skip", "", "parts to skip: rotate,faults,catchup,gcloud,release,state,quota,families")
	flag.StringVar(&o.cli, "cli", "", "an imagefamily binary to measure (default: built from this module)")
	flag.StringVar(&o.jsonOut, "json", "", "also write every result as JSON to this file")
	flag.StringVar(&o.packerDir, "bin", "", "directory holding packer, packer-plugin-googlecompute and packer-plugin-imagefamily (default: bin/ of the module)")
	var cliEnv, cpuProfile string
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write the harness's CPU profile (the emulator's work) to this file")
	flag.StringVar(&cliEnv, "cli-env", "", "more environment for the imagefamily process, e.g. GODEBUG=gctrace=1 (comma-separated)")
	flag.Parse()
	if cliEnv != "" {
		o.cliEnv = strings.Split(cliEnv, ",")
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatalf("-sizes %q: want positive whole numbers", sizes)
		}
		o.sizes = append(o.sizes, n)
	}
	for _, s := range strings.Split(stateSizes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fatalf("-state-sizes %q: want positive whole numbers", stateSizes)
		}
		o.stateSizes = append(o.stateSizes, n)
	}
	o.skip = map[string]bool{}
	for _, s := range strings.Split(skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.skip[s] = true
		}
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		pprof.StopCPUProfile()
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "rotatebench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "rotatebench: "+format+"\n", args...)
}

type results struct {
	Date        string               `json:"date"`
	Machine     string               `json:"machine"`
	Rotate      []bench.RotateResult `json:"rotate"`
	Unthrottled *bench.RotateResult  `json:"unthrottled,omitempty"`
	Throttled   *bench.RotateResult  `json:"throttled,omitempty"`
	CatchUp     *bench.RotateResult  `json:"catch_up,omitempty"`
	// State pairs, for each -state-sizes N, a run in memory with one
	// on a state file, both at zero latency.
	State []statePair `json:"state,omitempty"`
	// Quota is the run under -quota.
	Quota *bench.RotateResult `json:"quota,omitempty"`
	// Families is the --all-families run over -families families.
	Families   *bench.RotateResult  `json:"families,omitempty"`
	Gcloud     *bench.GcloudResult  `json:"gcloud,omitempty"`
	Release    *bench.ReleaseResult `json:"release,omitempty"`
	Problems   []string             `json:"problems,omitempty"`
	Options    map[string]string    `json:"options"`
	LoadBefore string               `json:"load_before"`
	LoadAfter  string               `json:"load_after"`
	Elapsed    time.Duration        `json:"elapsed"`
}

func run(ctx context.Context, o options, w io.Writer) error {
	root, err := modroot.Find()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "rotatebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if o.cli != "" {
		if o.cli, err = filepath.Abs(o.cli); err != nil {
			return err
		}
	} else {
		logf("building the imagefamily CLI")
		if o.cli, err = bench.BuildCLI(ctx, root, tmp); err != nil {
			return err
		}
	}
	began := time.Now()
	res := results{
		LoadBefore: loadavg(),
		Date:       time.Now().UTC().Format("2006-01-02"),
		Machine:    machine(),
		Options: map[string]string{
			"L": o.latency.String(), "Lop": o.opLatency.String(), "P": strconv.Itoa(o.parallelism),
			"templates": strconv.Itoa(o.templates), "instances": strconv.Itoa(o.instances),
		},
	}
	fixture := func(n int) bench.Fixture {
		return bench.Fixture{Images: n, Templates: o.templates, Instances: o.instances, OtherImages: o.otherImages}
	}
	rotateWith := func(f bench.Fixture, faults string, tune func(*bench.RotateConfig)) (bench.RotateResult, error) {
		n := f.Images
		cfg := bench.RotateConfig{Fixture: f, Latency: o.latency, OpLatency: o.opLatency,
			Parallelism: o.parallelism, Faults: faults, Seed: 1, CLI: o.cli, Env: o.cliEnv}
		if tune != nil {
			tune(&cfg)
		}
		logf("rotate N=%d faults=%q catch-up=%v ...", n, faults, f.CatchUp)
		r, err := bench.RunRotate(ctx, cfg)
		if err != nil {
			return r, fmt.Errorf("rotate N=%d: %w", n, err)
		}
		logf("  M=%d wall %v T* %v ratio %.2f T*req %v ratio %.2f rss %.1f MiB calls: %v", r.Expected.Actions, r.Wall.Round(time.Millisecond),
			r.TStar, r.Ratio(), r.TReq, r.RatioReq(), mib(r.MaxRSS), r.Calls)
		if len(r.StateErrors) > 0 {
			res.Problems = append(res.Problems, fmt.Sprintf("N=%d: %d images not where they should be, e.g. %s", n, len(r.StateErrors), r.StateErrors[0]))
		}
		return r, nil
	}
	rotateFixture := func(f bench.Fixture, faults string) (bench.RotateResult, error) { return rotateWith(f, faults, nil) }
	rotate := func(n int, faults string) (bench.RotateResult, error) { return rotateFixture(fixture(n), faults) }
	if !o.skip["rotate"] {
		for _, n := range o.sizes {
			r, err := rotate(n, "")
			if err != nil {
				return err
			}
			res.Rotate = append(res.Rotate, r)
		}
	}
	if !o.skip["faults"] && o.faults != "" {
		var base *bench.RotateResult
		for i := range res.Rotate {
			if res.Rotate[i].Config.Fixture.Images == o.faultsN {
				base = &res.Rotate[i]
			}
		}
		if base == nil {
			r, err := rotate(o.faultsN, "")
			if err != nil {
				return err
			}
			base = &r
		}
		res.Unthrottled = base
		r, err := rotate(o.faultsN, o.faults)
		if err != nil {
			return err
		}
		res.Throttled = &r
	}
	if !o.skip["catchup"] {
		f := fixture(o.catchUpN)
		f.CatchUp = true
		r, err := rotateFixture(f, "")
		if err != nil {
			return err
		}
		res.CatchUp = &r
	}
	if !o.skip["state"] {
		for _, n := range o.stateSizes {
			zero := func(state bool) func(*bench.RotateConfig) {
				return func(c *bench.RotateConfig) { c.Latency, c.OpLatency, c.StateFile = 0, 0, state }
			}
			// Alternating runs, medians compared: one run on a shared
			// two-core machine is noise.
			var pair statePair
			for range o.stateRuns {
				m, err := rotateWith(fixture(n), "", zero(false))
				if err != nil {
					return err
				}
				f, err := rotateWith(fixture(n), "", zero(true))
				if err != nil {
					return err
				}
				pair.Memory, pair.File = append(pair.Memory, m), append(pair.File, f)
			}
			logf("  state N=%d: in memory %v, --state %v: %.2f×", n, pair.median(pair.Memory).Wall, pair.median(pair.File).Wall, pair.ratio())
			res.State = append(res.State, pair)
		}
	}
	if !o.skip["quota"] && o.quota != "" {
		r, err := rotateWith(fixture(o.quotaN), "", func(c *bench.RotateConfig) { c.Quotas = o.quota })
		if err != nil {
			return err
		}
		res.Quota = &r
		sustained, _ := quotaRates(r, o.quota)
		logf("  quota %s N=%d: done %d/%d, failed %d, refused %d, sustained %.1f%% of the quota", o.quota, o.quotaN, r.Done, r.Expected.Actions, r.Failed, r.Throttled, 100*sustained)
	}
	if !o.skip["families"] && o.families > 1 {
		// The family and families-1 others of 20 images each, one scan's
		// worth of templates: every family is rotated, the scan read once
		// (again only for destructive steps once it is a minute old).
		f := bench.Fixture{Images: 100, Templates: o.familyTemplates, OtherImages: 20 * (o.families - 1), OtherFamilies: o.families - 1}
		r, err := rotateWith(f, "", func(c *bench.RotateConfig) { c.AllFamilies = true })
		if err != nil {
			return err
		}
		res.Families = &r
		logf("  --all-families over %d families: %.1f scans (%d instanceTemplates.aggregatedList pages), wall %v", o.families, r.Scans(),
			r.Calls["instanceTemplates.aggregatedList"], r.Wall.Round(time.Millisecond))
	}
	if !o.skip["gcloud"] {
		logf("gcloud script N=%d ...", o.gcloudN)
		// -parallelism, the CLI as a user gets it (its default), and all in one round.
		g, err := bench.RunGcloud(ctx, bench.GcloudConfig{Root: root, N: o.gcloudN, Latency: o.latency, OpLatency: o.opLatency,
			CLI: o.cli, Parallelisms: []int{o.parallelism, apply.DefaultParallelism, o.gcloudN - 2}})
		if err != nil {
			res.Problems = append(res.Problems, "gcloud baseline: "+err.Error())
			logf("  %v", err)
		} else {
			res.Gcloud = &g
			for _, r := range g.Ours {
				logf("  gcloud %.2f s/image, imagefamily (P=%d, in-use check %v) %.4f s/image: %.0f×", g.GcloudPerImage().Seconds(),
					r.Parallelism, r.CheckInUse, g.PerImage(r).Seconds(), g.Speedup(r))
			}
		}
	}
	if !o.skip["release"] {
		binDir := o.packerDir
		if binDir == "" {
			binDir = root + "/bin"
		}
		logf("packer build with and without imagefamily-release ...")
		rr, err := bench.RunRelease(ctx, bench.ReleaseConfig{Root: root, BinDir: binDir, Runs: 20})
		if err != nil {
			res.Problems = append(res.Problems, "release post-processor: "+err.Error())
			logf("  %v", err)
		} else {
			res.Release = &rr
			logf("  without %v, with %v: +%v", rr.Without, rr.With, rr.Added())
		}
	}
	res.LoadAfter, res.Elapsed = loadavg(), time.Since(began)
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	writeMarkdown(w, o, res)
	return nil
}

// loadavg is /proc/loadavg's first three figures: other work on the
// machine during a run shows there.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				mem = fmt.Sprintf("%.0f GiB", math.Round(kb/(1<<20)))
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s, %s %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func writeMarkdown(w io.Writer, o options, res results) {
	fmt.Fprintf(w, "Date %s; machine: %s; load average %s before, %s after; the whole run took %s.\n\n",
		res.Date, res.Machine, res.LoadBefore, res.LoadAfter, res.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "L = %v, Lop = %v, P = %d; in-use scan: %d instance templates (1 in 5 regional) and %d instances with their boot disks; %d images of other families in the project.\n\n",
		o.latency, o.opLatency, o.parallelism, o.templates, o.instances, o.otherImages)
	if len(res.Rotate) > 0 {
		fmt.Fprintln(w, "| N | M | list pages | wall | T* | wall / T* | T*crit | wall / T*crit | T*req | wall / T*req | peak in flight | peak requests | requests by method | mutations / M | polls / M | images.get | peak RSS | CLI CPU |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
		for _, r := range res.Rotate {
			m := r.Expected.Actions
			fmt.Fprintf(w, "| %d | %d | %d | %.2f s | %.2f s | %.2f | %.2f s | %.2f | %.2f s | %.2f | %d | %d | %s | %s | %s | %d | %.1f MiB | %.2f s |\n",
				r.Config.Fixture.Images, m, r.ListPages, r.Wall.Seconds(), r.TStar.Seconds(), r.Ratio(), r.TCrit.Seconds(), r.RatioCrit(),
				r.TReq.Seconds(), r.RatioReq(), slices.Max(append([]int{0}, r.Peaks...)), slices.Max(append([]int{0}, r.RequestPeaks...)),
				methods(r.Calls), perAction(r.Mutations(), m), perAction(r.Polls(), m), r.Calls["images.get"], mib(r.MaxRSS), r.CPU.Seconds())
		}
		fmt.Fprintln(w)
	}
	if res.Throttled != nil && res.Unthrottled != nil {
		t, u := res.Throttled, res.Unthrottled
		fmt.Fprintf(w, "Rate limits (`--faults %s`, N = %d, M = %d): %d/%d actions done, %d failed; the emulator answered %d calls with 429; Apply re-sent %d actions after quota errors that outlived gce's retries; wall %.2f s against %.2f s without faults: +%.2f s (+%.0f%%).\n\n",
			o.faults, t.Config.Fixture.Images, t.Expected.Actions, t.Done, t.Expected.Actions, t.Failed, t.Throttled, t.QuotaRetries,
			t.Wall.Seconds(), u.Wall.Seconds(), t.Wall.Seconds()-u.Wall.Seconds(), 100*(t.Wall.Seconds()/u.Wall.Seconds()-1))
		fmt.Fprintf(w, "Mean actions in flight per second of the run (seen at the emulator: from an image's first mutation request until the operation of the one that went through is done, the pauses of retries included):\n\n")
		fmt.Fprintf(w, "- with 429s:    %s\n- without: %s\n\n", perSecond(t.Means), perSecond(u.Means))
		fmt.Fprintf(w, "Mean image mutation requests being served per second of the run (arrival to answer, what --parallelism bounds):\n\n")
		fmt.Fprintf(w, "- with 429s:    %s\n- without: %s\n\n", perSecond(t.RequestMeans), perSecond(u.RequestMeans))
	}
	if f := res.Families; f != nil {
		fmt.Fprintf(w, "All families (`rotate --all-families`, %d families, %d instance templates): the in-use listings were read %.1f times (%d instanceTemplates, %d disks, %d instances aggregatedList pages); %d images.getFromFamily; wall %.2f s; requests: %s.\n\n",
			o.families, f.Config.Fixture.Templates, f.Scans(), f.Calls["instanceTemplates.aggregatedList"], f.Calls["disks.aggregatedList"],
			f.Calls["instances.aggregatedList"], f.Calls["images.getFromFamily"], f.Wall.Seconds(), methods(f.Calls))
	}
	if c := res.CatchUp; c != nil {
		fmt.Fprintf(w, "Catching up (N = %d, the DEPRECATED images due also past their deleted date, as after a month without rotations): M = %d, of which %d write imagefamily-rotated-at before their step; wall %.2f s (T* %.2f s, ratio %.2f); requests: %s; peak RSS %.1f MiB.\n\n",
			c.Config.Fixture.Images, c.Expected.Actions, c.Expected.Stamps, c.Wall.Seconds(), c.TStar.Seconds(), c.Ratio(), methods(c.Calls), mib(c.MaxRSS))
	}
	if g := res.Gcloud; g != nil {
		fmt.Fprintf(w, "gcloud script (bench/gcloud-rotate.sh, N = %d, keep 2: %d deprecations, one gcloud call each): %.1f s, %.2f s per image; its requests: %s.\n\n",
			g.N, g.Deprecated, g.GcloudWall.Seconds(), g.GcloudPerImage().Seconds(), methods(g.GcloudCalls))
		fmt.Fprintln(w, "| imagefamily rotate on the same family (median of 3) | wall | per image | faster per image | requests |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---|")
		for _, r := range g.Ours {
			check := "in-use check"
			if !r.CheckInUse {
				check = "--check-in-use=false (the script's work exactly)"
			}
			fmt.Fprintf(w, "| --parallelism %d, %s | %.2f s | %.1f ms | %.0f× | %s |\n", r.Parallelism, check, r.Wall.Seconds(),
				1000*g.PerImage(r).Seconds(), g.Speedup(r), methods(r.Calls))
		}
		fmt.Fprintln(w)
	}
	if r := res.Release; r != nil {
		fmt.Fprintf(w, "packer build at zero latency, %d builds of each kind, alternating: median without the post-processor %.2f s, with it %.2f s: +%.2f s (ratio %.2f); fastest %.2f s and %.2f s: +%.2f s. The requests the post-processor adds: %s.\n\n",
			r.Runs, r.Without.Seconds(), r.With.Seconds(), r.Added().Seconds(), r.With.Seconds()/r.Without.Seconds(),
			slices.Min(r.AllWithout).Seconds(), slices.Min(r.AllWith).Seconds(), (slices.Min(r.AllWith) - slices.Min(r.AllWithout)).Seconds(),
			methods(r.AddedCalls()))
	}
	if len(res.State) > 0 {
		fmt.Fprintln(w, "State file (L = Lop = 0, so that persistence is all there is to see; same fixture and P as above):")
		fmt.Fprintln(w)
		fmt.Fprintf(w, "| N | M | in memory (median of %d) | --state (median of %d) | --state / in memory | every run, in memory | every run, --state | mutations |\n", o.stateRuns, o.stateRuns)
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---|---|---:|")
		for _, p := range res.State {
			m, f := p.median(p.Memory), p.median(p.File)
			fmt.Fprintf(w, "| %d | %d | %.2f s | %.2f s | %.2f× | %s | %s | %d |\n", m.Config.Fixture.Images, m.Expected.Actions,
				m.Wall.Seconds(), f.Wall.Seconds(), p.ratio(), walls(p.Memory), walls(p.File), f.Mutations())
		}
		fmt.Fprintln(w)
	}
	if q := res.Quota; q != nil {
		sustained, overall := quotaRates(*q, o.quota)
		fmt.Fprintf(w, "Quota (`--quota %s`, N = %d, M = %d, L = %v, Lop = %v, P = %d): %d/%d actions done, %d failed; %d calls refused with 403 rateLimitExceeded; %d image mutations accepted in %.1f s: %.0f%% of the quota sustained (first to last accepted write, the bucket's first burst left out), %.0f%% over the whole run; requests: %s.\n\n",
			o.quota, q.Config.Fixture.Images, q.Expected.Actions, o.latency, o.opLatency, o.parallelism, q.Done, q.Expected.Actions, q.Failed,
			q.Throttled, len(q.Writes), q.Wall.Seconds(), 100*sustained, 100*overall, methods(q.Calls))
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "PROBLEM: %s\n", p)
	}
}

// statePair is one family size rotated in memory and on a state file,
// -state-runs times each.
type statePair struct {
	Memory, File []bench.RotateResult
}

// median is the run of median wall time.
func (statePair) median(rs []bench.RotateResult) bench.RotateResult {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b bench.RotateResult) int { return int(a.Wall - b.Wall) })
	return s[len(s)/2]
}

func (p statePair) ratio() float64 {
	return p.median(p.File).Wall.Seconds() / p.median(p.Memory).Wall.Seconds()
}

// quotaRates is the accepted image mutations per second against the
// quota's rate: sustained, from the first accepted write to the last with
// the bucket's first burst left out (it was full when the run began), and
// over the whole run.
func quotaRates(r bench.RotateResult, spec string) (sustained, overall float64) {
	qs, err := emulator.ParseQuotas(spec)
	if err != nil || len(qs) == 0 || len(r.Writes) < 2 {
		return 0, 0
	}
	rate, burst := qs[0].Rate, qs[0].Burst
	w := r.Writes
	if len(w) > burst+1 {
		span := (w[len(w)-1] - w[burst]).Seconds()
		sustained = float64(len(w)-burst-1) / span / rate
	}
	overall = float64(len(w)) / r.Wall.Seconds() / rate
	return sustained, overall
}

func walls(rs []bench.RotateResult) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%.2f", r.Wall.Seconds()))
	}
	return strings.Join(parts, ", ")
}

func perAction(n, m int) string {
	if m == 0 {
		return strconv.Itoa(n)
	}
	return fmt.Sprintf("%d / %d", n, m)
}

func methods(calls map[string]int) string {
	var keys []string
	for k := range calls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, calls[k]))
	}
	return strings.Join(parts, ", ")
}

// perSecond averages the 250 ms means by second.
func perSecond(means []float64) string {
	var parts []string
	for i := 0; i < len(means); i += 4 {
		sum, n := 0.0, 0
		for _, m := range means[i:min(i+4, len(means))] {
			sum += m
			n++
		}
		parts = append(parts, strconv.FormatFloat(sum/float64(n), 'f', 1, 64))
	}
	return strings.Join(parts, " ")
}
