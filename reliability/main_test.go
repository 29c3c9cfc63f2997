package reliability

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
)

// long is the `make chaos` version: more seeds, more runs, every case.
var long = os.Getenv("IMAGEFAMILY_CHAOS") == "long"

// pick returns the short or the long value.
func pick[T any](short, longer T) T {
	if long {
		return longer
	}
	return short
}

// processDir lives as long as the test process: the shared packer
// environment's directories are made in it (processTB).
var processDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "imagefamily-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	processDir = dir
	// The scenarios mostly wait (retry backoff in the CLI, the next second
	// between runs): run more of them at once than there are CPUs, unless
	// -parallel says otherwise.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	start := time.Now()
	code := m.Run()
	stats.Seconds = time.Since(start).Seconds()
	if path := os.Getenv("RELIABILITY_FIGURES"); path != "" {
		if err := stats.write(path); err != nil {
			fmt.Fprintln(os.Stderr, "reliability figures:", err)
			code = 1
		}
	}
	gobuild.Clean()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// figures are what RELIABILITY.md reports; every test adds to them.
type figures struct {
	mu sync.Mutex
	// Scenarios counts the scenarios run, by test.
	Scenarios map[string]int `json:"scenarios"`
	// Runs counts the runs of the code under test (CLI invocations, library
	// calls, packer builds), by kind.
	Runs map[string]int `json:"runs"`
	// Faults counts the faults injected, by kind ("503", "reset", "fail",
	// "slow", "lost": a response dropped after the change was applied).
	Faults map[string]int `json:"faults"`
	// FaultsByMethod counts them by "method=kind".
	FaultsByMethod map[string]int `json:"faults_by_method"`
	Crashes        int            `json:"crashes"`
	// InvalidInputs counts the invalid configurations and flag sets tried.
	InvalidInputs map[string]int `json:"invalid_inputs"`
	// Checks counts invariant checks made; Violations the ones that failed.
	Checks     int      `json:"invariant_checks"`
	Violations int      `json:"invariant_violations"`
	Notes      []string `json:"notes,omitempty"`
	Seconds    float64  `json:"seconds"`
}

var stats = &figures{Scenarios: map[string]int{}, Runs: map[string]int{}, Faults: map[string]int{},
	FaultsByMethod: map[string]int{}, InvalidInputs: map[string]int{}}

func (f *figures) add(m *map[string]int, key string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	(*m)[key] += n
}

func (f *figures) scenario(t testing.TB) { f.add(&f.Scenarios, baseName(t.Name()), 1) }
func (f *figures) run(kind string)       { f.add(&f.Runs, kind, 1) }

func (f *figures) crash() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Crashes++
}

func (f *figures) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Notes = append(f.Notes, s)
}

func (f *figures) checked(violations int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Checks++
	f.Violations += violations
}

// injected adds an emulator's InjectedFaults.
func (f *figures) injected(byMethod map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, n := range byMethod {
		f.FaultsByMethod[k] += n
		kind := k[strings.LastIndexByte(k, '=')+1:]
		f.Faults[kind] += n
	}
}

func (f *figures) write(path string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	slices.Sort(f.Notes)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func baseName(name string) string {
	base, _, _ := strings.Cut(name, "/")
	return base
}
