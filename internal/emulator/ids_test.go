package emulator_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// The Terraform provider reads a global instance template back by the
// targetId of its insert operation (GET .../global/instanceTemplates/ID),
// and Compute Engine's paths take a numeric id wherever its discovery
// document's pattern allows one ([1-9][0-9]{0,19}).
func TestEveryResourceIsReadableByItsNumericID(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	const p = "/compute/v1/projects/" + proj
	const z = p + "/zones/us-central1-a"
	const r = p + "/regions/us-central1"
	mustOK := func(method, path, body string) map[string]any {
		t.Helper()
		code, b := do(t, env, method, path, body)
		if code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, code, b)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	mustOK("POST", p+"/global/images", `{"name":"base-v1","rawDisk":{"source":"gs://b/o.tar.gz"}}`)
	for _, tc := range []struct {
		name, collection, insert, body string
	}{
		{"Image", p + "/global/images", "", ""},
		{"GlobalTemplate", p + "/global/instanceTemplates", p + "/global/instanceTemplates", sprintf(templateBody, "t1")},
		{"RegionalTemplate", r + "/instanceTemplates", r + "/instanceTemplates", sprintf(templateBody, "rt1")},
		{"Disk", z + "/disks", z + "/disks", `{"name":"d1","sizeGb":"10"}`},
		{"Instance", z + "/instances", z + "/instances", `{"name":"vm1","machineType":"zones/us-central1-a/machineTypes/e2-small","disks":[{"boot":true,"autoDelete":true,"initializeParams":{"sourceImage":"global/images/base-v1"}}]}`},
		{"ZonalGroup", z + "/instanceGroupManagers", z + "/instanceGroupManagers", `{"name":"g1","baseInstanceName":"g","targetSize":1,"instanceTemplate":"global/instanceTemplates/t1"}`},
		{"RegionalGroup", r + "/instanceGroupManagers", r + "/instanceGroupManagers", `{"name":"rg1","baseInstanceName":"rg","targetSize":1,"instanceTemplate":"global/instanceTemplates/t1"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var id, name string
			if tc.insert == "" {
				img := mustOK("GET", tc.collection+"/base-v1", "")
				id, name = img["id"].(string), "base-v1"
			} else {
				op := mustOK("POST", tc.insert, tc.body)
				id = op["targetId"].(string)
				var body struct{ Name string }
				_ = json.Unmarshal([]byte(tc.body), &body)
				name = body.Name
			}
			got := mustOK("GET", tc.collection+"/"+id, "")
			if got["name"] != name || got["id"] != id {
				t.Errorf("GET by id %s: name %v id %v, want %s", id, got["name"], got["id"], name)
			}
			if code, b := do(t, env, "GET", tc.collection+"/9"+id[1:]+"1", ""); code != 404 {
				t.Errorf("GET by an unknown id: %d %s, want 404", code, b)
			}
		})
	}
	// Deleting by id, as Compute Engine allows for templates; not while a
	// group uses the template.
	tmpl := mustOK("GET", p+"/global/instanceTemplates/t1", "")
	if code, b := do(t, env, "DELETE", p+"/global/instanceTemplates/"+tmpl["id"].(string), ""); code != 400 || !strings.Contains(string(b), "resourceInUseByAnotherResource") {
		t.Errorf("deleting a template two groups use: %d %s, want 400 resourceInUseByAnotherResource", code, b)
	}
	mustOK("DELETE", z+"/instanceGroupManagers/g1", "")
	mustOK("DELETE", r+"/instanceGroupManagers/rg1", "")
	mustOK("DELETE", p+"/global/instanceTemplates/"+tmpl["id"].(string), "")
	if code, _ := do(t, env, "GET", p+"/global/instanceTemplates/t1", ""); code != 404 {
		t.Errorf("template t1 still there after a delete by id: %d", code)
	}
}
