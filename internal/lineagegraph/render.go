package lineagegraph

import (
	"fmt"
	"io"
	"strings"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Formats are the renderings, by the name --format takes.
var Formats = map[string]func(io.Writer, Graph) error{
	"mermaid": Mermaid,
	"dot":     DOT,
}

// FormatNames lists the formats in the order help text gives them.
var FormatNames = []string{"mermaid", "dot"}

// Label is the text of a node, one line per fact: the name, then the state
// (with HEAD and a status other than READY), then why it stands out.
func (n Node) Label() []string {
	if n.Gone {
		if n.Family != "" {
			return []string{n.Name, "gone (deleted)"}
		}
		return []string{n.Name, "not read"}
	}
	state := string(n.State.Normal())
	if n.Status != "" {
		state += " " + n.Status
	}
	if n.Head {
		state = "HEAD " + state
	}
	lines := []string{n.Name, state}
	if n.Outdated {
		if n.RebuildOn != "" {
			lines = append(lines, "outdated: rebuild on "+n.RebuildOn)
		} else {
			lines = append(lines, "outdated: the parent family has no head")
		}
	}
	if n.Revoked {
		lines = append(lines, "revoked: "+n.RevokedReason)
	}
	return lines
}

// Classes are the styles a node takes, in this order: its state (active,
// deprecated, obsolete, deleted; gone for an image no longer there), then
// head, outdated and revoked when they apply.
func (n Node) Classes() []string {
	var out []string
	if n.Gone {
		out = append(out, "gone")
	} else {
		out = append(out, strings.ToLower(string(n.State.Normal())))
	}
	if n.Head {
		out = append(out, "head")
	}
	if n.Outdated {
		out = append(out, "outdated")
	}
	if n.Revoked {
		out = append(out, "revoked")
	}
	return out
}

// edgeLabel is what an edge says, by relation: a build on a parent says
// nothing (it is most edges), copies say which kind.
func edgeLabel(r lifecycle.Relation) string {
	switch r {
	case lifecycle.RelationRollbackOf:
		return "rollback copy"
	case lifecycle.RelationPromotedFrom:
		return "promoted"
	}
	return ""
}

// style is one class's look, in both renderers' terms.
type style struct {
	class string
	fill  string // "" leaves the fill as it is
	// stroke and width draw the border; dashed for images that are going
	// or gone.
	stroke string
	width  int
	dashed bool
	color  string // text colour, "" for the default
}

// styles are applied in this order, so a later class wins where two set the
// same thing: a revoked head is drawn revoked.
var styles = []style{
	{class: "active", fill: "#d8f0d8", stroke: "#3c8d3c", width: 1},
	{class: "deprecated", fill: "#fdf1c7", stroke: "#b08900", width: 1},
	{class: "obsolete", fill: "#f6d7b0", stroke: "#b35c00", width: 1},
	{class: "deleted", fill: "#e4e4e4", stroke: "#777777", width: 1, dashed: true, color: "#555555"},
	{class: "gone", fill: "#ffffff", stroke: "#aaaaaa", width: 1, dashed: true, color: "#888888"},
	{class: "head", stroke: "#1a4f8b", width: 3},
	{class: "outdated", stroke: "#e07b00", width: 3},
	{class: "revoked", fill: "#f4c2c2", stroke: "#b00020", width: 2},
}

// errWriter keeps the first write error, so that renderers write plainly.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// Mermaid writes the graph as a Mermaid flowchart (GitLab and GitHub render
// it in Markdown inside a ```mermaid fence): a subgraph per family, images
// oldest first joined by invisible links that keep them in order, an arrow
// from each parent to what was built on it (dotted for copies), and classes
// for the states and marks.
func Mermaid(w io.Writer, g Graph) error {
	ew := &errWriter{w: w}
	ew.printf("%%%% Image lineage of project %s (imagefamily lineage)\n", g.Project)
	ew.printf("flowchart LR\n")
	node := func(indent string, n Node) {
		ew.printf("%s%s[\"%s\"]\n", indent, n.ID, strings.Join(mermaidText(n.Label()), "<br/>"))
	}
	for _, l := range g.Lanes {
		ew.printf("  subgraph %s[\"%s\"]\n", l.ID, mermaidEscape(l.Name()))
		ew.printf("    direction LR\n")
		for _, n := range l.Nodes {
			node("    ", n)
		}
		for i := 1; i < len(l.Nodes); i++ {
			ew.printf("    %s ~~~ %s\n", l.Nodes[i-1].ID, l.Nodes[i].ID)
		}
		ew.printf("  end\n")
	}
	for _, n := range g.Loose {
		node("  ", n)
	}
	for _, e := range g.Edges {
		if label := edgeLabel(e.Relation); label != "" {
			ew.printf("  %s -.->|%s| %s\n", e.From, label, e.To)
		} else {
			ew.printf("  %s --> %s\n", e.From, e.To)
		}
	}
	for _, s := range styles {
		var parts []string
		if s.fill != "" {
			parts = append(parts, "fill:"+s.fill)
		}
		parts = append(parts, "stroke:"+s.stroke, fmt.Sprintf("stroke-width:%dpx", s.width))
		if s.dashed {
			parts = append(parts, "stroke-dasharray:5 3")
		}
		if s.color != "" {
			parts = append(parts, "color:"+s.color)
		}
		ew.printf("  classDef %s %s\n", s.class, strings.Join(parts, ","))
	}
	for _, s := range styles {
		var members []string
		for _, n := range allNodes(g) {
			for _, c := range n.Classes() {
				if c == s.class {
					members = append(members, n.ID)
				}
			}
		}
		if len(members) > 0 {
			ew.printf("  class %s %s\n", strings.Join(members, ","), s.class)
		}
	}
	return ew.err
}

func allNodes(g Graph) []Node {
	var out []Node
	for _, l := range g.Lanes {
		out = append(out, l.Nodes...)
	}
	return append(out, g.Loose...)
}

func mermaidText(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = mermaidEscape(l)
	}
	return out
}

