package apply

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// phased is a Compute whose Deprecate has the two phases of the real one: a
// request, which holds a slot of Apply's pacing, and then an operation to
// wait for, which holds none and runs until the test closes ops.
type phased struct {
	gce.Compute
	ops     chan struct{} // closed: every operation finishes
	waiting chan struct{} // one send per operation that started running

	mu                     sync.Mutex
	requests, maxRequests  int
	operations, maxRunning int
}

func (p *phased) Deprecate(ctx context.Context, project, image string, d lifecycle.Deprecation) (err error) {
	ctx, release, err := asRequest(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.requests++
	p.maxRequests = max(p.maxRequests, p.requests)
	p.mu.Unlock()
	err = p.Compute.Deprecate(ctx, project, image, d)
	p.mu.Lock()
	p.requests--
	p.operations++
	p.maxRunning = max(p.maxRunning, p.operations)
	p.mu.Unlock()
	release(err)
	p.waiting <- struct{}{}
	<-p.ops
	p.mu.Lock()
	p.operations--
	p.mu.Unlock()
	return err
}

func TestApplyWaitsForOperationsOutsideTheRequestSlots(t *testing.T) {
	fake := gcetest.New(family("p", 20)...)
	plan := planFor(t, fake, "p", lifecycle.DefaultPolicy(), now)
	n := len(plan.Actions())
	c := &phased{Compute: fake, ops: make(chan struct{}), waiting: make(chan struct{}, n)}
	opts := Options{Parallelism: 2, Pending: 6}
	reps := make(chan Report, 1)
	go func() { reps <- Apply(context.Background(), c, "p", plan, withScans(c, opts)) }()

	// With two request slots, six operations are running at once: the slots
	// went back as each request was answered. Pending stops a seventh.
	for i := range opts.Pending {
		select {
		case <-c.waiting:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d operations running; want Pending = %d while the first ones are held", i, opts.Pending)
		}
	}
	close(c.ops)
	rep := <-reps
	if rep.Failed() != 0 || rep.Done() != n {
		t.Fatalf("done %d of %d, failed %d: %v", rep.Done(), n, rep.Failed(), rep.Err())
	}
	if c.maxRequests > opts.Parallelism {
		t.Errorf("%d requests in flight at once, want at most Parallelism %d", c.maxRequests, opts.Parallelism)
	}
	if c.maxRunning != opts.Pending {
		t.Errorf("at most %d operations ran at once, want Pending %d", c.maxRunning, opts.Pending)
	}
}

func TestRequestSlotsGoToWaitersInOrderAndSkipThoseWhoGaveUp(t *testing.T) {
	a := newAIMD(1)
	queuedCh := make(chan struct{}, 3)
	a.onQueue = func() { queuedCh <- struct{}{} }
	if err := a.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	gaveUp, cancel := context.WithCancel(context.Background())
	order := make(chan string, 3)
	var wg sync.WaitGroup
	queued := func(name string, ctx context.Context) {
		defer wg.Done()
		if err := a.Acquire(ctx); err != nil {
			order <- name + " gave up"
			return
		}
		order <- name
		a.Release(nil)
	}
	// Each waiter is queued before the next starts, so the order is known.
	for _, w := range []struct {
		name string
		ctx  context.Context
	}{{"first", context.Background()}, {"impatient", gaveUp}, {"third", context.Background()}} {
		wg.Add(1)
		go queued(w.name, w.ctx)
		<-queuedCh
	}
	cancel()
	if got := <-order; got != "impatient gave up" {
		t.Fatalf("first outcome %q, want the cancelled waiter to leave the queue", got)
	}
	a.Release(nil)
	wg.Wait()
	close(order)
	var got []string
	for o := range order {
		got = append(got, o)
	}
	if len(got) != 2 || got[0] != "first" || got[1] != "third" {
		t.Errorf("slots went to %v, want [first third]", got)
	}
	if a.inUse != 0 {
		t.Errorf("%d slots still held after every holder released", a.inUse)
	}
}
