package emulator_test

import (
	"math/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

func TestParseFaultsReadsLatencySpikes(t *testing.T) {
	f, err := emulator.ParseFaults("*=slow:750ms:0.05,images.get=503:0.1,images.list=slow:2s:1")
	if err != nil {
		t.Fatal(err)
	}
	want := emulator.Faults{
		{Method: "*", Kind: "slow", P: 0.05, Delay: 750 * time.Millisecond},
		{Method: "images.get", Kind: "503", P: 0.1},
		{Method: "images.list", Kind: "slow", P: 1, Delay: 2 * time.Second},
	}
	if len(f) != len(want) {
		t.Fatalf("got %+v, want %+v", f, want)
	}
	for i := range want {
		if f[i] != want[i] {
			t.Errorf("fault %d = %+v, want %+v", i, f[i], want[i])
		}
	}
	for spec, wantErr := range map[string]string{
		"*=slow:0.5":        `a latency spike is *=slow:DURATION:PROBABILITY`,
		"*=slow:fast:0.5":   `spike duration "fast"`,
		"*=slow:-1s:0.5":    `spike duration "-1s"`,
		"*=slow:24h:0.5":    `spike duration "24h"`,
		"*=slow:1s:2":       `probability "2"`,
		"images.get=slow::": `spike duration ""`,
	} {
		if _, err := emulator.ParseFaults(spec); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseFaults(%q) = %v, want an error containing %q", spec, err, wantErr)
		}
	}
}

func TestLatencySpikesDelayAndAreCounted(t *testing.T) {
	faults, err := emulator.ParseFaults("images.get=slow:150ms:1,images.get=429:1")
	if err != nil {
		t.Fatal(err)
	}
	env := emulatortest.Start(t, emulator.Options{Faults: faults})
	start := time.Now()
	code, _ := do(t, env, "GET", "/compute/v1/projects/p/global/images/x", "")
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("the spiked request took %s, want at least 150ms", took)
	}
	if code != http.StatusTooManyRequests {
		t.Errorf("a spike and a 429 on one request answered %d, want 429 after the spike", code)
	}
	// Other methods are neither delayed nor failed.
	start = time.Now()
	if code, _ := do(t, env, "GET", "/compute/v1/projects/p/global/images", ""); code != http.StatusOK || time.Since(start) > 100*time.Millisecond {
		t.Errorf("images.list answered %d in %s, want 200 at once", code, time.Since(start))
	}
	got := env.Server.InjectedFaults()
	if got["images.get=slow"] != 1 || got["images.get=429"] != 1 || len(got) != 2 {
		t.Errorf("InjectedFaults() = %v, want one images.get=slow and one images.get=429", got)
	}
}

func TestSpikesDoNotChangeTheSeededDrawsOfAFaultFreeSpec(t *testing.T) {
	// A spec without spikes draws exactly as before spikes existed: one
	// draw per matching fault per request.
	faults, err := emulator.ParseFaults("images.get=429:0.5")
	if err != nil {
		t.Fatal(err)
	}
	env := emulatortest.Start(t, emulator.Options{Faults: faults, Seed: 42})
	// The draws are math/rand's under the seed, one per request: nothing
	// else (no spike) takes a number from the source in between.
	draws := rand.New(rand.NewSource(42))
	n429 := 0
	for i := range 40 {
		want := http.StatusNotFound
		if draws.Float64() < 0.5 {
			want = http.StatusTooManyRequests
		}
		code, _ := do(t, env, "GET", "/compute/v1/projects/p/global/images/x", "")
		if code != want {
			t.Fatalf("request %d answered %d, want %d: the seeded draws are not one per matching fault per request", i, code, want)
		}
		if code == http.StatusTooManyRequests {
			n429++
		}
	}
	if got := env.Server.InjectedFaults()["images.get=429"]; got != n429 {
		t.Errorf("counted %d injected 429s, the client saw %d", got, n429)
	}
}
