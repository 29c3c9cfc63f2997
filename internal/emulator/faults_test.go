package emulator_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// TestFaultKindsAreTheKindsParseFaultsAccepts keeps the exported list (which
// the emulator command's --help prints) and the parser in step: every listed
// kind's example parses as that kind, every kind the parser accepts is
// listed, and the error for an unknown kind names them all.
func TestFaultKindsAreTheKindsParseFaultsAccepts(t *testing.T) {
	// listed reports the FaultKinds entry a parsed kind is written as.
	listed := func(kind string) string {
		if _, err := strconv.Atoi(kind); err == nil {
			kind = "STATUS"
		}
		for _, k := range emulator.FaultKinds {
			if name, _, _ := strings.Cut(k.Syntax, ":"); name == kind {
				return k.Syntax
			}
		}
		return ""
	}
	for _, k := range emulator.FaultKinds {
		f, err := emulator.ParseFaults(k.Example)
		if err != nil || len(f) != 1 {
			t.Errorf("%s: example %q = %+v, %v; want one fault", k.Syntax, k.Example, f, err)
			continue
		}
		if got := listed(f[0].Kind); got != k.Syntax {
			t.Errorf("%s: example %q parsed as kind %q", k.Syntax, k.Example, f[0].Kind)
		}
		if k.Does == "" {
			t.Errorf("%s: no description", k.Syntax)
		}
	}
	for _, kind := range []string{"400", "429", "503", "599", "reset", "fail", "slow:1s", "200", "600", "teapot", "slow", "RESET", "timeout"} {
		f, err := emulator.ParseFaults("images.insert=" + kind + ":0.5")
		if err != nil {
			for _, k := range emulator.FaultKinds {
				if !strings.Contains(err.Error(), k.Syntax) && !strings.HasPrefix(kind, "slow") {
					t.Errorf("kind %q: error %q does not name %s", kind, err, k.Syntax)
				}
			}
			continue
		}
		if listed(f[0].Kind) == "" {
			t.Errorf("ParseFaults accepts kind %q, which FaultKinds does not list", kind)
		}
	}
}

func TestFailFaultsApplyToEveryMethodWithAnOperation(t *testing.T) {
	tests := []struct {
		spec string
		ok   bool
	}{
		{"images.deprecate=fail:1", true},
		{"images.setLabels=fail:1", true},
		{"instances.setMetadata=fail:1", true},
		{"instances.stop=fail:1", true},
		{"regionInstanceTemplates.delete=fail:1", true},
		{"operations=fail:1", true},
		{"*=fail:1", true},
		{"images.get=fail:1", false},
		{"instances.aggregatedList=fail:1", false},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := emulator.ParseFaults(tt.spec)
			if (err == nil) != tt.ok {
				t.Errorf("ParseFaults(%q) = %v, want accepted %v", tt.spec, err, tt.ok)
			}
		})
	}
}
