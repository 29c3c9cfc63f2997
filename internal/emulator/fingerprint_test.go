package emulator_test

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/gcloudrun"
)

// urlSafe is a fingerprint as gcloud (apitools) sends it back.
func urlSafe(fp string) string { return strings.NewReplacer("+", "-", "/", "_").Replace(fp) }

// imagesWithAwkwardFingerprints stores images until n of them have a label
// fingerprint holding '+' or '/', the characters the two base64 alphabets
// spell differently, and returns their names.
func imagesWithAwkwardFingerprints(t *testing.T, srv *emulator.Server, c *clients, n int) []string {
	t.Helper()
	var out []string
	for i := 0; len(out) < n; i++ {
		if i > 200 {
			t.Fatalf("no %d label sets with '+' or '/' in their fingerprint among 200", n)
		}
		name := fmt.Sprintf("img-%d", i)
		if err := srv.PutImage(proj, &computepb.Image{Name: proto.String(name), Labels: map[string]string{"k": fmt.Sprintf("v%d", i)}}); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(c.mustGet(t, name).GetLabelFingerprint(), "+/") {
			out = append(out, name)
		}
	}
	return out
}

func TestSetLabelsComparesFingerprintsByTheBytesTheyEncode(t *testing.T) {
	c := start(t, emulator.Options{})
	name := imagesWithAwkwardFingerprints(t, c.env.Server, c, 1)[0]
	fp := c.mustGet(t, name).GetLabelFingerprint()
	for _, tc := range []struct {
		name, sent string
		ok         bool
	}{
		{"URLSafeAlphabetAsGcloudSendsIt", urlSafe(fp), true},
		{"URLSafeWithoutPadding", strings.TrimRight(urlSafe(fp), "="), true},
		{"StandardAlphabet", fp, true},
		{"OtherBytes", "42WmSpB8rSM=", false},
		{"NotBase64", "not a fingerprint", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op, err := c.images.SetLabels(ctxT(t), &computepb.SetLabelsImageRequest{Project: proj, Resource: name,
				GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: proto.String(tc.sent),
					Labels: c.mustGet(t, name).GetLabels()}})
			if !tc.ok {
				wantAPIErr(t, err, 412, "conditionNotMet")
				return
			}
			if err != nil {
				t.Fatalf("setLabels with fingerprint %q (stored %q): %v", tc.sent, fp, err)
			}
			if err := op.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// gcloud compute images add-labels and remove-labels read the image, then
// send its fingerprint back URL-safe: every image here has a '+' or a '/'
// in its fingerprint.
func TestGcloudAddAndRemoveLabelsWhateverTheFingerprint(t *testing.T) {
	gcloudrun.Path(t)
	c := start(t, emulator.Options{})
	env := gcloudrun.Env(c.env.ComputeEndpoint(), proj, t.TempDir())
	for _, name := range imagesWithAwkwardFingerprints(t, c.env.Server, c, 2) {
		if _, errOut, err := gcloudrun.Run(t, env, "compute", "images", "add-labels", name, "--labels=x=y"); err != nil {
			t.Fatalf("add-labels %s: %v\n%s", name, err, errOut)
		}
		if got := c.mustGet(t, name).GetLabels()["x"]; got != "y" {
			t.Fatalf("%s: label x = %q after add-labels, want y", name, got)
		}
		if _, errOut, err := gcloudrun.Run(t, env, "compute", "images", "remove-labels", name, "--labels=k"); err != nil {
			t.Fatalf("remove-labels %s: %v\n%s", name, err, errOut)
		}
		if _, ok := c.mustGet(t, name).GetLabels()["k"]; ok {
			t.Fatalf("%s: label k still there after remove-labels", name)
		}
	}
}
