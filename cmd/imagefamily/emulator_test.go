package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildCLI builds the imagefamily binary into the test's own temporary
// directory, removed when the test ends: only a real process shows that main
// stops the emulator cleanly on SIGTERM. Each run builds its own binary, so
// go test -count=N runs the test N times alike; the build cache keeps every
// build after the first cheap.
func buildCLI(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "imagefamily")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// readEndpointLines reads the four KEY=VALUE lines the command starts with
// and returns the endpoint.
func readEndpointLines(t *testing.T, stdout io.Reader, stderr fmt.Stringer) string {
	t.Helper()
	lines := bufio.NewReader(stdout)
	var got []string
	for range 4 {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the endpoint lines: %v (stderr: %s)", err, stderr)
		}
		got = append(got, strings.TrimSuffix(line, "\n"))
	}
	port, ok := strings.CutPrefix(got[0], "IMAGEFAMILY_COMPUTE_ENDPOINT=http://127.0.0.1:")
	if !ok || port == "0" || port == "" {
		t.Fatalf("first line %q, want IMAGEFAMILY_COMPUTE_ENDPOINT=http://127.0.0.1:PORT", got[0])
	}
	base := strings.TrimPrefix(got[0], "IMAGEFAMILY_COMPUTE_ENDPOINT=")
	want := []string{
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=" + base + "/compute/v1/",
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
	}
	if strings.Join(got[1:], "\n") != strings.Join(want, "\n") {
		t.Errorf("gcloud lines:\n%s\nwant:\n%s", strings.Join(got[1:], "\n"), strings.Join(want, "\n"))
	}
	return base
}