// mermaidEscape writes the characters that end or change a quoted Mermaid
// label as entity codes. Names, states and label values never hold them
// (Compute Engine's rules), but a renderer should not depend on that.
func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "#", "#35;").Replace(s)
}

// legend says what the colours of the DOT picture mean, under its title (a
// picture in docs/ is read without the CLI's help).
const legend = "green ACTIVE, yellow DEPRECATED, orange OBSOLETE, grey dashed DELETED, white dashed gone\n" +
	"blue border: family head, orange border: outdated head, red: revoked; arrows run from parent to child"

// DOT writes the graph for Graphviz (dot -Tsvg): a cluster per family,
// images oldest first joined by invisible edges, an edge from each parent
// to what was built on it (dashed for copies), and the classes' colours.
func DOT(w io.Writer, g Graph) error {
	ew := &errWriter{w: w}
	ew.printf("// Image lineage of project %s (imagefamily lineage --format dot)\n", g.Project)
	ew.printf("digraph lineage {\n")
	ew.printf("  graph [rankdir=LR, fontname=\"Helvetica\", fontsize=12, label=%s, labelloc=t, nodesep=0.25, ranksep=0.45];\n",
		dotQuote("Image lineage of project "+g.Project+"\n"+legend))
	ew.printf("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, margin=\"0.12,0.06\"];\n")
	ew.printf("  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n")
	node := func(indent string, n Node) {
		ew.printf("%s%s [label=%s%s];\n", indent, n.ID, dotQuote(strings.Join(n.Label(), "\n")), dotStyle(n.Classes()))
	}
	for _, l := range g.Lanes {
		ew.printf("  subgraph cluster_%s {\n", l.ID)
		ew.printf("    label=%s; style=\"rounded\"; color=\"#999999\";\n", dotQuote(l.Name()))
		for _, n := range l.Nodes {
			node("    ", n)
		}
		for i := 1; i < len(l.Nodes); i++ {
			ew.printf("    %s -> %s [style=invis];\n", l.Nodes[i-1].ID, l.Nodes[i].ID)
		}
		ew.printf("  }\n")
	}
	for _, n := range g.Loose {
		node("  ", n)
	}
	for _, e := range g.Edges {
		if label := edgeLabel(e.Relation); label != "" {
			ew.printf("  %s -> %s [style=dashed, label=%s];\n", e.From, e.To, dotQuote(label))
		} else {
			ew.printf("  %s -> %s;\n", e.From, e.To)
		}
	}
	ew.printf("}\n")
	return ew.err
}

// dotStyle is a node's attributes for its classes, applied in the order of
// styles.
func dotStyle(classes []string) string {
	s := style{}
	for _, st := range styles {
		for _, c := range classes {
			if c != st.class {
				continue
			}
			if st.fill != "" {
				s.fill = st.fill
			}
			s.stroke, s.width = st.stroke, max(s.width, st.width)
			s.dashed = s.dashed || st.dashed
			if st.color != "" {
				s.color = st.color
			}
		}
	}
	attrs := fmt.Sprintf(", fillcolor=%s, color=%s, penwidth=%d", dotQuote(s.fill), dotQuote(s.stroke), s.width)
	if s.dashed {
		attrs += `, style="rounded,filled,dashed"`
	}
	if s.color != "" {
		attrs += ", fontcolor=" + dotQuote(s.color)
	}
	return attrs
}

// dotQuote writes s as a DOT string; a newline becomes a centred line break.
func dotQuote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
	return `"` + s + `"`
}
