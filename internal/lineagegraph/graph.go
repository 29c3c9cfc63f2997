// Package lineagegraph turns the images of a project's families into the
// picture of their lineage: one lane per family, its images oldest first,
// the head marked, an edge from each image to the images it comes from (the
// lineage labels the release, rollback and promote write), outdated heads
// and revoked images marked, every image's state shown. Build is pure and
// deterministic (the same families give the same graph, whatever order they
// were read in); Mermaid and DOT render it as text. `imagefamily lineage`
// reads the families and prints one of them.
package lineagegraph

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Graph is the lineage picture of a project's families.
type Graph struct {
	// Project is the project asked for; lanes of other projects hold its
	// families' parents.
	Project string
	Lanes   []Lane
	// Loose are images named by lineage labels whose family is not known:
	// the label names no family and the image is in no family read.
	Loose []Node
	// Edges run from the image come from (parent, source) to the image
	// that comes from it, ordered by the child's place in the picture.
	Edges []Edge
}

// Lane is one family.
type Lane struct {
	ID      string // f1, f2, ...: safe in both renderers
	Project string
	Family  string
	// Outside: the family is in another project than the one asked for,
	// read because images of it are parents. Its lane shows only the
	// images named as parents, and its head.
	Outside bool
	// Nodes are the family's images, oldest first; images named by lineage
	// labels but no longer in the family (purged) come first, by name.
	Nodes []Node
}

// Name is the lane's title: project/family.
func (l Lane) Name() string { return l.Project + "/" + l.Family }

// Node is one image.
type Node struct {
	ID      string // n1, n2, ...
	Project string
	Name    string
	Family  string
	State   lifecycle.State
	// Status is Compute Engine's status when it is not READY (PENDING,
	// FAILED); empty for READY.
	Status string
	Head   bool
	// Outdated: a head built on an image that is no longer its parent
	// family's head. RebuildOn is that family's head now ("" when it has
	// none).
	Outdated  bool
	RebuildOn string
	// Revoked: imagefamily revoke wrote its reason label.
	Revoked       bool
	RevokedReason string
	// Gone: named by a lineage label but not among the images read: purged
	// from a family that was read (its lane holds it), or never read
	// (Loose).
	Gone bool
}

// Edge is one lineage link: To comes from From.
type Edge struct {
	From, To string // node IDs
	Relation lifecycle.Relation
}

type familyKey struct{ project, family string }

// links are img's lineage links, a label without a project meaning
// project when the image was read without one.
func links(project string, img lifecycle.Image) []lifecycle.LineageLink {
	if img.Project == "" {
		img.Project = project
	}
	return lifecycle.LineageLinks(img)
}

// ParentFamilies are the families that the lineage labels of the snapshot's
// images name as their parents' (imagefamily-parent-family and -project; a
// rollback copy's source is in its own family), other than the snapshot's
// own, each once, sorted. A reader of the picture reads them too, and
// theirs, until no new family turns up.
func ParentFamilies(s lifecycle.Snapshot) []lifecycle.FamilyRef {
	var out []lifecycle.FamilyRef
	for _, img := range s.Images {
		for _, ln := range links(s.Project, img) {
			f := lifecycle.FamilyRef{Project: ln.Parent.Project, Family: ln.Family}
			if f.Family == "" || (f.Project == s.Project && f.Family == s.Family) || slices.Contains(out, f) {
				continue
			}
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b lifecycle.FamilyRef) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Family, b.Family))
	})
	return out
}

