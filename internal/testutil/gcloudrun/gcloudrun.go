// Package gcloudrun runs the real gcloud CLI against a Compute Engine
// endpoint (the emulator) in tests, with a configuration of its own and no
// credentials, as GCE-FACTS.md describes.
package gcloudrun

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Path returns gcloud's path, or fails the test when gcloud is not
// installed: `make test` runs the emulator's conformance against the real
// gcloud (README), and a skip would pass that check without making it.
func Path(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("gcloud")
	if err != nil {
		t.Fatalf("gcloudrun: gcloud is not on PATH (%v): install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install); "+
			"the conformance tests run it against the emulator", err)
	}
	return p
}

// Env is the environment for gcloud calls against endpoint (a compute URL
// such as http://127.0.0.1:PORT/compute/v1/; the trailing slash is added when
// missing, as gcloud requires it) with project as the default project and
// configDir as its private configuration directory. The parent's CLOUDSDK_*
// and Google credential settings are dropped.
func Env(endpoint, project, configDir string) []string {
	if !strings.HasSuffix(endpoint, "/") {
		endpoint += "/"
	}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CLOUDSDK_") || strings.HasPrefix(name, "GOOGLE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"CLOUDSDK_CONFIG="+configDir,
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true",
		"CLOUDSDK_CORE_PROJECT="+project,
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="+endpoint,
		// Keep gcloud off the network: no usage reports, no update checks.
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true",
		"CLOUDSDK_CORE_CHECK_GCE_METADATA=false",
	)
}

// Timeout bounds one gcloud call.
const Timeout = 2 * time.Minute

// Run runs gcloud with args in env and returns what it printed; err is
// non-nil when it exits non-zero. Each call is logged with its duration
// (about a second of CPU each: keep their number modest).
func Run(t testing.TB, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	path := Path(t)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	t.Logf("gcloudrun: gcloud %s (%s, exit %d)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), cmd.ProcessState.ExitCode())
	return out.String(), errOut.String(), err
}
