package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// fakeTicker replaces progressTicker with a channel the test sends on: a
// send returns once the progress goroutine has taken the tick, and finish
// waits for it to have written its line.
func fakeTicker(t *testing.T) chan time.Time {
	t.Helper()
	ticks := make(chan time.Time)
	saved := progressTicker
	progressTicker = func(d time.Duration) (<-chan time.Time, func()) {
		if d != progressEvery {
			t.Errorf("ticker every %s, want %s", d, progressEvery)
		}
		return ticks, func() {}
	}
	t.Cleanup(func() { progressTicker = saved })
	return ticks
}

func TestProgressOffATerminalIsALineEveryTenSeconds(t *testing.T) {
	ticks := fakeTicker(t)
	var stderr bytes.Buffer
	e := &env{ctx: context.Background(), cmd: "rotate", stderr: &stderr, global: globalFlags{level: levelInfo}}
	setNow(t, t0)
	p := e.startProgress("rotate web", 643, 16)
	for i := 0; i < 120; i++ {
		p.result(apply.Result{Action: lifecycle.ActionDeprecate, Outcome: apply.OutcomeDone})
	}
	p.result(apply.Result{Action: lifecycle.ActionDeprecate, Outcome: apply.OutcomeFailed, Err: errors.New("boom")})
	p.parallelismChanged(16, 8)
	p.retry(gce.Retry{Method: "images.deprecate", Resource: "web-v1", Attempt: 1, Quota: true, Err: errors.New("429 Too Many Requests"), Wait: time.Second})
	setNow(t, t0.Add(10*time.Second))
	ticks <- testNow
	p.finish()
	want := []string{
		"imagefamily rotate: quota: parallelism 16 -> 8",
		"imagefamily rotate: retrying images.deprecate web-v1 (attempt 2, quota: 429 Too Many Requests) in 1s",
		"imagefamily rotate: rotate web: 121/643 actions (1 failed), 12.1/s, ETA 43s, parallelism 8, 1 retry",
	}
	if got := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), strings.Join(want, "\n"))
	}
}

func TestProgressSaysNothingWhenQuiet(t *testing.T) {
	ticks := fakeTicker(t)
	var stderr bytes.Buffer
	e := &env{ctx: context.Background(), cmd: "rotate", stderr: &stderr, global: globalFlags{level: levelError}}
	p := e.startProgress("rotate web", 2, 4)
	p.result(apply.Result{Outcome: apply.OutcomeDone})
	p.parallelismChanged(4, 2)
	select {
	case ticks <- testNow:
		t.Error("a quiet run started a ticker")
	default:
	}
	p.finish()
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing with --quiet", stderr.String())
	}
}
