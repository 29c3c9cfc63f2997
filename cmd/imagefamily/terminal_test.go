package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
)

// terminal is a tmux server of the test's own (its socket in a temporary
// directory) running the built CLI in a real terminal of 100 columns.
type terminal struct {
	t    *testing.T
	sock string
	dir  string
	bin  string
}

func newTerminal(t *testing.T) *terminal {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is needed to drive the CLI in a real terminal (make tmux installs it): %v", err)
	}
	dir, err := os.MkdirTemp("", "if-tmux-") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{t: t, sock: filepath.Join(dir, "s"), dir: dir, bin: gobuild.CLI(t)}
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-S", term.sock, "kill-server").Run()
		_ = os.RemoveAll(dir)
	})
	// A session that stays keeps the server up between the runs: the
	// server exits with its last session, and a run started while it exits
	// would find it gone.
	term.tmux("new-session", "-d", "-s", "keep", "-x", "20", "-y", "2", "cat")
	return term
}

func (term *terminal) tmux(args ...string) string {
	term.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", term.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		term.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pane is what a window's terminal shows, as it is written.
type pane struct {
	name   string
	chunks chan []byte
	seen   bytes.Buffer
}

// run starts the CLI with args in a new window of the terminal, its output
// piped (pipe-pane) into a FIFO the test reads: the test waits on what the
// terminal is written, never for a time.
func (term *terminal) run(name, endpoint string, args ...string) *pane {
	term.t.Helper()
	return term.runWide(name, endpoint, 100, args...)
}

// runWide is run in a terminal of cols columns.
func (term *terminal) runWide(name, endpoint string, cols int, args ...string) *pane {
	term.t.Helper()
	fifo := filepath.Join(term.dir, name)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		term.t.Fatal(err)
	}
	p := &pane{name: name, chunks: make(chan []byte, 64)}
	go func() {
		defer close(p.chunks)
		f, err := os.Open(fifo) // until pipe-pane opens it to write
		if err != nil {
			return
		}
		defer f.Close()
		for {
			b := make([]byte, 4096)
			n, err := f.Read(b)
			if n > 0 {
				p.chunks <- b[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	// The command waits for a line on its terminal, so that nothing is
	// written before pipe-pane is in place.
	command := "read go; exec " + term.bin + " " + strings.Join(args, " ")
	term.tmux("new-session", "-d", "-s", name, "-x", fmt.Sprint(cols), "-y", "20", "-e", endpointEnv+"="+endpoint, "-e", "TERM=xterm-256color", "sh", "-c", command)
	term.tmux("pipe-pane", "-t", name, "cat >> "+fifo)
	term.tmux("send-keys", "-t", name, "Enter")
	return p
}

// until reads the pane's output until ok holds of everything it was
// written, failing the test after a minute.
func (p *pane) until(t *testing.T, what string, ok func(string) bool) string {
	t.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for !ok(p.seen.String()) {
		select {
		case b, more := <-p.chunks:
			if !more {
				t.Fatalf("%s: the terminal closed before %s; it was written:\n%q", p.name, what, p.seen.String())
			}
			p.seen.Write(b)
		case <-timeout.C:
			t.Fatalf("%s: no %s in a minute; the terminal was written:\n%q", p.name, what, p.seen.String())
		}
	}
	return p.seen.String()
}

// closed reads the pane's output until the command has exited (the
// window closes, and pipe-pane's end of the FIFO with it).
func (p *pane) closed(t *testing.T) string {
	t.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		select {
		case b, more := <-p.chunks:
			if !more {
				return p.seen.String()
			}
			p.seen.Write(b)
		case <-timeout.C:
			t.Fatalf("%s: the command did not end in a minute; the terminal was written:\n%q", p.name, p.seen.String())
		}
	}
}

var progressLine = regexp.MustCompile(`rotate web: parallelism 1 +[0-9]+% \|[^|]*\| \(([0-9]+)/([0-9]+), `)

// TestInARealTerminal drives the built CLI in tmux: a rotation draws its
// live progress line (read while the emulator holds an action back, so that
// the line stands still), and a mistyped flag is answered with the closest.
func TestInARealTerminal(t *testing.T) {
	term := newTerminal(t)

	// Twelve images: ten are due for deprecation (keep_active 2).
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := &emulatortest.Env{Server: srv}
	for i := 0; i < 12; i++ {
		put(t, env, "acme-images", "web", fmt.Sprintf("web-v%02d", i), time.Duration(30-i)*day)
	}
	var deprecates atomic.Int32
	held, release := make(chan struct{}), make(chan struct{})
	gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/deprecate") && deprecates.Add(1) == 3 {
			close(held)
			<-release
		}
		srv.ServeHTTP(w, r)
	})
	ts := httptest.NewServer(gate)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { _ = srv.Close() })

	rot := term.run("rotate", ts.URL, "rotate", "--project", "acme-images", "--family", "web", "--parallelism", "1")
	<-held // two actions done, the third held back
	rot.until(t, "progress line", func(s string) bool { return progressLine.MatchString(s) })
	screen := term.tmux("capture-pane", "-p", "-t", "rotate")
	m := progressLine.FindStringSubmatch(screen)
	if m == nil || m[2] != "10" {
		t.Errorf("the terminal shows no progress line of 10 actions:\n%s", screen)
	}
	for i, line := range strings.Split(screen, "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("line %d is %d columns, over the terminal's 100: %q", i+1, n, line)
		}
	}
	close(release)
	out := rot.closed(t)
	if want := "imagefamily rotate: 1 family, 10 actions: 10 done, 0 skipped, 0 failed; 0 families not rotated"; !strings.Contains(out, want) {
		t.Errorf("the terminal was not written the summary %q:\n%q", want, out)
	}

	// A table follows the terminal's width: status of names of 39
	// characters in 80 columns drops AGE, in 120 keeps it.
	long := emu(t, emulator.Options{})
	longFamily(t, long)
	for _, cols := range []int{80, 120} {
		name := fmt.Sprintf("status%d", cols)
		out := term.runWide(name, long.URL, cols, "status", "--project", "acme-images", "--family", "web").closed(t)
		if got := strings.Contains(out, " AGE "); got != (cols == 120) {
			t.Errorf("%d columns: AGE shown %t, want %t:\n%s", cols, got, cols == 120, out)
		}
		for i, line := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
			if n := len([]rune(line)); n > cols {
				t.Errorf("%d columns: line %d is %d columns: %q", cols, i+1, n, line)
			}
		}
	}

	typo := term.run("typo", ts.URL, "rotate", "--project", "acme-images", "--family", "web", "--dry-rn")
	out = typo.closed(t)
	if want := "imagefamily rotate: unknown flag --dry-rn: did you mean --dry-run? (run imagefamily rotate --help)"; !strings.Contains(out, want) {
		t.Errorf("the terminal was not written %q:\n%q", want, out)
	}
}
