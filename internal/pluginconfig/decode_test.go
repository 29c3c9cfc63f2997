package pluginconfig

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestFieldPathSpellsOptionsAsTemplatesDo(t *testing.T) {
	for _, tc := range []struct {
		path cty.Path
		want string
	}{
		{cty.GetAttrPath("project_id"), "project_id"},
		{cty.GetAttrPath("rotation").GetAttr("keep_active"), "rotation.keep_active"},
		{cty.GetAttrPath("rotation").GetAttr("in_use_projects").IndexInt(1), "rotation.in_use_projects[1]"},
		{cty.GetAttrPath("labels").IndexString("team"), `labels["team"]`},
		{cty.GetAttrPath("x").Index(cty.UnknownVal(cty.Number)), "x[?]"},
	} {
		if got := FieldPath(tc.path); got != tc.want {
			t.Errorf("FieldPath(%#v) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestDecodeReadsPlainMapsAsConfigDecodeDoes(t *testing.T) {
	var n Naming
	if err := Decode(&n, nil, map[string]interface{}{"os": "debian-12", "version": "1.26"}); err != nil {
		t.Fatal(err)
	}
	if n.OS != "debian-12" || n.Version != "1.26" {
		t.Errorf("decoded %+v", n)
	}
	if err := Decode(&n, nil, map[string]interface{}{"oss": "x"}); err == nil {
		t.Error("an unknown key is accepted")
	}
}
