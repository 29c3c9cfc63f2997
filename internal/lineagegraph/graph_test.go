package lineagegraph

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	goldenfile "github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.mmd and *.dot with the outputs seen")

var t0 = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

// img is an image of family in project, created at t0 plus minutes, with
// labels as key, value pairs.
func img(project, family, name string, minutes int, state lifecycle.State, kv ...string) lifecycle.Image {
	i := lifecycle.Image{Project: project, Family: family, Name: name, CreatedAt: t0.Add(time.Duration(minutes) * time.Minute),
		Status: "READY", Deprecation: lifecycle.Deprecation{State: state}, Labels: map[string]string{}}
	for k := 0; k+1 < len(kv); k += 2 {
		i.Labels[kv[k]] = kv[k+1]
	}
	return i
}

// on is the lineage labels of a build on parent (family, project).
func on(parent, family, project string) []string {
	return []string{lifecycle.LabelParentImage, parent, lifecycle.LabelParentFamily, family, lifecycle.LabelParentProject, project}
}

func pending(i lifecycle.Image) lifecycle.Image {
	i.Status = "PENDING"
	return i
}

func snap(project, family string, images ...lifecycle.Image) lifecycle.Snapshot {
	return lifecycle.Snapshot{Project: project, Family: family, Images: images}
}

// hierarchy is the demo's: Debian's family (another project, with images
// nothing here was built on), base -> app -> product, where base-v1 and
// app-v1 are purged, base-v2 is revoked with what was built on it, product
// was rolled back to a copy of product-v1 and its head is outdated.
func hierarchy() []lifecycle.Snapshot {
	const p = "acme-images"
	revoked := []string{lifecycle.LabelRevokedReason, "cve-2026-0001"}
	return []lifecycle.Snapshot{
		snap("debian-cloud", "debian-12",
			img("debian-cloud", "debian-12", "debian-12-v1", -100, lifecycle.StateDeprecated),
			img("debian-cloud", "debian-12", "debian-12-v2", -50, ""),
			img("debian-cloud", "debian-12", "debian-12-v3", -10, "")),
		snap(p, "base",
			img(p, "base", "base-v2", 10, lifecycle.StateObsolete, append(on("debian-12-v2", "debian-12", "debian-cloud"), revoked...)...),
			img(p, "base", "base-v3", 20, "", on("debian-12-v3", "debian-12", "debian-cloud")...)),
		snap(p, "app",
			img(p, "app", "app-v2", 11, lifecycle.StateDeleted, append(on("base-v2", "base", p), revoked...)...),
			img(p, "app", "app-v3", 21, "", on("base-v3", "base", p)...),
			img(p, "app", "app-v0", 1, lifecycle.StateObsolete, on("base-v1", "base", p)...)),
		snap(p, "product",
			img(p, "product", "product-v1", 2, lifecycle.StateDeprecated, on("app-v0", "app", p)...),
			img(p, "product", "product-v3", 22, lifecycle.StateDeprecated, on("app-v3", "app", p)...),
			img(p, "product", "product-v1-copy", 30, "", append(on("app-v0", "app", p), lifecycle.LabelRollbackOf, "product-v1")...)),
	}
}

// renderCase is a set of families and the name of its golden files
// (testdata/NAME.mmd, NAME.dot).
type renderCase struct {
	name     string
	families []lifecycle.Snapshot
}

