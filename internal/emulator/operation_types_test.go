package emulator_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// mutationStep is one mutation over raw HTTP and the operationType Compute
// Engine reports for it. The older collections (images, disks, instances)
// answer with the bare verb; the newer ones (instance templates, managed
// instance groups) with compute.COLLECTION.METHOD: recorded for
// instanceTemplates.insert, seen in public recordings of
// instanceGroupManagers operations, and the rule gcloud's own waiter
// documents (api_lib/compute/waiters.py).
type mutationStep struct {
	method, path, body string
	opType             string
}

func TestEveryMutationReportsItsOperationTypeAsComputeEngineSpellsIt(t *testing.T) {
	const p = "/compute/v1/projects/" + proj
	const zone = p + "/zones/us-central1-a"
	const region = p + "/regions/us-central1"
	steps := []mutationStep{
		{"POST", p + "/global/images", `{"name":"base-v1","family":"base","rawDisk":{"source":"gs://b/o.tar.gz"}}`, "insert"},
		{"PATCH", p + "/global/images/base-v1", `{"description":"d"}`, "patch"},
		{"POST", p + "/global/images/base-v1/setLabels", `{"labels":{"a":"b"},"labelFingerprint":"42WmSpB8rSM="}`, "setLabels"},
		{"POST", zone + "/disks", `{"name":"d1","sizeGb":"10"}`, "insert"},
		{"DELETE", zone + "/disks/d1", "", "delete"},
		{"POST", zone + "/instances", `{"name":"vm1","machineType":"zones/us-central1-a/machineTypes/e2-small","disks":[{"boot":true,"autoDelete":true,"initializeParams":{"sourceImage":"global/images/base-v1"}}]}`, "insert"},
		{"POST", zone + "/instances/vm1/stop", "", "stop"},
		{"POST", zone + "/instances/vm1/start", "", "start"},
		{"DELETE", zone + "/instances/vm1", "", "delete"},
		{"POST", p + "/global/instanceTemplates", sprintf(templateBody, "t1"), "compute.instanceTemplates.insert"},
		{"DELETE", p + "/global/instanceTemplates/t1", "", "compute.instanceTemplates.delete"},
		{"POST", region + "/instanceTemplates", sprintf(templateBody, "rt1"), "compute.regionInstanceTemplates.insert"},
		{"DELETE", region + "/instanceTemplates/rt1", "", "compute.regionInstanceTemplates.delete"},
		{"POST", p + "/global/images/base-v1/deprecate", `{"state":"DEPRECATED"}`, "deprecate"},
		{"DELETE", p + "/global/images/base-v1", "", "delete"},
	}
	runMutationSteps(t, emulatortest.Start(t, emulator.Options{}), steps)
}

func runMutationSteps(t *testing.T, env *emulatortest.Env, steps []mutationStep) {
	t.Helper()
	for _, s := range steps {
		code, b := do(t, env, s.method, s.path, s.body)
		if code != 200 {
			t.Fatalf("%s %s: %d %s", s.method, s.path, code, b)
		}
		var op struct {
			OperationType string `json:"operationType"`
			Status        string `json:"status"`
		}
		if err := json.Unmarshal(b, &op); err != nil {
			t.Fatal(err)
		}
		if op.OperationType != s.opType {
			t.Errorf("%s %s: operationType %q, want %q", s.method, s.path, op.OperationType, s.opType)
		}
	}
}

// templateBody is an instance template insert body naming the image
// base-v1; %s is its name.
const templateBody = `{"name":"%s","properties":{"machineType":"e2-small","disks":[{"boot":true,"autoDelete":true,"initializeParams":{"sourceImage":"global/images/base-v1"}}],"networkInterfaces":[{}]}}`

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
