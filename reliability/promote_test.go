package reliability

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

const promoteTemplate = `
source "imagefamily-promote" "prod" {
  source_image      = "projects/acme-images/global/images/app-v1"
  project_id        = "acme-prod"
  image_name        = "app-v1-prod"
  family            = "app"
  labels            = { env = "prod" }
  custom_endpoints  = { compute = "%s" }
}
build {
  sources = ["source.imagefamily-promote.prod"]
}
`

// TestPromoteUnderLostResponses runs the promote builder (real packer) while
// the emulator loses the answers of applied mutations and fails inserts and
// reads: a retried insert must never make a second image, and a build that
// succeeds made exactly its image. A build whose insert was applied is a
// success even when every answer was lost (gce finds the operation by its
// requestId); only when that lookup fails too may a failed build leave its
// image, and it must say so: counted as a note, not a violation.
func TestPromoteUnderLostResponses(t *testing.T) {
	t.Parallel()
	env := packerEnv(t)
	n := pick(3, 10)
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprintf("seed%d", i), func(t *testing.T) {
			t.Parallel()
			stats.scenario(t)
			faults, err := emulator.ParseFaults("images.insert=503:0.3,images.get=503:0.2,*=reset:0.05,operations=fail:0.1")
			if err != nil {
				t.Fatal(err)
			}
			e := startEmu(t, emulator.Options{Faults: faults, Seed: int64(i)}, 0.5)
			if err := e.srv.PutImage(project, &computepb.Image{Name: proto.String("app-v1"), Family: proto.String("app"), DiskSizeGb: proto.Int64(10)}); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			packerrun.WriteTemplate(t, dir, fmt.Sprintf(promoteTemplate, e.URL+"/compute/v1/"))
			stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", ".")
			stats.run("packer build")
			st, serr := e.srv.SnapshotState()
			if serr != nil {
				t.Fatal(serr)
			}
			var names []string
			for _, raw := range st.Projects["acme-prod"].Images {
				var img computepb.Image
				if err := protojson.Unmarshal(raw, &img); err != nil {
					t.Fatal(err)
				}
				names = append(names, img.GetName())
			}
			v := &violations{t: t, what: fmt.Sprintf("promote seed %d", i)}
			defer v.done()
			switch {
			case len(names) > 1:
				v.add("one promote made %d images: %v", len(names), names)
			case err == nil && (len(names) != 1 || names[0] != "app-v1-prod"):
				v.add("the build succeeded, but acme-prod holds %v", names)
			}
			outcome := "succeeded"
			if err != nil {
				outcome = "failed (" + lastLines(stdout+stderr, 1) + ")"
				switch {
				case len(names) == 1 && strings.Contains(stdout+stderr, "may have been applied all the same"):
					// The insert's answers were lost until the attempts ran
					// out, and so was the lookup of its operation: the
					// build cannot know, and says so.
					stats.note(fmt.Sprintf("promote: a failed build left %s in acme-prod, saying it may have been applied (%s)", names[0], lastLines(stdout+stderr, 1)))
				case len(names) == 1:
					// gce looks an unanswered insert's operation up by its
					// requestId before it gives up, so an applied insert
					// is a success, not a failed build's leftover.
					v.add("the build failed (%s), but its image %s is in acme-prod and the build did not say it may have been applied", lastLines(stdout+stderr, 1), names[0])
				}
			}
			t.Logf("seed %d: the build %s; acme-prod holds %v; %d responses lost", i, outcome, names, e.lost)
		})
	}
}
