package lifecycle

import (
	"cmp"
	"slices"
)

// Relation is how a descendant came from its parent.
type Relation string

const (
	// RelationBuiltOn: imagefamily-parent-image (a build on top of it).
	RelationBuiltOn Relation = "built-on"
	// RelationPromotedFrom: imagefamily-promoted-from (a copy into another
	// project or family: the same bits).
	RelationPromotedFrom Relation = "promoted-from"
	// RelationRollbackOf: imagefamily-rollback-of (a re-released copy).
	RelationRollbackOf Relation = "rollback-of"
)

// Descendant is an image that comes from the root, directly or not.
type Descendant struct {
	Image      Image
	Parent     ImageRef // the image it comes from directly
	Relation   Relation
	Generation int // 1 for the root's children
}

// LineageLink is one image an image comes from, by its lineage labels.
type LineageLink struct {
	Parent ImageRef
	// Family is the parent's family as the labels say: the parent family
	// of a build, the image's own family for a rollback copy, "" when the
	// labels do not say (a promoted copy).
	Family   string
	Relation Relation
}

// LineageLinks are the images img comes from, by its lineage labels; a
// label without a project means img's own project.
func LineageLinks(img Image) []LineageLink {
	l := LineageOf(img.Labels)
	var out []LineageLink
	add := func(name, project, family string, rel Relation) {
		if name == "" {
			return
		}
		if project == "" {
			project = img.Project
		}
		out = append(out, LineageLink{ImageRef{Project: project, Name: name}, family, rel})
	}
	add(l.ParentImage, l.ParentProject, l.ParentFamily, RelationBuiltOn)
	add(l.PromotedFrom, l.PromotedFromProject, "", RelationPromotedFrom)
	add(l.RollbackOf, "", img.Family, RelationRollbackOf)
	return out
}

// Descendants finds every image that comes from root through any number of
// generations and families, by lineage labels: builds on it, promoted copies
// and rollback copies (copies carry the same bits, so revoking the root
// concerns them too). A root without a project stands for every image of
// that name, in any project. Images are given with their Project set. The result is
// ordered by generation, then project and name; the root itself is left out.
func Descendants(images []Image, root ImageRef) []Descendant {
	children := map[ImageRef][]int{}
	byName := map[string][]int{}
	for i, img := range images {
		for _, ln := range LineageLinks(img) {
			children[ln.Parent] = append(children[ln.Parent], i)
			byName[ln.Parent.Name] = append(byName[ln.Parent.Name], i)
		}
	}
	root.Family = false
	visited := map[ImageRef]bool{root: true}
	for _, img := range images {
		if img.Ref() == root || (root.Project == "" && img.Name == root.Name) {
			visited[img.Ref()] = true
		}
	}
	var out []Descendant
	frontier := []ImageRef{root}
	for gen := 1; len(frontier) > 0; gen++ {
		var next []ImageRef
		var found []Descendant
		for _, parent := range frontier {
			cands := children[parent]
			if parent.Project == "" {
				cands = byName[parent.Name]
			}
			for _, i := range slices.Compact(slices.Sorted(slices.Values(cands))) {
				img := images[i]
				if visited[img.Ref()] {
					continue
				}
				for _, ln := range LineageLinks(img) {
					if ln.Parent == parent || (parent.Project == "" && ln.Parent.Name == parent.Name) {
						visited[img.Ref()] = true
						found = append(found, Descendant{Image: img.Clone(), Parent: ln.Parent, Relation: ln.Relation, Generation: gen})
						next = append(next, img.Ref())
						break
					}
				}
			}
		}
		slices.SortFunc(found, func(a, b Descendant) int {
			return cmp.Or(cmp.Compare(a.Image.Project, b.Image.Project), cmp.Compare(a.Image.Name, b.Image.Name))
		})
		out = append(out, found...)
		frontier = next
	}
	return out
}
