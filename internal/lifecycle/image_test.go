package lifecycle

import (
	"testing"
	"time"
)

func TestHeadIsWhatGetFromFamilyReturns(t *testing.T) {
	tests := []struct {
		name   string
		images []Image
		want   string
	}{
		{"no images", nil, ""},
		{"newest READY ACTIVE image", []Image{img("web-v1", 2*d), img("web-v2", 1*d)}, "web-v2"},
		{"an absent state counts as ACTIVE", []Image{img("web-v1", 2*d, inState("", nil, nil, nil)), img("web-v2", 3*d, inState(StateActive, nil, nil, nil))}, "web-v1"},
		{"a newer DEPRECATED image is skipped", []Image{img("web-v2", 1*d, inState(StateDeprecated, nil, nil, nil)), img("web-v1", 2*d)}, "web-v1"},
		{"OBSOLETE and DELETED images are skipped", []Image{img("web-v3", 1*d, inState(StateObsolete, nil, nil, nil)), img("web-v2", 1*d, inState(StateDeleted, nil, nil, nil)), img("web-v1", 9*d)}, "web-v1"},
		{"a newer image still being created is skipped", []Image{img("web-v2", 1*d, withStatus("PENDING")), img("web-v1", 2*d)}, "web-v1"},
		{"images of other families are skipped", []Image{img("web-v2", 1*d, withFamily("api")), img("web-v1", 2*d)}, "web-v1"},
		{"only deprecated images: none", []Image{img("web-v1", 1*d, inState(StateDeprecated, nil, nil, nil))}, ""},
		{"equal creation times: the larger id wins", []Image{img("web-b", 1*d, withID(7)), img("web-a", 1*d, withID(9))}, "web-a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, ok := Head(tt.images, "web")
			if ok != (tt.want != "") || h.Name != tt.want {
				t.Fatalf("Head = %q, %v; want %q", h.Name, ok, tt.want)
			}
			if h2, _ := family(tt.images...).Head(); h2.Name != tt.want {
				t.Fatalf("Snapshot.Head = %q, want %q", h2.Name, tt.want)
			}
		})
	}
}

func TestStates(t *testing.T) {
	for s, rank := range map[State]int{"": 0, StateActive: 0, StateDeprecated: 1, StateObsolete: 2, StateDeleted: 3, "BOGUS": -1} {
		if s.Rank() != rank {
			t.Errorf("%q.Rank() = %d, want %d", s, s.Rank(), rank)
		}
	}
	if State("").Normal() != StateActive {
		t.Errorf(`State("").Normal() is not ACTIVE`)
	}
}

func TestAddUseNormalisesReferences(t *testing.T) {
	s := family(img("web-v1", 1*d, withID(77)), img("web-v2", 1*d))
	tpl := Use{Kind: UseInstanceTemplate, Project: "acme", Name: "tpl"}
	for _, ref := range []string{
		"https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1",
		"http://127.0.0.1:8080/compute/v1/projects/acme/global/images/web-v1",
		"global/images/web-v1",
		"projects/acme/global/images/77",
	} {
		must(s.AddUse(ref, tpl))
	}
	must(s.AddUse("projects/acme/global/images/family/web", tpl))
	must(s.AddUse("projects/acme/global/images/family/api", tpl))
	must(s.AddUse("global/images/web-v2", Use{Kind: UseDisk, Project: "other", Zone: "z", Name: "disk"}))
	if err := s.AddUse("projects/acme/zones/z/disks/d", tpl); err == nil {
		t.Errorf("AddUse accepted a disk path")
	}
	v1, _ := s.Find("web-v1")
	if n := len(s.UsesOf(v1)); n != 4 {
		t.Errorf("web-v1 has %d uses, want 4 (every spelling, the id too)", n)
	}
	v2, _ := s.Find("web-v2")
	if n := len(s.UsesOf(v2)); n != 0 {
		t.Errorf("web-v2 has %d uses, want 0: the disk is in another project, so global/images/web-v2 is that project's image", n)
	}
	if len(s.FamilyUses) != 1 {
		t.Errorf("FamilyUses = %v, want only the template following family web", s.FamilyUses)
	}
	if got := (Use{Kind: UseInstance, Project: "acme", Zone: "us-central1-a", Name: "web-1"}).String(); got != "instance acme/us-central1-a/web-1" {
		t.Errorf("Use.String = %q", got)
	}
}

func TestFindTakesAnySpelling(t *testing.T) {
	s := family(img("web-v1", 1*d, withID(77)))
	for _, ref := range []string{"web-v1", "77", "projects/acme/global/images/web-v1", "https://www.googleapis.com/compute/v1/projects/acme/global/images/77"} {
		if got, ok := s.Find(ref); !ok || got.Name != "web-v1" {
			t.Errorf("Find(%q) = %q, %v", ref, got.Name, ok)
		}
	}
	for _, ref := range []string{"web-v2", "projects/other/global/images/web-v1", "projects/acme/global/images/family/web", ""} {
		if _, ok := s.Find(ref); ok {
			t.Errorf("Find(%q) found an image", ref)
		}
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := family(img("web-v1", 1*d, withLabel("a", "b"), withDates(at(0), nil, nil)))
	must(s.AddUse("web-v1", Use{Kind: UseDisk, Project: "acme", Name: "d"}))
	c := s.Clone()
	c.Images[0].Labels["a"] = "changed"
	*c.Images[0].Deprecation.Deprecated = time.Time{}
	c.Uses[ImageRef{Project: "acme", Name: "web-v1"}][0].Name = "changed"
	if s.Images[0].Labels["a"] != "b" || s.Images[0].Deprecation.Deprecated.IsZero() || s.Uses[ImageRef{Project: "acme", Name: "web-v1"}][0].Name != "d" {
		t.Fatalf("changing the clone changed the original")
	}
}
