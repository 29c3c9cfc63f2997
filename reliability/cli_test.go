package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
)

// cliRun is one run of the imagefamily binary.
type cliRun struct {
	args           []string
	stdout, stderr string
	code           int
	start, end     time.Time
}

func (r cliRun) String() string {
	return fmt.Sprintf("imagefamily %s: exit %d\nstderr:\n%s\nstdout:\n%s", strings.Join(r.args, " "), r.code, r.stderr, r.stdout)
}

// cliEnv is the environment of a CLI run against e: the caller's, without
// anything that could reach a real project.
func cliEnv(e *emu) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GOOGLE_") || strings.HasPrefix(name, "CLOUDSDK_") || strings.HasPrefix(name, "IMAGEFAMILY_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "IMAGEFAMILY_COMPUTE_ENDPOINT="+e.URL)
}

// runCLI runs the built imagefamily binary against e.
func runCLI(t testing.TB, e *emu, args ...string) cliRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gobuild.CLI(t), args...)
	cmd.Env = cliEnv(e)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	r := cliRun{args: args, start: time.Now()}
	err := cmd.Run()
	r.end = time.Now()
	r.stdout, r.stderr = out.String(), errOut.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("imagefamily %s: %v", strings.Join(args, " "), err)
	}
	stats.run("imagefamily " + args[0])
	return r
}

// rotateOut is the part of `imagefamily rotate --format json` the tests read.
type rotateOut struct {
	At       time.Time `json:"at"`
	Families []struct {
		Family  string `json:"family"`
		Head    string `json:"head"`
		Results []struct {
			Image  string `json:"image"`
			Action string `json:"action"`
			Error  string `json:"error"`
		} `json:"results"`
	} `json:"families"`
	Errors []struct {
		Family string `json:"family"`
		Error  string `json:"error"`
	} `json:"errors"`
	Summary struct {
		Families, Actions, Done, Failed int
	} `json:"summary"`
}

func parseRotate(t testing.TB, r cliRun) rotateOut {
	t.Helper()
	var out rotateOut
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("rotate output is not JSON (%v): %s", err, r)
	}
	return out
}

// leaseTTL is the lease lifetime of the runs here: a killed run's lease
// blocks the next run this long at most (5 minutes by default).
const leaseTTL = "2s"

// rotateArgs are the arguments of a rotation of the fixture's families.
func rotateArgs(f fixture, extra ...string) []string {
	args := []string{"rotate", "--project", project, "--format", "json", "--lease-ttl", leaseTTL}
	for _, fam := range f.families {
		args = append(args, "--family", fam)
	}
	args = append(args, policyFlags(f.policy)...)
	return append(args, extra...)
}

// nextSecond waits until the wall clock is past the second in which after
// fell. The rotator moves an image one step per run and marks a moved image
// with the second of its run (imagefamily-rotated-at): a run in the same
// second leaves it alone, as a run a minute later would not. Cron runs are
// minutes apart; tests re-run at once, so they wait for the next second.
func nextSecond(after time.Time) {
	if d := time.Until(after.Truncate(time.Second).Add(time.Second + 5*time.Millisecond)); d > 0 {
		time.Sleep(d)
	}
}

// labelWriter is another client writing labels on a family's images while a
// run goes on: read, add one label, setLabels with the fingerprint read,
// again on 412; it retries faults itself. acked holds every label it knows
// is written (the write answered, or a read showed it).
type labelWriter struct {
	c      *compute.ImagesClient
	names  []string
	rng    *rand.Rand
	mu     sync.Mutex
	acked  map[string]map[string]string
	writes int
	seq    int
}

func newLabelWriter(c *compute.ImagesClient, names []string, seed int64, prefix int) *labelWriter {
	return &labelWriter{c: c, names: names, rng: rand.New(rand.NewSource(seed)), acked: map[string]map[string]string{}, seq: prefix * 1000}
}

// run writes until ctx ends, and returns when it has.
func (w *labelWriter) run(ctx context.Context) {
	for ctx.Err() == nil && len(w.names) > 0 {
		w.seq++
		name := w.names[w.rng.Intn(len(w.names))]
		key, val := fmt.Sprintf("%s%d", writerPrefix, w.seq), fmt.Sprintf("v%d", w.seq)
		if w.write(ctx, name, key, val) {
			w.mu.Lock()
			if w.acked[name] == nil {
				w.acked[name] = map[string]string{}
			}
			w.acked[name][key] = val
			w.writes++
			w.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(15 * time.Millisecond):
		}
	}
}

// write adds key=val to name; true when it is known written.
func (w *labelWriter) write(ctx context.Context, name, key, val string) bool {
	for attempt := 0; attempt < 20; attempt++ {
		// The last attempts run past ctx's end: a write whose answer was
		// lost must be confirmed by a read, or it is not acknowledged.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		img, err := w.c.Get(actx, &computepb.GetImageRequest{Project: project, Image: name})
		if err != nil {
			cancel()
			if code(err) == 404 {
				return false
			}
			continue
		}
		if img.GetLabels()[key] == val {
			cancel()
			return true
		}
		if ctx.Err() != nil {
			cancel()
			return false
		}
		labels := maps.Clone(img.GetLabels())
		if labels == nil {
			labels = map[string]string{}
		}
		labels[key] = val
		op, err := w.c.SetLabels(actx, &computepb.SetLabelsImageRequest{Project: project, Resource: name,
			GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{Labels: labels, LabelFingerprint: img.LabelFingerprint}})
		if err == nil {
			err = op.Wait(actx)
			if err == nil && op.Proto().GetError() != nil {
				err = errors.New("operation failed")
			}
		}
		cancel()
		if err == nil {
			return true
		}
	}
	return false
}

func (w *labelWriter) result() (map[string]map[string]string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]map[string]string{}
	for k, v := range w.acked {
		out[k] = maps.Clone(v)
	}
	return out, w.writes
}

func code(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// familyImages lists the names of the images in families.
func (w world) familyImages(families ...string) []string {
	var out []string
	for name, img := range w.images {
		for _, f := range families {
			if img.Family == f {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}
