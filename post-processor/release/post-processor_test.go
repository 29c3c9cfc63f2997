package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	packersdk "github.com/hashicorp/packer-plugin-sdk/packer"
	registryimage "github.com/hashicorp/packer-plugin-sdk/packer/registry/image"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// rpcArtifact answers State as an artifact does across the plugin RPC
// boundary: maps as map[interface{}]interface{}, numbers as int64.
type rpcArtifact struct {
	id, builderID string
	state         map[string]interface{}
	destroyed     bool
}

func (a *rpcArtifact) BuilderId() string                      { return a.builderID }
func (a *rpcArtifact) Files() []string                        { return nil }
func (a *rpcArtifact) Id() string                             { return a.id }
func (a *rpcArtifact) String() string                         { return a.id }
func (a *rpcArtifact) State(name string) interface{}          { return a.state[name] }
func (a *rpcArtifact) Destroy() error                         { a.destroyed = true; return nil }
func (a *rpcArtifact) withState(k string, v any) *rpcArtifact { a.state[k] = v; return a }

// googlecomputeArtifact is googlecompute v1.2.7's artifact as the
// post-processor sees it.
func googlecomputeArtifact(image, sourceImage, sourceProjects string) *rpcArtifact {
	labels := map[interface{}]interface{}{
		"self_link":    "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/" + image,
		"project_id":   "acme-images",
		"disk_size_gb": "10",
		"machine_type": "e2-standard-2",
	}
	if sourceProjects != "" {
		labels["source_image_project_ids"] = sourceProjects
	}
	return &rpcArtifact{id: image, builderID: "packer.googlecompute", state: map[string]interface{}{
		"ImageName":   image,
		"ImageSizeGb": int64(10),
		"ProjectId":   "acme-build",
		"BuildZone":   "us-central1-a",
		"generated_data": map[interface{}]interface{}{
			"SourceImageName": sourceImage,
			"PackerRunUUID":   "0b0e",
		},
		registryimage.ArtifactStateURI: map[interface{}]interface{}{
			"ImageID": image, "ProviderName": "gce", "ProviderRegion": "us-central1-a",
			"Labels": labels, "SourceImageID": sourceImage,
		},
	}}
}

func TestSourceOfDecodesArtifactsAcrossTheRPCBoundary(t *testing.T) {
	for _, tc := range []struct {
		name       string
		art        packersdk.Artifact
		want       built
		wantErr    string
		wantNoteIn string
	}{
		{
			name: "googlecompute with one source project",
			art:  googlecomputeArtifact("app-v2", "base-v1", "acme-base"),
			want: built{BuilderID: "packer.googlecompute", Image: "app-v2", Project: "acme-images",
				Parent: "projects/acme-base/global/images/base-v1", Zone: "us-central1-a"},
		},
		{
			name:       "googlecompute without source project",
			art:        googlecomputeArtifact("app-v2", "base-v1", ""),
			want:       built{BuilderID: "packer.googlecompute", Image: "app-v2", Project: "acme-images", Zone: "us-central1-a"},
			wantNoteIn: "without source_image_project_id",
		},
		{
			name:       "googlecompute with several source projects",
			art:        googlecomputeArtifact("app-v2", "base-v1", "a-project,b-project"),
			want:       built{BuilderID: "packer.googlecompute", Image: "app-v2", Project: "acme-images", Zone: "us-central1-a"},
			wantNoteIn: "several projects",
		},
		{
			name: "promote",
			art: (&rpcArtifact{id: "app-v2", builderID: PromoteBuilderID, state: map[string]interface{}{}}).
				withState("ImageName", "app-v2").withState("ProjectId", "acme-prod"),
			want:       built{BuilderID: PromoteBuilderID, Image: "app-v2", Project: "acme-prod"},
			wantNoteIn: "promoted",
		},
		{
			name:    "another builder",
			art:     &rpcArtifact{id: "ami-1", builderID: "mitchellh.amazonebs", state: map[string]interface{}{}},
			wantErr: `artifact of builder "mitchellh.amazonebs"`,
		},
		{
			name:    "state of the wrong shape",
			art:     googlecomputeArtifact("app-v2", "base-v1", "acme-base").withState("generated_data", []interface{}{int64(1)}),
			wantErr: "generated_data",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sourceOf(tc.art)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			note := got.ParentNote
			got.ParentNote = ""
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if !strings.Contains(note, tc.wantNoteIn) {
				t.Errorf("parent note %q lacks %q", note, tc.wantNoteIn)
			}
		})
	}
}

// ui records what Packer's UI is told.
type ui struct {
	packersdk.Ui
	out, errs bytes.Buffer
}

