package family

import (
	"fmt"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Output is the data source's value for img.
func Output(img lifecycle.Image) (DatasourceOutput, error) {
	lineage, err := lifecycle.LineageLabels(lifecycle.Lineage{
		ParentImage:   img.Name,
		ParentFamily:  img.Family,
		ParentProject: img.Project,
	})
	if err != nil {
		return DatasourceOutput{}, fmt.Errorf("lineage labels for image %s: %w", img.Ref(), err)
	}
	labels := map[string]string{}
	for k, v := range img.Labels {
		labels[k] = v
	}
	out := DatasourceOutput{
		Name:             img.Name,
		ID:               fmt.Sprint(img.ID),
		SelfLink:         img.SelfLink,
		ProjectID:        img.Project,
		Family:           img.Family,
		Labels:           labels,
		DeprecationState: string(img.State()),
		Architecture:     img.Architecture,
		DiskSizeGB:       img.DiskSizeGB,
		LineageLabels:    lineage,
	}
	if out.SelfLink == "" {
		out.SelfLink = img.Ref().SelfLink()
	}
	if !img.CreatedAt.IsZero() {
		out.CreationTimestamp = img.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return out, nil
}
