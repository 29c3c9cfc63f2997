package lifecycle

import (
	"strings"
	"testing"
	"time"
)

// built is an ACTIVE READY image of project/fam created age ago, with the
// given lineage labels (key, value pairs).
func built(project, fam, name string, age time.Duration, labels ...string) Image {
	i := Image{Name: name, Project: project, Family: fam, CreatedAt: planNow.Add(-age), Status: StatusReady}
	for k := 0; k+1 < len(labels); k += 2 {
		i = withLabelValue(i, labels[k], labels[k+1])
	}
	return i
}

func snap(project, fam string, images ...Image) Snapshot {
	return Snapshot{Project: project, Family: fam, Images: images}
}

func TestCheckLineage(t *testing.T) {
	base := snap("acme-images", "base-debian-12",
		built("acme-images", "base-debian-12", "base-v2", 1*d),
		built("acme-images", "base-debian-12", "base-v1", 10*d))
	runtime := snap("acme-images", "runtime",
		built("acme-images", "runtime", "runtime-v2", 2*d, LabelParentImage, "base-v1", LabelParentFamily, "base-debian-12"))
	web := snap("acme", "web",
		built("acme", "web", "web-v1", 1*d, LabelParentImage, "runtime-v2", LabelParentFamily, "runtime", LabelParentProject, "acme-images"))
	api := snap("acme", "api",
		built("acme", "api", "api-v1", 1*d, LabelParentImage, "base-v2", LabelParentProject, "acme-images"))
	orphan := snap("acme", "orphan",
		built("acme", "orphan", "orphan-v1", 1*d, LabelParentImage, "x-v1", LabelParentFamily, "unknown-family"))
	gone := snap("acme", "gone",
		built("acme", "gone", "gone-v1", 1*d, LabelParentImage, "dead-v1", LabelParentFamily, "dead"))
	dead := snap("acme", "dead", built("acme", "dead", "dead-v1", 3*d, LabelPrefix+"x", "y"))
	dead.Images[0].Deprecation.State = StateDeprecated
	empty := snap("acme", "empty")

	got := CheckLineage([]Snapshot{base, runtime, web, api, orphan, gone, dead, empty})
	want := []struct {
		family         string
		verdict        Verdict
		rebuild        string
		parentOutdated bool
		reason         string
	}{
		{"base-debian-12", VerdictNoLineage, "", false, "head base-v2 has no imagefamily-parent-image label"},
		{"runtime", VerdictOutdated, "base-v2", false, "head runtime-v2 was built on base-v1, but family base-debian-12 now resolves to base-v2: rebuild on it"},
		{"web", VerdictCurrent, "", true, "family runtime is itself outdated: rebuild it first"},
		{"api", VerdictCurrent, "", false, "still the head of family base-debian-12"},
		{"orphan", VerdictUnknown, "", false, "family unknown-family, which is not among the families read"},
		{"gone", VerdictOutdated, "", false, "family dead now resolves to no image: nothing to rebuild on"},
		{"dead", VerdictNoHead, "", false, "family dead resolves to no image"},
		{"empty", VerdictNoHead, "", false, "resolves to no image"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		rebuild := ""
		if g.RebuildOn != nil {
			rebuild = g.RebuildOn.Name
		}
		if g.Family != w.family || g.Verdict != w.verdict || rebuild != w.rebuild || g.ParentOutdated != w.parentOutdated || !strings.Contains(g.Reason, w.reason) {
			t.Errorf("%s: verdict %s, rebuild on %q, parent outdated %v, reason %q; want %s, %q, %v, %q",
				g.Family, g.Verdict, rebuild, g.ParentOutdated, g.Reason, w.verdict, w.rebuild, w.parentOutdated, w.reason)
		}
	}
	if got[3].ParentFamily != "base-debian-12" || got[3].Parent != (ImageRef{Project: "acme-images", Name: "base-v2"}) {
		t.Errorf("api: the parent family comes from the parent image when the label is missing: %+v", got[3])
	}
}
