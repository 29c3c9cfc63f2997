package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// progressEvery is how often a run off a terminal (a CI log, a cron mail)
// says how far it is.
const progressEvery = 10 * time.Second

// progressThrottle is how often the live line is redrawn at most.
var progressThrottle = 100 * time.Millisecond

// progressTicker ticks every d for the progress lines off a terminal; tests
// replace it with a channel of their own.
var progressTicker = func(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// progress says on stderr how far a run carrying out actions is: on a
// terminal a live line (done/total, rate, ETA, parallelism, retries) drawn
// by the progress bar library; elsewhere one line every progressEvery.
// Throttling (the parallelism cut on a quota error) and retries are said as
// they happen. Nothing at --verbosity warning or error.
type progress struct {
	e                     *env
	what                  string
	mu                    sync.Mutex
	start                 time.Time
	total                 int
	done, skipped, failed int
	parallelism           int
	retries, quota        int
	bar                   *progressbar.ProgressBar
	stop                  chan struct{}
	stopped               sync.WaitGroup
	lastRetryLine         time.Time
}

// startProgress starts saying the progress of total actions, run with up to
// parallelism requests at once. finish ends it.
func (e *env) startProgress(what string, total, parallelism int) *progress {
	p := &progress{e: e, what: what, start: clock(), total: total, parallelism: parallelism, stop: make(chan struct{})}
	e.mu.Lock()
	e.prog = p
	e.mu.Unlock()
	if e.global.level > levelInfo || total == 0 {
		return p
	}
	if isTerminal(e.stderr) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(e.stderr),
			progressbar.OptionSetDescription(p.description()),
			progressbar.OptionSetWidth(20),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("actions"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(progressThrottle),
			progressbar.OptionClearOnFinish(),
		)
		_ = p.bar.RenderBlank()
		return p
	}
	ticks, stopTicker := progressTicker(progressEvery)
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		defer stopTicker()
		for {
			select {
			case <-ticks:
				p.tick()
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

func (p *progress) description() string {
	d := fmt.Sprintf("%s: parallelism %d", p.what, p.parallelism)
	if p.retries > 0 {
		d += fmt.Sprintf(", %d %s", p.retries, pluralWord(p.retries, "retry", "retries"))
	}
	if p.failed > 0 {
		d += fmt.Sprintf(", %d failed", p.failed)
	}
	return d
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// result counts one action's outcome.
func (p *progress) result(r apply.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Outcome {
	case apply.OutcomeFailed:
		p.failed++
	case apply.OutcomeSkipped:
		p.skipped++
	default:
		p.done++
	}
	if p.bar != nil {
		p.bar.Describe(p.description())
		_ = p.bar.Add(1)
	}
	if r.Outcome == apply.OutcomeFailed && p.e.global.level <= levelDebug {
		p.sayLocked("%s %s failed: %s", r.Action, r.Image, textfmt.OneLine(r.Err.Error()))
	}
}

// parallelismChanged says a cut of the parallelism at once (a raise only
// updates the line).
func (p *progress) parallelismChanged(from, to int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parallelism = to
	if to < from {
		p.quota++
		p.sayLocked("quota: parallelism %d -> %d", from, to)
	}
	if p.bar != nil {
		p.bar.Describe(p.description())
	}
}

// retry counts a retried call; it is said at once on a terminal's line, and
// off a terminal at most once per progressEvery.
func (p *progress) retry(r gce.Retry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retries++
	if p.bar != nil {
		p.bar.Describe(p.description())
		return
	}
	if now := clock(); p.lastRetryLine.IsZero() || now.Sub(p.lastRetryLine) >= progressEvery {
		p.lastRetryLine = now
		p.sayLocked("%s", retryLine(r, p.retries))
	}
}

// retryLine says a retry for people.
func retryLine(r gce.Retry, total int) string {
	why := "error"
	if r.Quota {
		why = "quota"
	}
	line := fmt.Sprintf("retrying %s", r.Method)
	if r.Resource != "" {
		line += " " + r.Resource
	}
	line += fmt.Sprintf(" (attempt %d, %s: %s) in %s", r.Attempt+1, why, firstLine(r.Err), r.Wait.Round(time.Millisecond))
	if total > 1 {
		line += fmt.Sprintf("; %d retries so far", total)
	}
	return line
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 80 {
		s = s[:79] + "…"
	}
	return s
}

// sayLocked writes a line above the live line (or as a line of its own).
func (p *progress) sayLocked(format string, args ...any) {
	if p.e.global.level > levelInfo {
		return
	}
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintf(p.e.stderr, "%s%s\n", p.e.prefix(), fmt.Sprintf(format, args...))
}

// tick writes the line off a terminal.
func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sayLocked("%s", p.lineLocked(clock()))
}

// lineLocked is the progress as one line: "rotate: 120/643 actions (3
// failed, 1 skipped), 12.0/s, ETA 44s, parallelism 8, 5 retries".
func (p *progress) lineLocked(now time.Time) string {
	n := p.done + p.skipped + p.failed
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d/%d actions", p.what, n, p.total)
	var extra []string
	if p.failed > 0 {
		extra = append(extra, fmt.Sprintf("%d failed", p.failed))
	}
	if p.skipped > 0 {
		extra = append(extra, fmt.Sprintf("%d skipped", p.skipped))
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	if el := now.Sub(p.start); el > 0 && n > 0 {
		rate := float64(n) / el.Seconds()
		eta := time.Duration(float64(p.total-n) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(&b, ", %.1f/s, ETA %s", rate, eta)
	}
	fmt.Fprintf(&b, ", parallelism %d", p.parallelism)
	if p.retries > 0 {
		fmt.Fprintf(&b, ", %d %s", p.retries, pluralWord(p.retries, "retry", "retries"))
	}
	return b.String()
}

// finish ends the progress: the live line is cleared, the ticker stopped.
func (p *progress) finish() {
	close(p.stop)
	p.stopped.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
	p.e.mu.Lock()
	if p.e.prog == p {
		p.e.prog = nil
	}
	p.e.mu.Unlock()
}

// onRetry is the client's retry notice: the running progress counts it;
// without one it is said at debug, and at info at most once per
// progressEvery.
func (e *env) onRetry(r gce.Retry) {
	e.mu.Lock()
	p := e.prog
	e.mu.Unlock()
	if p != nil {
		p.retry(r)
		return
	}
	e.mu.Lock()
	e.retries++
	now := clock()
	say := e.global.level <= levelDebug || e.lastRetry.IsZero() || now.Sub(e.lastRetry) >= progressEvery
	if say {
		e.lastRetry = now
	}
	n := e.retries
	e.mu.Unlock()
	if say {
		e.info("%s", retryLine(r, n))
	}
}
