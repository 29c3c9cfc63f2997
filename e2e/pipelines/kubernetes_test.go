package pipelines_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gobuild"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
	"github.com/immutable-infra/packer-plugin-imagefamily/version"
)

// manifests are the objects of example/ci/kubernetes/rotate-cronjob.yaml,
// each decoded strictly as its Kubernetes type: a field the API does not
// have, or a value of the wrong type, fails the test as kubectl apply
// --validate=strict would fail.
type manifests struct {
	serviceAccount *corev1.ServiceAccount
	claim          *corev1.PersistentVolumeClaim
	cronJob        *batchv1.CronJob
}

func readManifests(t *testing.T) manifests {
	t.Helper()
	path := filepath.Join(modroot.Dir(t), "example", "ci", "kubernetes", "rotate-cronjob.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m manifests
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s, document %d: %v", path, i+1, err)
		}
		var obj any
		switch meta.APIVersion + " " + meta.Kind {
		case "v1 ServiceAccount":
			m.serviceAccount = &corev1.ServiceAccount{}
			obj = m.serviceAccount
		case "v1 PersistentVolumeClaim":
			m.claim = &corev1.PersistentVolumeClaim{}
			obj = m.claim
		case "batch/v1 CronJob":
			m.cronJob = &batchv1.CronJob{}
			obj = m.cronJob
		default:
			t.Fatalf("%s, document %d: unexpected %s %s", path, i+1, meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s, document %d (%s): %v", path, i+1, meta.Kind, err)
		}
	}
	if m.serviceAccount == nil || m.claim == nil || m.cronJob == nil {
		t.Fatalf("%s should hold a ServiceAccount, a PersistentVolumeClaim and a CronJob", path)
	}
	return m
}

func TestKubernetesCronJobIsAValidNonRootNightlyRotation(t *testing.T) {
	m := readManifests(t)
	cj := m.cronJob
	if _, err := cron.ParseStandard(cj.Spec.Schedule); err != nil {
		t.Errorf("schedule %q: %v", cj.Spec.Schedule, err)
	}
	if tz := cj.Spec.TimeZone; tz == nil {
		t.Error("no timeZone: the schedule would follow the controller's")
	} else if _, err := time.LoadLocation(*tz); err != nil {
		t.Errorf("timeZone %q: %v", *tz, err)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrencyPolicy %q: two rotations of one project must not overlap", cj.Spec.ConcurrencyPolicy)
	}
	for _, o := range []struct{ name, namespace string }{
		{m.serviceAccount.Name, m.serviceAccount.Namespace}, {m.claim.Name, m.claim.Namespace},
	} {
		if o.namespace != cj.Namespace {
			t.Errorf("%s is in namespace %q, the CronJob in %q", o.name, o.namespace, cj.Namespace)
		}
	}

	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if pod.ServiceAccountName != m.serviceAccount.Name {
		t.Errorf("the pod runs as service account %q; the file defines %q", pod.ServiceAccountName, m.serviceAccount.Name)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy %q: a Job's pod must be Never or OnFailure", pod.RestartPolicy)
	}
	sc := pod.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Errorf("the pod must run as non-root 65532, the image's user (tools/container): %+v", sc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want the rotation alone", len(pod.Containers))
	}
	c := pod.Containers[0]
	if want := ":v" + version.Version; !strings.HasSuffix(c.Image, "/imagefamily"+want) {
		t.Errorf("image %q: want the imagefamily image of this release, tag v%s (version/version.go)", c.Image, version.Version)
	}
	if len(c.Command) != 0 {
		t.Errorf("command %q replaces the image's entrypoint, the CLI: give args only", c.Command)
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the container's root file system should be read-only: the CLI writes only its report")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{} // mount path -> volume
	for _, vm := range c.VolumeMounts {
		if _, ok := volumes[vm.Name]; !ok {
			t.Errorf("volume mount %s names no volume of the pod", vm.Name)
		}
		mounts[vm.MountPath] = vm.Name
	}
	if v, ok := volumes["reports"]; !ok || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != m.claim.Name {
		t.Errorf("the reports volume should be the claim %s: %+v", m.claim.Name, v)
	}

	// The report is written where a volume is mounted: the root file
	// system is read-only.
	var report string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--report="); ok {
			report = v
		}
	}
	if report == "" {
		t.Fatalf("args %q keep no --report", c.Args)
	}
	if _, ok := mounts[filepath.Dir(report)]; !ok {
		t.Errorf("--report=%s is not on a mounted volume (mounts: %v)", report, mounts)
	}
	if !slices.Contains(c.Args, "--all-families") || c.Args[0] != "rotate" {
		t.Errorf("args %q: want imagefamily rotate --all-families", c.Args)
	}
}

// The container's args, run as the image runs them (the CLI with exactly
// these arguments) against the emulator: every flag is one the CLI takes,
// and the run rotates and writes its report where the volume is.
func TestKubernetesCronJobArgumentsRunTheRotation(t *testing.T) {
	m := readManifests(t)
	c := m.cronJob.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	project := ""
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--project="); ok {
			project = v
		}
	}
	emu := emulatortest.Start(t, emulator.Options{})
	for i, name := range []string{"web-v1", "web-v2", "web-v3"} {
		// Old enough for --min-age: created two days ago, a day apart.
		created := time.Now().Add(-time.Duration(48-i) * time.Hour).UTC().Format(time.RFC3339)
		if err := emu.Server.PutImage(project, &computepb.Image{Name: proto.String(name), Family: proto.String("web"),
			CreationTimestamp: proto.String(created), RawDisk: &computepb.RawDisk{Source: proto.String("https://storage.googleapis.com/x/d.tar.gz")}}); err != nil {
			t.Fatal(err)
		}
	}

	// The volumes, as directories.
	reports := t.TempDir()
	var args []string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--report=/reports/"); ok {
			a = "--report=" + filepath.Join(reports, v)
		}
		args = append(args, a)
	}
	cmd := exec.Command(gobuild.CLI(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "IMAGEFAMILY_COMPUTE_ENDPOINT="+emu.URL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("imagefamily %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	var out, saved rotateReport
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("--format=json: %v\n%s", err, stdout.String())
	}
	files, err := filepath.Glob(filepath.Join(reports, "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("the reports volume holds %v (%v), want the one --report", files, err)
	}
	saved = readReport(t, files[0])
	// keep_active 2 of three images: the oldest is deprecated.
	if out.Project != project || out.Summary.Families != 1 || out.Summary.Done != 1 || out.Summary.Failed != 0 {
		t.Errorf("the rotation: %+v; want project %s, 1 family, 1 action done", out.Summary, project)
	}
	if saved.Summary != out.Summary || saved.Project != out.Project {
		t.Errorf("the report on the volume (%+v) is not what the job logged (%+v)", saved.Summary, out.Summary)
	}
}