// renderCases are the pictures rendered, golden-compared and given to
// Graphviz and mermaid: every kind of node, edge and lane there is.
func renderCases() []renderCase {
	const p = "acme-images"
	return []renderCase{
		{"hierarchy", hierarchy()},
		{"one_family_without_lineage", []lifecycle.Snapshot{snap(p, "web",
			img(p, "web", "web-v1", 0, lifecycle.StateDeprecated), img(p, "web", "web-v2", 5, ""))}},
		{"parent_family_not_read", []lifecycle.Snapshot{snap(p, "svc",
			img(p, "svc", "svc-v1", 0, "", lifecycle.LabelParentImage, "os-v1"),
			img(p, "svc", "svc-v2", 5, "", on("os-v2", "os", "shared")...))}},
		{"promoted_copy_and_pending_image", []lifecycle.Snapshot{
			snap(p, "web", img(p, "web", "web-v1", 0, ""), pending(img(p, "web", "web-v2", 6, ""))),
			snap("acme-prod", "web",
				img("acme-prod", "web", "web-v1-prod", 5, "", lifecycle.LabelPromotedFrom, "web-v1", lifecycle.LabelPromotedFromProject, p))}},
		{"parent_named_with_and_without_its_family", []lifecycle.Snapshot{
			snap(p, "base", img(p, "base", "base-v1", 5, "")),
			snap(p, "app",
				img(p, "app", "app-v1", 1, lifecycle.StateDeprecated, lifecycle.LabelParentImage, "base-v0"),
				img(p, "app", "app-v2", 6, "", on("base-v0", "base", p)...))}},
		{"families_built_on_each_other", []lifecycle.Snapshot{
			snap(p, "a", img(p, "a", "a-v1", 0, "", on("b-v1", "b", p)...)),
			snap(p, "b", img(p, "b", "b-v1", 1, "", on("a-v1", "a", p)...))}},
		{"no_families", nil},
	}
}

func TestRenderingsMatchTheirGoldenFiles(t *testing.T) {
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			g := Build("acme-images", c.families)
			for _, f := range FormatNames {
				var b bytes.Buffer
				if err := Formats[f](&b, g); err != nil {
					t.Fatal(err)
				}
				golden(t, c.name+"."+map[string]string{"mermaid": "mmd", "dot": "dot"}[f], b.String())
			}
		})
	}
}

func TestBuildMarksHeadsOutdatedRevokedAndGoneImages(t *testing.T) {
	g := Build("acme-images", hierarchy())
	type mark struct {
		lane                          string
		head, outdated, revoked, gone bool
		state                         lifecycle.State
		rebuildOn                     string
	}
	got := map[string]mark{}
	for _, l := range g.Lanes {
		for _, n := range l.Nodes {
			got[n.Name] = mark{l.Name(), n.Head, n.Outdated, n.Revoked, n.Gone, n.State, n.RebuildOn}
		}
	}
	want := map[string]mark{
		// Outside the project: only what was built on, and the head.
		"debian-12-v2":    {lane: "debian-cloud/debian-12", state: "ACTIVE"},
		"debian-12-v3":    {lane: "debian-cloud/debian-12", head: true, state: "ACTIVE"},
		"base-v1":         {lane: "acme-images/base", gone: true},
		"base-v2":         {lane: "acme-images/base", revoked: true, state: "OBSOLETE"},
		"base-v3":         {lane: "acme-images/base", head: true, state: "ACTIVE"},
		"app-v0":          {lane: "acme-images/app", state: "OBSOLETE"},
		"app-v2":          {lane: "acme-images/app", revoked: true, state: "DELETED"},
		"app-v3":          {lane: "acme-images/app", head: true, state: "ACTIVE"},
		"product-v1":      {lane: "acme-images/product", state: "DEPRECATED"},
		"product-v3":      {lane: "acme-images/product", state: "DEPRECATED"},
		"product-v1-copy": {lane: "acme-images/product", head: true, outdated: true, state: "ACTIVE", rebuildOn: "app-v3"},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, want %+v", name, got[name], w)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s is in the picture: want it left out (an image of another project's family that nothing was built on)", name)
		}
	}
	var lanes []string
	for _, l := range g.Lanes {
		lanes = append(lanes, l.Name())
	}
	if w := []string{"debian-cloud/debian-12", "acme-images/base", "acme-images/app", "acme-images/product"}; !slices.Equal(lanes, w) {
		t.Errorf("lanes %v, want parents before children: %v", lanes, w)
	}
	var order []string
	for _, n := range g.Lanes[2].Nodes {
		order = append(order, n.Name)
	}
	if w := []string{"app-v0", "app-v2", "app-v3"}; !slices.Equal(order, w) {
		t.Errorf("app lane %v, want oldest first %v", order, w)
	}
}