func insertOne(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Post(base+"/compute/v1/projects/acme/global/images", "application/json",
		strings.NewReader(`{"name":"web-v1","rawDisk":{"source":"gs://b/o.tar.gz"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("images.insert: %s", resp.Status)
	}
}

func TestEmulatorBinaryPrintsItsEndpointServesAndStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildCLI(t)
	state := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(bin, "emulator", "--listen", "127.0.0.1:0", "--state", state, "--verbose")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	base := readEndpointLines(t, stdout, &stderr)
	insertOne(t, base)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want a clean exit (stderr: %s)", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the emulator did not stop on SIGTERM")
	}
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), `"web-v1"`) {
		t.Errorf("state file %q (%v) does not hold the inserted image", b, err)
	}
	if !strings.Contains(stderr.String(), "POST /compute/v1/projects/acme/global/images 200") {
		t.Errorf("--verbose log %q lacks the request", stderr.String())
	}
}

// SIGKILL gives the emulator no chance to write its state file: what it
// answered must be in the journal beside it, and the next start finds it.
func TestEmulatorBinaryKilledWithSIGKILLKeepsWhatItAnswered(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildCLI(t)
	state := filepath.Join(t.TempDir(), "state.json")
	startOne := func() (*exec.Cmd, string) {
		cmd := exec.Command(bin, "emulator", "--listen", "127.0.0.1:0", "--state", state)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, readEndpointLines(t, stdout, &stderr)
	}
	cmd, base := startOne()
	insertOne(t, base)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, base = startOne()
	resp, err := http.Get(base + "/compute/v1/projects/acme/global/images/web-v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("images.get web-v1 after SIGKILL and a restart: %s, want 200", resp.Status)
	}
}

func TestEmulatorCommandStopsWhenItsContextEnds(t *testing.T) {
	stdoutR, stdoutW := io.Pipe()
	var stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"emulator", "--listen", "127.0.0.1:0"}, stdoutW, &stderr, func(string) string { return "" })
		stdoutW.Close()
	}()
	base := readEndpointLines(t, stdoutR, &stderr)
	insertOne(t, base)
	cancel()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Errorf("exit %d, want 0 (stderr: %s)", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the emulator did not stop")
	}
	if _, err := http.Get(base + "/compute/v1/projects/acme/global/images"); err == nil {
		t.Error("still serving after its context ended")
	}
	if stderr.String() != "" {
		t.Errorf("stderr %q without --verbose, want nothing", stderr.String())
	}
}

func TestEmulatorCommandRejectsBadFlagsInOneLine(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		names string
	}{
		{[]string{"--latency", "soon"}, "latency"},
		{[]string{"--op-latency", "-1s"}, "--op-latency"},
		{[]string{"--seed", "x"}, "seed"},
		{[]string{"--undeprecate", "sometimes"}, "--undeprecate"},
		{[]string{"--faults", "images.get=teapot:0.1"}, "--faults"},
		{[]string{"--faults", "images.get=503"}, "--faults"},
		{[]string{"--listen", "not-an-address"}, "--listen"},
		{[]string{"--colour"}, "colour"},
		{[]string{"serve"}, `"serve"`},
		{[]string{"--state", "/dev/null/state.json"}, "--state"},
		{[]string{"--read-lag", "-2s"}, "--read-lag"},
		{[]string{"--quota", "writes=20"}, "--quota"},
		{[]string{"--quota", "teapots=1/s"}, "--quota"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a command that got past its flags would stop at once
			code := emulatorCommand(ctx, tc.args, &stdout, &stderr)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d (stderr %q)", code, exitUsage, stderr.String())
			}
			msg := stderr.String()
			if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.names) || !strings.HasPrefix(msg, "imagefamily emulator: ") {
				t.Errorf("stderr %q: want one line naming %s", msg, tc.names)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestEmulatorCommandHelpExitsZero(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := emulatorCommand(context.Background(), []string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stdout.String(), "--undeprecate") || stderr.Len() != 0 {
		t.Errorf("usage %q (stderr %q): want the flags on stdout", stdout.String(), stderr.String())
	}
}

// TestEmulatorHelpNamesEveryFaultKind: --help lists every kind --faults
// accepts (emulator.FaultKinds, which the parser's own test keeps complete),
// and the example it shows is a spec the command accepts.
func TestEmulatorHelpNamesEveryFaultKind(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := emulatorCommand(context.Background(), []string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	help := stdout.String()
	if len(emulator.FaultKinds) < 4 {
		t.Fatalf("emulator.FaultKinds = %v: want STATUS, reset, fail and slow:D at least", emulator.FaultKinds)
	}
	var examples []string
	for _, k := range emulator.FaultKinds {
		if !strings.Contains(help, " "+k.Syntax+" ") || !strings.Contains(help, k.Does) {
			t.Errorf("--help does not list fault kind %s (%s):\n%s", k.Syntax, k.Does, help)
		}
		examples = append(examples, k.Example)
	}
	spec := strings.Join(examples, ",")
	if !strings.Contains(help, "e.g. "+spec+"\n") {
		t.Errorf("--help lacks the example spec %s:\n%s", spec, help)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // past its flags, the command serves until ctx is done: at once
	stdout.Reset()
	if code := emulatorCommand(ctx, []string{"--listen", "127.0.0.1:0", "--faults", spec}, &stdout, &stderr); code != exitOK {
		t.Errorf("--faults %s: exit %d (stderr %q), want the example accepted", spec, code, stderr.String())
	}
}

// TestEmulatorHelpNamesEveryQuotaGroup: --help lists every group --quota
// accepts, and its example is a spec the command accepts.
func TestEmulatorHelpNamesEveryQuotaGroup(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := emulatorCommand(context.Background(), []string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	help := stdout.String()
	flat := strings.Join(strings.Fields(help), " ") // the list is wrapped to 80 columns
	for _, g := range emulator.QuotaGroups {
		if !strings.Contains(help, " "+g.Name+" ") || !strings.Contains(flat, g.Methods) {
			t.Errorf("--help does not list quota group %s (%s):\n%s", g.Name, g.Methods, help)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stdout.Reset()
	const example = "writes=20/s,reads=1500/min"
	if !strings.Contains(help, "e.g. "+example+"\n") {
		t.Errorf("--help lacks the example %s", example)
	}
	if code := emulatorCommand(ctx, []string{"--listen", "127.0.0.1:0", "--quota", example, "--read-lag", "2s"}, &stdout, &stderr); code != exitOK {
		t.Errorf("--quota %s --read-lag 2s: exit %d (stderr %q)", example, code, stderr.String())
	}
}
