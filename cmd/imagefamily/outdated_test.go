package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

func parents(t *testing.T, env *emulatortest.Env) {
	t.Helper()
	put(t, env, "acme-images", "base", "base-v1", 3*day)
	put(t, env, "acme-images", "app", "app-v1", day, builtOn("base-v1", "base"))
	put(t, env, "shared", "os", "os-v1", 5*day)
	put(t, env, "acme-images", "svc", "svc-v1", day, labels("imagefamily-parent-image", "os-v1", "imagefamily-parent-family", "os", "imagefamily-parent-project", "shared"))
	// No family label: the parent image says which family it is in.
	put(t, env, "acme-images", "tool", "tool-v1", day, labels("imagefamily-parent-image", "base-v1"))
}

func TestOutdatedAfterParentFamiliesMoveOn(t *testing.T) {
	env := emu(t, emulator.Options{})
	parents(t, env)
	before := mustCLI(t, env, exitOK, "outdated", "--project", "acme-images")
	golden(t, "outdated_current", before.stdout)

	put(t, env, "acme-images", "base", "base-v2", time.Hour)
	put(t, env, "shared", "os", "os-v2", time.Hour)
	table := mustCLI(t, env, exitFindings, "outdated", "--project", "acme-images")
	golden(t, "outdated", table.stdout)
	js := mustCLI(t, env, exitFindings, "outdated", "--project", "acme-images", "--format", "json")
	golden(t, "outdated_json", js.stdout)
	var out outdatedOutput
	if err := json.Unmarshal([]byte(js.stdout), &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"app": "base-v2", "svc": "os-v2", "tool": "base-v2"}
	if out.Outdated != len(want) {
		t.Errorf("%d outdated, want %d", out.Outdated, len(want))
	}
	for _, h := range out.Checked {
		if h.RebuildOn != want[h.Family] {
			t.Errorf("%s: rebuild on %q, want %q", h.Family, h.RebuildOn, want[h.Family])
		}
	}

	// One family only.
	one := mustCLI(t, env, exitFindings, "outdated", "--project", "acme-images", "--family", "app", "--format", "json")
	var only outdatedOutput
	if err := json.Unmarshal([]byte(one.stdout), &only); err != nil {
		t.Fatal(err)
	}
	if len(only.Checked) != 1 || only.Checked[0].Family != "app" {
		t.Errorf("--family app checked %+v, want app alone", only.Checked)
	}
	mustCLI(t, env, exitOK, "outdated", "--project", "acme-images", "--family", "base")
}

func TestOutdatedWhenTheParentFamilyIsGone(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "svc", "svc-v1", day, labels("imagefamily-parent-image", "os-v1", "imagefamily-parent-family", "os", "imagefamily-parent-project", "elsewhere"))
	r := mustCLI(t, env, exitFindings, "outdated", "--project", "acme-images", "--format", "json")
	var out outdatedOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Checked) != 1 || out.Checked[0].Verdict != "outdated" || out.Checked[0].RebuildOn != "" || out.Checked[0].ParentProject != "elsewhere" {
		t.Errorf("checked %+v, want svc outdated with nothing to rebuild on", out.Checked)
	}
}