func TestBuildEdgesFollowEveryLineageLabel(t *testing.T) {
	g := Build("acme-images", hierarchy())
	type edge struct {
		from, to string
		rel      lifecycle.Relation
	}
	var got []edge
	for _, e := range g.Edges {
		f, _ := nodeByID(g, e.From)
		to, _ := nodeByID(g, e.To)
		got = append(got, edge{f.Name, to.Name, e.Relation})
	}
	want := []edge{
		{"debian-12-v2", "base-v2", lifecycle.RelationBuiltOn},
		{"debian-12-v3", "base-v3", lifecycle.RelationBuiltOn},
		{"base-v1", "app-v0", lifecycle.RelationBuiltOn},
		{"base-v2", "app-v2", lifecycle.RelationBuiltOn},
		{"base-v3", "app-v3", lifecycle.RelationBuiltOn},
		{"app-v0", "product-v1", lifecycle.RelationBuiltOn},
		{"app-v3", "product-v3", lifecycle.RelationBuiltOn},
		{"app-v0", "product-v1-copy", lifecycle.RelationBuiltOn},
		{"product-v1", "product-v1-copy", lifecycle.RelationRollbackOf},
	}
	if !slices.Equal(got, want) {
		t.Errorf("edges\n got %v\nwant %v", got, want)
	}
}

func TestBuildIsTheSameWhateverOrderTheFamiliesAndImagesWereReadIn(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range renderCases() {
		var want bytes.Buffer
		if err := Mermaid(&want, Build("acme-images", c.families)); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			fams := renderCaseFamilies(c.name)
			r.Shuffle(len(fams), func(a, b int) { fams[a], fams[b] = fams[b], fams[a] })
			for _, f := range fams {
				r.Shuffle(len(f.Images), func(a, b int) { f.Images[a], f.Images[b] = f.Images[b], f.Images[a] })
			}
			var got bytes.Buffer
			if err := Mermaid(&got, Build("acme-images", fams)); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("%s, shuffle %d, renders differently:\n%s\nwant:\n%s", c.name, i, got.String(), want.String())
			}
		}
	}
}

// renderCaseFamilies is a fresh copy of a render case's families.
func renderCaseFamilies(name string) []lifecycle.Snapshot {
	for _, c := range renderCases() {
		if c.name == name {
			return c.families
		}
	}
	return nil
}

func TestParentFamiliesAreTheFamiliesLineageLabelsName(t *testing.T) {
	const p = "acme-images"
	cases := []struct {
		name string
		s    lifecycle.Snapshot
		want []lifecycle.FamilyRef
	}{
		{"every image's parent family, not only the head's", snap(p, "app",
			img(p, "app", "app-v1", 0, lifecycle.StateDeprecated, on("os-v1", "os", "shared")...),
			img(p, "app", "app-v2", 1, "", on("base-v2", "base", p)...)),
			[]lifecycle.FamilyRef{{Project: p, Family: "base"}, {Project: "shared", Family: "os"}}},
		{"a parent project left out means the image's", snap(p, "app",
			img(p, "app", "app-v1", 0, "", lifecycle.LabelParentImage, "base-v1", lifecycle.LabelParentFamily, "base")),
			[]lifecycle.FamilyRef{{Project: p, Family: "base"}}},
		{"each family once", snap(p, "app",
			img(p, "app", "app-v1", 0, "", on("base-v1", "base", p)...),
			img(p, "app", "app-v2", 1, "", on("base-v1", "base", p)...)),
			[]lifecycle.FamilyRef{{Project: p, Family: "base"}}},
		{"no parent family label, and a rollback copy's own family: nothing to read", snap(p, "app",
			img(p, "app", "app-v1", 0, "", lifecycle.LabelParentImage, "base-v1"),
			img(p, "app", "app-v2", 1, "", lifecycle.LabelRollbackOf, "app-v1")),
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ParentFamilies(c.s); !slices.Equal(got, c.want) {
				t.Errorf("ParentFamilies = %v, want %v", got, c.want)
			}
		})
	}
}

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, *update)
}

// nodeByID finds a node of g by ID.
func nodeByID(g Graph, id string) (Node, bool) {
	for _, l := range g.Lanes {
		for _, n := range l.Nodes {
			if n.ID == id {
				return n, true
			}
		}
	}
	for _, n := range g.Loose {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}
