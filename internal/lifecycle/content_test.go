package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"
	"testing"
)

func TestContentDigestIsAValidLabelValueAndTheSha256sumPrefix(t *testing.T) {
	for _, manifest := range []string{"", "nginx 1.26.0-1\nopenssl 3.0.15-1\n", strings.Repeat("x", 1<<20)} {
		d := ContentDigest([]byte(manifest))
		sum := sha256.Sum256([]byte(manifest))
		if want := "sha256-" + hex.EncodeToString(sum[:])[:56]; d != want {
			t.Errorf("ContentDigest = %q, want %q", d, want)
		}
		if err := ValidateLabels(map[string]string{LabelContentDigest: d}); err != nil || len(d) != 63 {
			t.Errorf("digest %q (%d characters) is no label value: %v", d, len(d), err)
		}
	}
	if ContentDigest([]byte("a\n")) == ContentDigest([]byte("b\n")) {
		t.Error("two manifests share a digest")
	}
}

func TestDecideUnchangedComparesWithTheHeadAndKeepsWhatMayBeUsed(t *testing.T) {
	digest := ContentDigest([]byte("nginx 1.26.0-1\n"))
	lineage := map[string]string{LabelContentDigest: digest, LabelParentImage: "base-v7", LabelParentProject: "acme",
		LabelOS: "debian-12", LabelSoftware: "nginx", LabelVersion: "1-26", LabelReleasedAt: "20261126t064730z"}
	with := func(k, v string) map[string]string {
		m := maps.Clone(lineage)
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	headLabels := maps.Clone(lineage)
	headLabels[LabelReleasedAt] = "20261125t064730z" // released another day: not compared
	head := Image{Name: "web-v1", Project: "acme", Family: "web", Labels: headLabels}
	built := Image{Name: "web-v2", Project: "acme"}
	inFamily := built
	inFamily.Family = "other"
	protected := built
	protected.Labels = map[string]string{DefaultProtectLabel: "true"}
	policy := DefaultPolicy()
	same := Unchanged{Same: true, Discard: true, Head: "web-v1"}
	kept := Unchanged{Same: true, Head: "web-v1"}
	for _, tc := range []struct {
		name    string
		built   Image
		head    *Image
		lineage map[string]string
		want    Unchanged
		keep    string
	}{
		{"same digest, parent and version: the build is discarded", built, &head, lineage, same, ""},
		{"another digest: released", built, &head, with(LabelContentDigest, ContentDigest([]byte("nginx 1.26.1-1\n"))), Unchanged{}, ""},
		{"another parent: released", built, &head, with(LabelParentImage, "base-v8"), Unchanged{}, ""},
		{"another version: released", built, &head, with(LabelVersion, "1-27"), Unchanged{}, ""},
		{"no parent known, the head's known: released", built, &head, with(LabelParentImage, ""), Unchanged{}, ""},
		{"a head without a digest: released", built, &Image{Name: "web-v1", Labels: with(LabelContentDigest, "")}, lineage, Unchanged{}, ""},
		{"no head: the first release", built, nil, lineage, Unchanged{}, ""},
		{"no manifest: released", built, &Image{Name: "web-v1", Labels: with(LabelContentDigest, "")}, with(LabelContentDigest, ""), Unchanged{}, ""},
		{"the head is the built image itself: released", head, &head, lineage, Unchanged{}, ""},
		{"in a family the builder chose: kept", inFamily, &head, lineage, kept, "in family other"},
		{"protected: kept", protected, &head, lineage, kept, `imagefamily-protect="true"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecideUnchanged(tc.built, tc.head, tc.lineage, policy)
			keep := got.KeepReason
			got.KeepReason = ""
			if got != tc.want || (tc.keep == "") != (keep == "") || !strings.Contains(keep, tc.keep) {
				t.Errorf("got %+v (keep: %q), want %+v (keep: %q)", got, keep, tc.want, tc.keep)
			}
		})
	}
}

func TestPlanUnchangedDeletesOnlyTheBuiltImageAsRead(t *testing.T) {
	built := Image{Name: "web-v2", Project: "acme", ID: 42, Status: StatusReady, Labels: map[string]string{"team": "web"}}
	phases := PlanUnchanged("acme", "web", built, "web-v1", DefaultProtectLabel)
	acts := Actions(phases)
	if len(phases) != 1 || !phases[0].Required || len(acts) != 1 || acts[0].Action != ActionDelete || acts[0].Image.Name != "web-v2" {
		t.Fatalf("phases = %+v, want one delete of web-v2", phases)
	}
	pre := acts[0].Expect
	if pre.Head == nil || *pre.Head != (HeadExpect{Project: "acme", Family: "web", Name: "web-v1"}) {
		t.Errorf("head precondition %+v, want family web resolving to web-v1", pre.Head)
	}
	x := pre.Images[0]
	for _, tc := range []struct {
		name   string
		now    Image
		found  bool
		change string // "" when the delete may go
	}{
		{"as read", built, true, ""},
		{"gone already", built, false, "no longer exists"},
		{"made again under the name", Image{Name: "web-v2", Project: "acme", ID: 43, Status: StatusReady}, true, "another image"},
		{"put in a family meanwhile", Image{Name: "web-v2", Project: "acme", ID: 42, Status: StatusReady, Family: "web"}, true, "in family web"},
		{"a release started on it", Image{Name: "web-v2", Project: "acme", ID: 42, Status: StatusReady, Labels: map[string]string{LabelReleasingInto: "web"}}, true, LabelReleasingInto},
		{"relabelled meanwhile", Image{Name: "web-v2", Project: "acme", ID: 42, Status: StatusReady, Labels: map[string]string{"team": "db"}}, true, "team"},
		{"protected meanwhile", Image{Name: "web-v2", Project: "acme", ID: 42, Status: StatusReady, Labels: map[string]string{DefaultProtectLabel: "true"}}, true, DefaultProtectLabel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := x.Check(tc.now, tc.found)
			if tc.change == "" && err != nil || tc.change != "" && (err == nil || !strings.Contains(err.Error(), tc.change)) {
				t.Errorf("Check = %v, want %q", err, tc.change)
			}
		})
	}
}
