package family

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce/gcetest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// head is base-v2, the image family "base" points to, created on day 3.
func head() lifecycle.Image {
	return lifecycle.Image{
		Name: "base-v2", ID: 103, Project: "acme-images", Family: "base",
		CreatedAt: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), Status: lifecycle.StatusReady,
		SelfLink:     lifecycle.ImageRef{Project: "acme-images", Name: "base-v2"}.SelfLink(),
		Architecture: "X86_64", DiskSizeGB: 10,
	}
}

func TestOutputCarriesTheImageAndItsLineageLabels(t *testing.T) {
	i := head()
	i.CreatedAt = time.Date(2026, 11, 3, 4, 5, 6, 789e6, time.FixedZone("PST", -8*3600))
	i.Labels = map[string]string{"team": "platform"}
	got, err := Output(i)
	if err != nil {
		t.Fatal(err)
	}
	want := DatasourceOutput{
		Name: "base-v2", ID: "103", SelfLink: "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/base-v2",
		ProjectID: "acme-images", Family: "base", CreationTimestamp: "2026-11-03T12:05:06.789Z",
		Labels: map[string]string{"team": "platform"}, DeprecationState: "ACTIVE", Architecture: "X86_64", DiskSizeGB: 10,
		LineageLabels: map[string]string{
			"imagefamily-parent-image":   "base-v2",
			"imagefamily-parent-family":  "base",
			"imagefamily-parent-project": "acme-images",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Output:\n got %+v\nwant %+v", got, want)
	}
	// An image without labels still gives a map, so templates can merge() it.
	i.Labels = nil
	if got, _ := Output(i); got.Labels == nil {
		t.Error("labels is nil for an unlabelled image")
	}
}

func TestExecuteReturnsTheOutputAsHCL(t *testing.T) {
	f := gcetest.New(head())
	d := &Datasource{newClient: func(context.Context, pluginconfig.Auth) (gce.Compute, error) { return f, nil }}
	if err := d.Configure(map[string]interface{}{"project_id": "acme-images", "family": "base"}); err != nil {
		t.Fatal(err)
	}
	v, err := d.Execute()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.GetAttr("name").AsString(); got != "base-v2" {
		t.Errorf("name = %q", got)
	}
	if got := v.GetAttr("lineage_labels").Index(cty.StringVal("imagefamily-parent-image")).AsString(); got != "base-v2" {
		t.Errorf("lineage_labels[imagefamily-parent-image] = %q", got)
	}
	if got, _ := v.GetAttr("disk_size_gb").AsBigFloat().Int64(); got != 10 {
		t.Errorf("disk_size_gb = %d", got)
	}
	if calls := f.CallStrings(); !slices.Equal(calls, []string{"GetFromFamily(acme-images, base)", "Close()"}) {
		t.Errorf("calls = %q", calls)
	}
}
