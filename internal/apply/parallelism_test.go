package apply

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// A front end shows throttling from OnParallelism: every change of the
// limit, in order, each from the limit the previous one set.
func TestOnParallelismHearsEveryChangeOfTheLimit(t *testing.T) {
	fake := gcetest.New(family("p", 26)...)
	c := &absorbing{Compute: fake, absorbed: 8, hold: 5 * time.Millisecond}
	var (
		mu      sync.Mutex
		changes [][2]int
	)
	opts := withScans(c, Options{Parallelism: 8, OnParallelism: func(from, to int) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, [2]int{from, to})
	}})
	rep := Apply(context.Background(), c, "p", planFor(t, fake, "p", lifecycle.DefaultPolicy(), now), opts)
	if rep.Failed() != 0 {
		t.Fatalf("failed: %v", rep.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) == 0 || changes[0] != [2]int{8, 4} {
		t.Fatalf("changes %v, want the first to be 8 -> 4 (the throttled round)", changes)
	}
	for i := 1; i < len(changes); i++ {
		if changes[i][0] != changes[i-1][1] || changes[i][1] == changes[i][0] {
			t.Errorf("change %d is %v after %v: each starts from the limit before and changes it", i, changes[i], changes[i-1])
		}
	}
	if last := changes[len(changes)-1][1]; last < 4 || last > 8 {
		t.Errorf("limit ended at %d, want it between the halved 4 and Parallelism 8", last)
	}
}

func TestAIMDReportsCutsAndGrowth(t *testing.T) {
	var got [][2]int
	a := newAIMD(4, func(from, to int) { got = append(got, [2]int{from, to}) })
	a.mu.Lock()
	a.cut()  // 4 -> 2
	a.cut()  // 2 -> 1
	a.cut()  // stays 1: no change to report
	a.grow() // 1 -> 2
	a.mu.Unlock()
	want := [][2]int{{4, 2}, {2, 1}, {1, 2}}
	if len(got) != len(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %v, want %v", i, got[i], want[i])
		}
	}
}