// Build makes the picture of project's families. families are the
// project's families and the parent families read for them (ParentFamilies),
// in any order; a family given twice counts once (the first). Images are
// taken with their project set, as the Compute Engine client returns them.
func Build(project string, families []lifecycle.Snapshot) Graph {
	g := Graph{Project: project}
	byFamily := map[familyKey]lifecycle.Snapshot{}
	var keys []familyKey
	for _, s := range families {
		k := familyKey{s.Project, s.Family}
		if _, dup := byFamily[k]; dup {
			continue
		}
		byFamily[k] = s
		keys = append(keys, k)
	}
	snaps := make([]lifecycle.Snapshot, 0, len(keys))
	for _, k := range keys {
		snaps = append(snaps, byFamily[k])
	}

	// Where every image read lives, and which images lineage labels name.
	where := map[lifecycle.ImageRef]familyKey{}
	for _, s := range snaps {
		for _, img := range familyImages(s) {
			where[refIn(s.Project, img)] = familyKey{s.Project, s.Family}
		}
	}
	named := map[lifecycle.ImageRef]bool{}
	childLinks := map[lifecycle.ImageRef][]lifecycle.LineageLink{}
	parentsOf := map[familyKey][]familyKey{} // family-level edges, for lane order
	ghosts := map[familyKey][]string{}       // purged parents, by the family they were in
	var loose []lifecycle.ImageRef
	// A family of thousands of images may name as many parents: sets, not
	// searches of the lists. A parent some label places in a family read
	// (a ghost there) is not loose, whichever label came first.
	ghost, isLoose := map[lifecycle.ImageRef]bool{}, map[lifecycle.ImageRef]bool{}
	for _, s := range snaps {
		k := familyKey{s.Project, s.Family}
		for _, img := range familyImages(s) {
			for _, ln := range links(s.Project, img) {
				ref := refIn(s.Project, img)
				childLinks[ref] = append(childLinks[ref], ln)
				named[ln.Parent] = true
				pk, ok := where[ln.Parent]
				if !ok && ln.Family != "" {
					pk, ok = familyKey{ln.Parent.Project, ln.Family}, true
					if _, read := byFamily[pk]; read {
						if !ghost[ln.Parent] {
							ghost[ln.Parent] = true
							ghosts[pk] = append(ghosts[pk], ln.Parent.Name)
						}
					} else {
						ok = false
					}
				}
				if !ok {
					if !isLoose[ln.Parent] {
						isLoose[ln.Parent] = true
						loose = append(loose, ln.Parent)
					}
					continue
				}
				if pk != k && !slices.Contains(parentsOf[k], pk) {
					parentsOf[k] = append(parentsOf[k], pk)
				}
			}
		}
	}

	// Lanes: families built on no family read first, then by depth,
	// project (the asked project's before others at the same depth) and
	// name.
	depth := map[familyKey]int{}
	var depthOf func(k familyKey, seen map[familyKey]bool) int
	depthOf = func(k familyKey, seen map[familyKey]bool) int {
		if d, ok := depth[k]; ok {
			return d
		}
		if seen[k] {
			return 0 // a cycle of families: cut here
		}
		seen[k] = true
		d := 0
		for _, p := range parentsOf[k] {
			d = max(d, depthOf(p, seen)+1)
		}
		delete(seen, k)
		depth[k] = d
		return d
	}
	// A cycle of families is cut where the walk meets it again, so the walk
	// starts in an order of its own, not the order the families came in.
	slices.SortFunc(keys, func(a, b familyKey) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.family, b.family))
	})
	for _, k := range keys {
		depthOf(k, map[familyKey]bool{})
	}
	slices.SortFunc(keys, func(a, b familyKey) int {
		return cmp.Or(cmp.Compare(depth[a], depth[b]),
			cmpBool(a.project != project, b.project != project),
			cmp.Compare(a.project, b.project), cmp.Compare(a.family, b.family))
	})

	verdicts := map[familyKey]lifecycle.HeadLineage{}
	for _, h := range lifecycle.CheckLineage(snaps) {
		verdicts[familyKey{h.Project, h.Family}] = h
	}

	ids := map[lifecycle.ImageRef]string{}
	next := 0
	id := func(ref lifecycle.ImageRef) string {
		next++
		ids[ref] = fmt.Sprintf("n%d", next)
		return ids[ref]
	}
	for i, k := range keys {
		s := byFamily[k]
		lane := Lane{ID: fmt.Sprintf("f%d", i+1), Project: k.project, Family: k.family, Outside: k.project != project}
		gone := slices.Clone(ghosts[k])
		slices.Sort(gone)
		for _, name := range gone {
			ref := lifecycle.ImageRef{Project: k.project, Name: name}
			lane.Nodes = append(lane.Nodes, Node{ID: id(ref), Project: k.project, Name: name, Family: k.family, Gone: true})
		}
		head, hasHead := s.Head()
		imgs := familyImages(s)
		slices.SortFunc(imgs, func(a, b lifecycle.Image) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Name, b.Name))
		})
		for _, img := range imgs {
			ref := refIn(k.project, img)
			isHead := hasHead && img.Name == head.Name
			if lane.Outside && !isHead && !named[ref] {
				continue
			}
			n := Node{ID: id(ref), Project: k.project, Name: img.Name, Family: k.family, State: img.State(), Head: isHead}
			if !img.Ready() {
				n.Status = img.Status
			}
			if r := img.Labels[lifecycle.LabelRevokedReason]; r != "" {
				n.Revoked, n.RevokedReason = true, r
			}
			if h := verdicts[k]; isHead && h.Verdict == lifecycle.VerdictOutdated {
				n.Outdated = true
				if h.RebuildOn != nil {
					n.RebuildOn = h.RebuildOn.Name
				}
			}
			lane.Nodes = append(lane.Nodes, n)
		}
		g.Lanes = append(g.Lanes, lane)
	}
	loose = slices.DeleteFunc(loose, func(r lifecycle.ImageRef) bool { return ghost[r] })
	slices.SortFunc(loose, func(a, b lifecycle.ImageRef) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Name, b.Name))
	})
	for _, ref := range loose {
		g.Loose = append(g.Loose, Node{ID: id(ref), Project: ref.Project, Name: ref.Name, Gone: true})
	}

	// Edges in the order of their children, then of the relations.
	for _, lane := range g.Lanes {
		for _, n := range lane.Nodes {
			for _, ln := range childLinks[lifecycle.ImageRef{Project: n.Project, Name: n.Name}] {
				from, ok := ids[ln.Parent]
				if !ok {
					continue // cannot happen: every parent named is a node (in a lane, a ghost or loose)
				}
				g.Edges = append(g.Edges, Edge{From: from, To: n.ID, Relation: ln.Relation})
			}
		}
	}
	return g
}

// familyImages are the snapshot's images that belong to its family.
func familyImages(s lifecycle.Snapshot) []lifecycle.Image {
	var out []lifecycle.Image
	for _, img := range s.Images {
		if img.Family == s.Family && (img.Project == "" || img.Project == s.Project) {
			out = append(out, img)
		}
	}
	return out
}

func refIn(project string, img lifecycle.Image) lifecycle.ImageRef {
	return img.Ref().WithDefaultProject(project)
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
