package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// TestANightlyRebuildThatChangedNothingReleasesNothing runs two real packer
// builds with a content manifest written by the build (a shell-local
// provisioner standing for a file provisioner that downloads the package
// list). Built with the head's packages, the build succeeds, says
// "unchanged: same content as HEAD", deletes its image and leaves the
// family and its warm rollback target alone; built with one package more,
// it is released with the new digest.
func TestANightlyRebuildThatChangedNothingReleasesNothing(t *testing.T) {
	env := packerEnv(t)
	const packages = "nginx 1.26.0-1\nopenssl 3.0.15-1\n"
	for _, tc := range []struct {
		name, image, packages string
		unchanged             bool
	}{
		{"the head's packages: nothing released", "debian-12-nginx-1-26-v20261126t080000", packages, true},
		{"a package more: released", "debian-12-nginx-1-26-v20261126t090000", packages + "curl 8.5.0-2\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := emulatortest.Start(t, emulatorOptions(t))
			for _, img := range []*computepb.Image{
				{Name: proto.String("base-v1"), Family: proto.String("base-debian-12"), DiskSizeGb: proto.Int64(10), CreationTimestamp: proto.String("2026-11-01T00:00:00.000Z")},
				{Name: proto.String("app-v0"), Family: proto.String("app-nginx"), DiskSizeGb: proto.Int64(10), CreationTimestamp: proto.String("2026-11-01T00:00:00.000Z")},
				{Name: proto.String("app-v1"), Family: proto.String("app-nginx"), DiskSizeGb: proto.Int64(10), CreationTimestamp: proto.String("2026-11-02T00:00:00.000Z"),
					Labels: map[string]string{lifecycle.LabelContentDigest: lifecycle.ContentDigest([]byte(packages)),
						lifecycle.LabelParentImage: "base-v1", lifecycle.LabelParentProject: project,
						lifecycle.LabelOS: "debian-12", lifecycle.LabelSoftware: "nginx", lifecycle.LabelVersion: "1-26"}},
			} {
				if err := emu.Server.PutImage(project, img); err != nil {
					t.Fatal(err)
				}
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "packages.expected"), []byte(tc.packages), 0o644); err != nil {
				t.Fatal(err)
			}
			report := filepath.Join(dir, "release.json")
			packerrun.WriteTemplate(t, dir, packerrun.GoogleComputeApp(emu.ComputeEndpoint(), tc.image)+fmt.Sprintf(`
build {
  sources = ["source.googlecompute.app"]
  provisioner "shell-local" {
    inline = ["cp packages.expected packages.txt"]
  }
  post-processor "imagefamily-release" {
    project_id       = "acme-images"
    family           = "app-nginx"
    content_manifest = "packages.txt"
    naming {
      os       = "debian-12"
      software = "nginx"
      version  = "1.26"
    }
    rotation {
      keep_active = 1
      min_age     = "0s"
    }
    report_file      = %q
    custom_endpoints = { compute = %q }
  }
}
`, report, emu.ComputeEndpoint()))
			stdout, stderr, err := packerrun.Run(t, env, dir, "build", "-color=false", ".")
			if err != nil {
				t.Fatalf("packer build: %v\n%s\n%s", err, stdout, stderr)
			}
			t.Logf("packer build:\n%s", stdout)
			said := strings.Contains(stdout, "unchanged: same content as HEAD app-v1")
			if said != tc.unchanged {
				t.Errorf("says unchanged: %v, want %v:\n%s", said, tc.unchanged, stdout)
			}
			out := readOutcome(t, report)
			digest := lifecycle.ContentDigest([]byte(tc.packages))
			if out.Unchanged != tc.unchanged || out.Released == tc.unchanged || out.ContentDigest != digest || out.BuiltDeleted != tc.unchanged {
				t.Errorf("report: unchanged %v released %v deleted %v digest %q", out.Unchanged, out.Released, out.BuiltDeleted, out.ContentDigest)
			}
			c := computeClient(t, emu.ComputeEndpoint())
			ctx := context.Background()
			head, err := c.GetFromFamily(ctx, project, "app-nginx")
			if err != nil {
				t.Fatal(err)
			}
			built, berr := c.GetImage(ctx, project, tc.image)
			older, oerr := c.GetImage(ctx, project, "app-v0")
			if oerr != nil {
				t.Fatal(oerr)
			}
			if tc.unchanged {
				if head.Name != "app-v1" || !isNotFound(berr) || older.State() != lifecycle.StateActive {
					t.Errorf("head %s, built image %v, app-v0 %s: want app-v1, the built image deleted, nothing rotated", head.Name, berr, older.State())
				}
				return
			}
			if head.Name != tc.image || berr != nil || built.Labels[lifecycle.LabelContentDigest] != digest || older.State() != lifecycle.StateDeprecated {
				t.Errorf("head %s (digest %q), app-v0 %s: want %s with %s, app-v0 rotated", head.Name, built.Labels[lifecycle.LabelContentDigest], older.State(), tc.image, digest)
			}
		})
	}
}
