package emulator_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// open starts an emulator on a state file without the Close at the end of
// the test that emulatortest.Start adds: it stands for a process that is
// killed, whose last words are whatever it had written when it died.
func openKillable(t *testing.T, path string) (*emulator.Server, *clients) {
	t.Helper()
	srv, err := emulator.New(emulator.Options{StateFile: path})
	if err != nil {
		t.Fatal(err)
	}
	return srv, clientsFor(t, srv)
}

func readState(t *testing.T, path string) emulator.State {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st emulator.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%s is not a state file: %v\n%s", path, err, b)
	}
	return st
}

func TestAKilledEmulatorLosesNoAnsweredMutation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	_, c := openKillable(t, path)
	c.mustInsert(t, labelled(withFamily(rawImage("web-v1"), "web"), "team", "web"))
	c.mustInsert(t, withFamily(rawImage("web-v2"), "web"))
	if err := c.deprecate(t, "web-v1", &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}); err != nil {
		t.Fatal(err)
	}
	op, err := c.images.Delete(ctxT(t), &computepb.DeleteImageRequest{Project: proj, Image: "web-v2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Killed here: never closed. A write cut short by the kill leaves half
	// a line, which the next start ignores.
	f, err := os.OpenFile(path+".journal", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("no journal beside the state file: %v", err)
	}
	if _, err := f.WriteString(`{"op":"put","kind":"images","project":"acme-images","key":"half`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	again := start(t, emulator.Options{StateFile: path})
	got := again.mustGet(t, "web-v1")
	if got.GetDeprecated().GetState() != "DEPRECATED" || got.GetLabels()["team"] != "web" {
		t.Errorf("web-v1 after the restart: %v, want DEPRECATED with its label", got)
	}
	_, err = again.images.Get(ctxT(t), &computepb.GetImageRequest{Project: proj, Image: "web-v2"})
	wantAPIErr(t, err, 404, "notFound")
	// The restart wrote the state file whole: it holds web-v1 on its own.
	names := map[string]bool{}
	for _, raw := range readState(t, path).Projects[proj].Images {
		var img struct{ Name string }
		_ = json.Unmarshal(raw, &img)
		names[img.Name] = true
	}
	if !names["web-v1"] || names["web-v2"] || len(names) != 1 {
		t.Errorf("state file after the restart holds %v, want web-v1 only", names)
	}
}

func TestCloseWritesTheStateFileWholeAndRemovesTheJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	srv, c := openKillable(t, path)
	c.mustInsert(t, rawImage("web-v1"))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".journal"); !os.IsNotExist(err) {
		t.Errorf("journal still there after Close (%v)", err)
	}
	if imgs := readState(t, path).Projects[proj].Images; len(imgs) != 1 || !strings.Contains(string(imgs[0]), `"web-v1"`) {
		t.Errorf("state file after Close holds %s, want web-v1", imgs)
	}
}

// Persistence costs what the mutation changed: with 2,000 images stored,
// deprecating one appends one line to the journal and leaves the state
// file as it was.
func TestAMutationAppendsWhatItChangedAndNotTheWholeState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	seed := emulatortest.Start(t, emulator.Options{})
	var state emulator.State
	state.Projects = map[string]emulator.ProjectState{}
	ps := emulator.ProjectState{}
	for i := range 2000 {
		b, _ := json.Marshal(map[string]any{"name": imageName(i), "family": "web", "rawDisk": map[string]string{"source": "gs://b/o.tar.gz"}})
		ps.Images = append(ps.Images, b)
	}
	state.Projects[proj] = ps
	if err := seed.Server.LoadState(state); err != nil {
		t.Fatal(err)
	}
	full, _ := seed.Server.SnapshotState()
	b, _ := json.Marshal(full)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	_, c := openKillable(t, path)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.deprecate(t, imageName(7), &computepb.DeprecationStatus{State: proto.String("DEPRECATED")}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Error("the state file changed on a mutation: it is written whole only at start and stop")
	}
	journal, err := os.ReadFile(path + ".journal")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(journal), "\n"), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"key":"`+imageName(7)+`"`) || !strings.Contains(lines[0], "DEPRECATED") {
		t.Errorf("journal after one deprecate:\n%s\nwant one line putting %s", journal, imageName(7))
	}
	if len(journal) > len(before)/100 {
		t.Errorf("one mutation wrote %d bytes against a state of %d", len(journal), len(before))
	}
}

// Every kind the state file holds goes through the journal, with its
// zone or region: what a killed emulator had made comes back.
func TestTheJournalCarriesEveryKindOfResource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	srv, err := emulator.New(emulator.Options{StateFile: path})
	if err != nil {
		t.Fatal(err)
	}
	env := emulatortest.Serve(t, srv)
	runMutationSteps(t, env, []mutationStep{
		{"POST", "/compute/v1/projects/" + proj + "/global/images", `{"name":"base-v1","family":"base","rawDisk":{"source":"gs://b/o.tar.gz"}}`, "insert"},
		{"POST", "/compute/v1/projects/" + proj + "/global/instanceTemplates", sprintf(templateBody, "t1"), "compute.instanceTemplates.insert"},
		{"POST", "/compute/v1/projects/" + proj + "/regions/us-central1/instanceTemplates", sprintf(templateBody, "rt1"), "compute.regionInstanceTemplates.insert"},
		{"POST", "/compute/v1/projects/" + proj + "/zones/us-central1-a/instanceGroupManagers",
			`{"name":"g1","baseInstanceName":"g","targetSize":2,"versions":[{"instanceTemplate":"global/instanceTemplates/t1"}]}`, "compute.instanceGroupManagers.insert"},
		{"POST", "/compute/v1/projects/" + proj + "/regions/us-central1/instanceGroupManagers",
			`{"name":"rg1","baseInstanceName":"rg","targetSize":3,"instanceTemplate":"regions/us-central1/instanceTemplates/rt1"}`, "compute.regionInstanceGroupManagers.insert"},
		{"POST", "/compute/v1/projects/" + proj + "/zones/us-central1-b/disks", `{"name":"d1","sizeGb":"10"}`, "insert"},
	})
	want, err := srv.SnapshotState()
	if err != nil {
		t.Fatal(err)
	}
	// Killed: no Close.
	again := emulatortest.Start(t, emulator.Options{StateFile: path})
	got, err := again.Server.SnapshotState()
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	if string(wb) != string(gb) {
		t.Errorf("after a restart from the journal:\n%s\nwant\n%s", gb, wb)
	}
	if n := len(got.Projects[proj].Instances); n != 5 {
		t.Errorf("%d instances after the restart, want the groups' 5", n)
	}
}
