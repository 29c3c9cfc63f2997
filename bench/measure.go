package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Peak memory is the measured process's rusage maxrss, read by a small
// launcher rather than by the harness itself. Linux records in a process's
// maxrss the high-water RSS of the memory it had before exec; Go starts
// children with vfork, so that is the parent's memory: a harness holding
// an emulator with 10,000 images would report its own size as the CLI's.
// The launcher is this very binary, re-executed before it has done
// anything (a few MiB): it runs the command, waits, and writes the child's
// maxrss and wall time to its standard error's last line.

const launcherEnv = "IMAGEFAMILY_BENCH_LAUNCHER"

var launcherReady bool

// Main must be called first in main and TestMain of every program that runs
// RunRotate: in the re-executed launcher it runs the measured command and
// exits; otherwise it returns at once.
func Main() {
	launcherReady = true
	if os.Getenv(launcherEnv) == "" {
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "bench launcher: no command")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // the harness was stopped
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, launcherEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var maxrss int64
	var cpu time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru != nil {
		maxrss = ru.Maxrss * 1024 // KiB on Linux
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	fmt.Fprintf(os.Stderr, "\n%s maxrss=%d wall=%d cpu=%d\n", launcherEnv, maxrss, wall.Nanoseconds(), cpu.Nanoseconds())
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	case err != nil:
		fmt.Fprintf(os.Stderr, "bench launcher: %v\n", err)
		os.Exit(127)
	}
	os.Exit(0)
}

// measured is a command to run through the launcher.
func measured(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	if !launcherReady {
		return nil, errors.New("bench.Main was not called first in main or TestMain: peak memory cannot be measured")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), launcherEnv+"=1")
	return cmd, nil
}

// launcherFigures reads the launcher's last stderr line and returns the
// rest of stderr.
func launcherFigures(stderr string) (maxrss int64, wall, cpu time.Duration, rest string, err error) {
	i := strings.LastIndex(stderr, "\n"+launcherEnv+" ")
	if i < 0 {
		return 0, 0, 0, stderr, fmt.Errorf("the launcher reported no figures:\n%s", stderr)
	}
	rest = stderr[:i]
	for _, f := range strings.Fields(stderr[i+1+len(launcherEnv):]) {
		k, v, _ := strings.Cut(f, "=")
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			return 0, 0, 0, rest, fmt.Errorf("launcher figure %q: %v", f, perr)
		}
		switch k {
		case "maxrss":
			maxrss = n
		case "wall":
			wall = time.Duration(n)
		case "cpu":
			cpu = time.Duration(n)
		}
	}
	return maxrss, wall, cpu, rest, nil
}
