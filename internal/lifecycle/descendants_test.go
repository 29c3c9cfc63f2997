package lifecycle

import (
	"strings"
	"testing"
)

func TestDescendantsFollowEveryGenerationAndFamily(t *testing.T) {
	images := []Image{
		built("acme-images", "base", "base-v1", 10*d),
		built("acme-images", "base", "base-v2", 9*d),
		// Generation 1: built on base-v1 in two projects and families.
		built("acme-images", "runtime", "runtime-v1", 8*d, LabelParentImage, "base-v1"),
		built("acme", "web", "web-v1", 8*d, LabelParentImage, "base-v1", LabelParentProject, "acme-images"),
		// Not a descendant: built on base-v2, or on a same-named image elsewhere.
		built("acme", "web", "web-v2", 7*d, LabelParentImage, "base-v2", LabelParentProject, "acme-images"),
		built("acme", "api", "api-v1", 7*d, LabelParentImage, "base-v1"),
		// Generation 2: built on runtime-v1, and a promoted copy of web-v1.
		built("acme-images", "app", "app-v1", 6*d, LabelParentImage, "runtime-v1"),
		built("acme-prod", "web", "web-v1", 6*d, LabelPromotedFrom, "web-v1", LabelPromotedFromProject, "acme"),
		// Generation 3: a rollback copy of the promoted one.
		built("acme-prod", "web", "web-v1-rb", 1*d, LabelRollbackOf, "web-v1"),
		// A cycle must not loop.
		built("acme-images", "loop", "loop-a", 1*d, LabelParentImage, "loop-b", LabelPromotedFrom, "app-v1"),
		built("acme-images", "loop", "loop-b", 1*d, LabelParentImage, "loop-a"),
	}
	got := Descendants(images, ImageRef{Project: "acme-images", Name: "base-v1"})
	var lines []string
	for _, dsc := range got {
		lines = append(lines, strings.Join([]string{dsc.Image.Project + "/" + dsc.Image.Name, string(dsc.Relation), dsc.Parent.String(), string(rune('0' + dsc.Generation))}, " "))
	}
	want := []string{
		"acme/web-v1 built-on projects/acme-images/global/images/base-v1 1",
		"acme-images/runtime-v1 built-on projects/acme-images/global/images/base-v1 1",
		"acme-images/app-v1 built-on projects/acme-images/global/images/runtime-v1 2",
		"acme-prod/web-v1 promoted-from projects/acme/global/images/web-v1 2",
		"acme-images/loop-a promoted-from projects/acme-images/global/images/app-v1 3",
		"acme-prod/web-v1-rb rollback-of projects/acme-prod/global/images/web-v1 3",
		"acme-images/loop-b built-on projects/acme-images/global/images/loop-a 4",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Descendants:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	if got := Descendants(images, ImageRef{Project: "acme-images", Name: "nope"}); len(got) != 0 {
		t.Errorf("an image without children has no descendants: %v", got)
	}
	// Without a project, the root is every image of that name: both web-v1
	// images are roots, and the rollback copy their descendant.
	byName := Descendants(images, ImageRef{Name: "web-v1"})
	if len(byName) != 1 || byName[0].Image.Name != "web-v1-rb" {
		t.Errorf("Descendants by name = %v, want web-v1-rb only", byName)
	}
}