func (u *ui) Say(s string)     { u.out.WriteString(s + "\n") }
func (u *ui) Message(s string) { u.out.WriteString(s + "\n") }
func (u *ui) Error(s string)   { u.errs.WriteString(s + "\n") }

var now = time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)

func images(name string) []lifecycle.Image {
	return []lifecycle.Image{
		{Name: "base-v1", Project: "acme-base", Family: "base-debian-12", CreatedAt: now.Add(-48 * time.Hour), Status: "READY"},
		{Name: "app-v1", Project: "acme-images", Family: "app-nginx", CreatedAt: now.Add(-24 * time.Hour), Status: "READY"},
		{Name: name, Project: "acme-images", CreatedAt: now.Add(-time.Minute), Status: "READY"},
	}
}

func configured(t *testing.T, f gce.Compute, extra map[string]interface{}) *PostProcessor {
	t.Helper()
	p := &PostProcessor{newClient: func(context.Context, pluginconfig.Auth) (gce.Compute, error) { return f, nil }}
	raw := with(map[string]interface{}{
		"naming":   map[string]interface{}{"os": "debian-12", "software": "nginx", "version": "1.26"},
		"rotation": map[string]interface{}{"keep_active": 1, "min_age": "0s"},
	})
	for k, v := range extra {
		raw[k] = v
	}
	if err := p.Configure(raw); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodName = "debian-12-nginx-1-26-v20261126t064630"

// TestPostProcessKeepsTheImageAndFailsOnlyBeforeTheRelease checks the
// keep/destroy decision of every way PostProcess can end: keep and
// forceOverride on success (Packer keeps the image whatever
// keep_input_artifact says), an error (Packer then deletes the image) only
// while the family does not hold it.
func TestPostProcessKeepsTheImageAndFailsOnlyBeforeTheRelease(t *testing.T) {
	for _, tc := range []struct {
		name        string
		image       string
		art         func(image string) packersdk.Artifact
		extra       map[string]interface{}
		script      func(*gcetest.Fake)
		wantErr     string
		wantInFam   bool
		wantArtID   string
		wantErrText string
	}{
		{name: "released", image: goodName, wantInFam: true, wantArtID: goodName},
		{name: "name breaks the convention", image: "nginx-latest", wantErr: "does not follow the naming convention"},
		{name: "copied under the conventional name", image: "nginx-latest", extra: map[string]interface{}{"rename": "copy"},
			wantInFam: true, wantArtID: "debian-12-nginx-1-26-v20261126t064630"},
		{name: "labels refused", image: goodName, wantErr: "writing the labels", script: func(f *gcetest.Fake) {
			// The first label write is the family's lease, on its head.
			f.Fail("SetLabels", nil, &gce.Error{Kind: gce.ErrPermissionDenied, Code: 403, Message: "denied"})
		}},
		{name: "family move refused", image: goodName, wantErr: "moving the family", script: func(f *gcetest.Fake) {
			f.Fail("SetFamily", &gce.Error{Kind: gce.ErrPermissionDenied, Code: 403, Message: "denied"})
		}},
		{name: "rotation fails after the release", image: goodName, wantInFam: true, wantArtID: goodName,
			extra: map[string]interface{}{"fail_on_rotation_error": true}, wantErrText: "rotation actions failed",
			script: func(f *gcetest.Fake) {
				f.Fail("Deprecate", &gce.Error{Kind: gce.ErrInvalid, Code: 400, Message: "bad"})
			}},
		{name: "wrong project", image: goodName, extra: map[string]interface{}{"project_id": "acme-other"}, wantErr: "project_id is acme-other"},
		{name: "dry run", image: goodName, extra: map[string]interface{}{"dry_run": true}, wantArtID: goodName},
		{name: "dry run of a bad name", image: "nginx-latest", extra: map[string]interface{}{"dry_run": true}, wantArtID: "nginx-latest",
			wantErrText: "the release would fail"},
		{name: "foreign artifact", image: goodName, art: func(string) packersdk.Artifact {
			return &rpcArtifact{id: "x", builderID: "packer.docker", state: map[string]interface{}{}}
		}, wantErr: `"packer.docker"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := gcetest.New(images(tc.image)...)
			f.Now = func() time.Time { return now }
			if tc.script != nil {
				tc.script(f)
			}
			p := configured(t, f, tc.extra)
			var art packersdk.Artifact = googlecomputeArtifact(tc.image, "base-v1", "acme-base")
			if tc.art != nil {
				art = tc.art(tc.image)
			}
			u := &ui{}
			got, keep, force, err := p.PostProcess(context.Background(), u, art)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				for _, img := range []string{tc.image, goodName} {
					if cur, ok := f.Image("acme-images", img); ok && cur.Family == "app-nginx" {
						t.Errorf("an error with %s in the family: Packer would delete a released image", img)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("PostProcess: %v\n%s", err, u.errs.String())
			}
			if !keep || !force {
				t.Errorf("keep %v forceOverride %v, want both true", keep, force)
			}
			if got.Id() != tc.wantArtID || got.BuilderId() != BuilderID {
				t.Errorf("artifact %s/%s, want %s/%s", got.BuilderId(), got.Id(), BuilderID, tc.wantArtID)
			}
			cur, _ := f.Image("acme-images", tc.wantArtID)
			if (cur.Family == "app-nginx") != tc.wantInFam {
				t.Errorf("%s family %q, want in family %v", tc.wantArtID, cur.Family, tc.wantInFam)
			}
			if !strings.Contains(u.errs.String(), tc.wantErrText) {
				t.Errorf("UI errors lack %q:\n%s", tc.wantErrText, u.errs.String())
			}
			if err := got.Destroy(); err != nil {
				t.Errorf("Destroy: %v", err)
			}
			if _, ok := f.Image("acme-images", tc.wantArtID); !ok {
				t.Errorf("the artifact's Destroy deleted the released image")
			}
		})
	}
}

func TestArtifactStateAndReport(t *testing.T) {
	f := gcetest.New(images(goodName)...)
	f.Now = func() time.Time { return now }
	report := filepath.Join(t.TempDir(), "reports", "app.json")
	p := configured(t, f, map[string]interface{}{"report_file": report, "labels": map[string]string{"team": "web"}})
	u := &ui{}
	art, _, _, err := p.PostProcess(context.Background(), u, googlecomputeArtifact(goodName, "base-v1", "acme-base"))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]interface{}{
		"ImageName":    goodName,
		"SelfLink":     "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/" + goodName,
		"ProjectId":    "acme-images",
		"Family":       "app-nginx",
		"PreviousHead": "app-v1",
		"Head":         goodName,
		"Parent":       "projects/acme-base/global/images/base-v1",
		"Released":     true,
		"Plan":         "head " + goodName + ": deprecate 1; 1 untouched",
	} {
		if got := art.State(key); got != want {
			t.Errorf("State(%s) = %v, want %v", key, got, want)
		}
	}
	hcp, ok := art.State(registryimage.ArtifactStateURI).(*registryimage.Image)
	if !ok || hcp.ImageID != goodName || hcp.ProviderName != "gce" || hcp.SourceImageID != "projects/acme-base/global/images/base-v1" ||
		hcp.ProviderRegion != "us-central1-a" || hcp.Labels["family"] != "app-nginx" {
		t.Errorf("HCP metadata = %+v", art.State(registryimage.ArtifactStateURI))
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Image    string            `json:"image"`
		Released bool              `json:"released"`
		Labels   map[string]string `json:"labels"`
		Rotation struct {
			Results []struct {
				Image  string `json:"image"`
				Action string `json:"action"`
			} `json:"results"`
		} `json:"rotation"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Image != goodName || !got.Released || got.Labels["team"] != "web" || got.Labels[lifecycle.LabelParentFamily] != "base-debian-12" ||
		len(got.Rotation.Results) != 1 || got.Rotation.Results[0].Image != "app-v1" || got.Rotation.Results[0].Action != "deprecate" {
		t.Errorf("report = %s", b)
	}
	if !strings.Contains(u.out.String(), "Wrote the release report, with every rotation action and why, to "+report) {
		t.Errorf("output:\n%s", u.out.String())
	}
}

func TestPostProcessWritesTheReportOfAFailedRelease(t *testing.T) {
	f := gcetest.New(images("nginx-latest")...)
	report := filepath.Join(t.TempDir(), "release.json")
	p := configured(t, f, map[string]interface{}{"report_file": report})
	_, _, _, err := p.PostProcess(context.Background(), &ui{}, googlecomputeArtifact("nginx-latest", "base-v1", "acme-base"))
	if err == nil {
		t.Fatal("no error")
	}
	var got struct {
		Released bool   `json:"released"`
		Error    string `json:"error"`
	}
	b, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if jerr := json.Unmarshal(b, &got); jerr != nil || got.Released || !strings.Contains(got.Error, "does not follow the naming convention") {
		t.Errorf("report = %s (%v)", b, errors.Join(jerr))
	}
}

// TestAFailedReleaseKeepsAnImageAFamilyHolds pins what PostProcess returns
// when the release fails while the builder may have put the image in a family
// (googlecompute's image_family). Packer ignores keep and forceOverride when a
// post-processor returns an error and destroys the builder's artifact
// (packer/build.go, v1.14.3), so an image that a family holds is kept by
// returning no error, the failure reported as an error message and in the
// report; an image no family holds goes with an error that says so, and when
// whether a family holds it cannot be known, the error says that Packer
// deletes it.
func TestAFailedReleaseKeepsAnImageAFamilyHolds(t *testing.T) {
	noClient := func(context.Context, pluginconfig.Auth) (gce.Compute, error) {
		return nil, errors.New("google: could not find default credentials")
	}
	for _, tc := range []struct {
		name      string
		image     string
		family    string // the family the builder put the image in
		extra     map[string]interface{}
		newClient func(context.Context, pluginconfig.Auth) (gce.Compute, error)
		script    func(*gcetest.Fake)
		// wantErr: the build fails (Packer deletes the image), with this
		// in the error; "" when the image is kept without an error.
		wantErr string
		wantMsg string // in the UI's errors when kept
	}{
		{name: "wrong project, the builder put the image in the family", image: goodName, family: "app-nginx",
			extra:   map[string]interface{}{"project_id": "acme-other"},
			wantMsg: "the image is in family app-nginx of project acme-images, where the builder put it"},
		{name: "wrong project, the builder put the image in another family", image: goodName, family: "app-candidate",
			extra:   map[string]interface{}{"project_id": "acme-other"},
			wantMsg: "the image is in family app-candidate of project acme-images"},
		{name: "wrong project, no family", image: goodName,
			extra:   map[string]interface{}{"project_id": "acme-other"},
			wantErr: "nothing was changed; Packer deletes the unreleased image " + goodName},
		{name: "wrong project, the image cannot be read there", image: goodName, family: "app-nginx",
			extra: map[string]interface{}{"project_id": "acme-other"},
			script: func(f *gcetest.Fake) {
				f.Fail("GetImage", &gce.Error{Kind: gce.ErrPermissionDenied, Code: 403, Message: "denied"})
			},
			wantErr: "a family failed too (: denied (403)): Packer now deletes it"},
		{name: "no credentials", image: goodName, family: "app-nginx", newClient: noClient,
			wantErr: "was not read: Packer now deletes it, as after any failed post-processor whatever keep_input_artifact says; if the builder put it in a family"},
		{name: "no credentials, dry run", image: goodName, family: "app-nginx", newClient: noClient,
			extra: map[string]interface{}{"dry_run": true}, wantMsg: "DRY RUN: the release would fail: connecting to Compute Engine"},
		{name: "the built image cannot be read", image: goodName, family: "app-nginx",
			script: func(f *gcetest.Fake) {
				f.Fail("GetImage", &gce.Error{Kind: gce.ErrPermissionDenied, Code: 403, Message: "denied"})
			},
			wantErr: "whether the builder put it in a family is not known: Packer now deletes it"},
		{name: "bad name, in another family", image: "nginx-latest", family: "app-candidate",
			wantMsg: "the family app-nginx was not moved, but not failing the build: the image is in family app-candidate"},
		{name: "bad name, no family", image: "nginx-latest",
			wantErr: "the family app-nginx was not moved; Packer deletes the unreleased image nginx-latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs := images(tc.image)
			imgs[len(imgs)-1].Family = tc.family
			f := gcetest.New(imgs...)
			f.Now = func() time.Time { return now }
			report := filepath.Join(t.TempDir(), "release.json")
			extra := map[string]interface{}{"report_file": report}
			for k, v := range tc.extra {
				extra[k] = v
			}
			p := configured(t, f, extra)
			if tc.newClient != nil {
				p.newClient = tc.newClient
			}
			if tc.script != nil {
				tc.script(f)
			}
			u := &ui{}
			got, keep, force, err := p.PostProcess(context.Background(), u, googlecomputeArtifact(tc.image, "base-v1", "acme-base"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v\nwant one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got == nil || !keep || !force {
				t.Fatalf("PostProcess = %v, %v, %v, %v: want the image kept (Packer deletes it on an error, whatever keep says)", got, keep, force, err)
			}
			if !strings.Contains(u.errs.String(), tc.wantMsg) {
				t.Errorf("UI errors lack %q:\n%s", tc.wantMsg, u.errs.String())
			}
			if got.State("Released") != false || got.Id() != tc.image {
				t.Errorf("artifact %s released %v, want %s not released", got.Id(), got.State("Released"), tc.image)
			}
			if _, dry := tc.extra["dry_run"]; !dry && !strings.Contains(got.String(), "NOT released") {
				t.Errorf("artifact says %q", got.String())
			}
			cur, ok := f.Image("acme-images", tc.image)
			if !ok || cur.Family != tc.family {
				t.Errorf("image %s: present %v, family %q; want it left in %q", tc.image, ok, cur.Family, tc.family)
			}
			if m := mutations(f); len(m) != 0 {
				t.Errorf("changed things: %q", m)
			}
			var rep struct {
				Released    bool   `json:"released"`
				BuiltFamily string `json:"built_family"`
				Error       string `json:"error"`
			}
			b, rerr := os.ReadFile(report)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if jerr := json.Unmarshal(b, &rep); jerr != nil || rep.Released || rep.Error == "" {
				t.Errorf("report = %s (%v): want not released, with the error", b, jerr)
			}
		})
	}
}

// mutations lists the calls that change something.
func mutations(f *gcetest.Fake) []string {
	var out []string
	for _, c := range f.Calls() {
		switch c.Method {
		case "InsertImageFromImage", "SetFamily", "SetLabels", "Deprecate", "DeleteImage":
			out = append(out, c.String())
		}
	}
	return out
}

// TestPostProcessOfARebuildThatChangedNothing: with content_manifest, a
// build whose manifest has the head's digest succeeds without a release,
// its image deleted, and its artifact is the head; any other digest is
// released; a manifest missing or empty fails before anything is read.
func TestPostProcessOfARebuildThatChangedNothing(t *testing.T) {
	const list = "nginx 1.26.0-1\nopenssl 3.0.15-1\n"
	for _, tc := range []struct {
		name         string
		manifest     *string // nil: not written
		wantErr      string
		wantID       string
		wantOut      string
		builtDeleted bool
	}{
		{name: "same content as the head", manifest: ptr(list), wantID: "app-v1", builtDeleted: true,
			wantOut: "unchanged: same content as HEAD app-v1"},
		{name: "other content", manifest: ptr(list + "curl 8.5.0-2\n"), wantID: goodName, wantOut: "Moved the family pointer: app-v1 -> " + goodName},
		{name: "manifest not written", wantErr: `content_manifest "MANIFEST" cannot be read: no such file or directory`},
		{name: "manifest empty", manifest: ptr(""), wantErr: `content_manifest "MANIFEST" is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			imgs := images(goodName)
			imgs[1].Labels = map[string]string{lifecycle.LabelContentDigest: lifecycle.ContentDigest([]byte(list)),
				lifecycle.LabelParentImage: "base-v1", lifecycle.LabelParentProject: "acme-base",
				lifecycle.LabelOS: "debian-12", lifecycle.LabelSoftware: "nginx", lifecycle.LabelVersion: "1-26"}
			f := gcetest.New(imgs...)
			path := filepath.Join(t.TempDir(), "packages.txt")
			if tc.manifest != nil {
				if err := os.WriteFile(path, []byte(*tc.manifest), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			p := configured(t, f, map[string]interface{}{"content_manifest": path})
			u := &ui{}
			art, keep, force, err := p.PostProcess(context.Background(), u, googlecomputeArtifact(goodName, "base-v1", "acme-base"))
			if tc.wantErr != "" {
				if want := strings.ReplaceAll(tc.wantErr, "MANIFEST", path); err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				if calls := mutatingCalls(f); len(calls) != 0 {
					t.Errorf("changed %v before failing", calls)
				}
				return
			}
			if err != nil || !keep || !force {
				t.Fatalf("PostProcess: %v, keep %v, force %v\n%s%s", err, keep, force, u.out.String(), u.errs.String())
			}
			if art.Id() != tc.wantID || !strings.Contains(u.out.String(), tc.wantOut) || u.errs.Len() > 0 {
				t.Errorf("artifact %s, want %s; output lacks %q or has errors:\n%s%s", art.Id(), tc.wantID, tc.wantOut, u.out.String(), u.errs.String())
			}
			if _, kept := f.Image("acme-images", goodName); kept == tc.builtDeleted || art.State("Unchanged") != tc.builtDeleted {
				t.Errorf("built image kept %v, artifact Unchanged %v; want deleted %v", kept, art.State("Unchanged"), tc.builtDeleted)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// mutatingCalls are the calls of f that change something.
func mutatingCalls(f *gcetest.Fake) []string {
	var out []string
	for _, c := range f.Calls() {
		if slices.Contains([]string{"InsertImageFromImage", "SetFamily", "SetLabels", "Deprecate", "DeleteImage"}, c.Method) {
			out = append(out, c.String())
		}
	}
	return out
}
