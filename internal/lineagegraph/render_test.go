package lineagegraph

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
)

// These tests run the renderers' consumers: Graphviz's dot (`make graphviz`
// installs it from apt) and mermaid's own parser under Node (`make mermaid`
// installs it with npm ci from tools/mermaid). A missing tool fails them,
// with the command that installs it.

// svg is the part of dot's SVG output these tests read: each node's and
// cluster's <title> (the DOT name) and its text lines.
type svg struct {
	Groups []svgGroup `xml:"g>g"`
}

type svgGroup struct {
	Class string   `xml:"class,attr"`
	Title string   `xml:"title"`
	Texts []string `xml:"text"`
}

func TestDOTRendersToSVGWithGraphviz(t *testing.T) {
	dot, err := exec.LookPath("dot")
	if err != nil {
		t.Fatalf("Graphviz's dot is not on PATH: run `make graphviz` (make test does), which installs the Debian package graphviz: %v", err)
	}
	for _, c := range renderCases() {
		t.Run(c.name, func(t *testing.T) {
			g := Build("acme-images", c.families)
			var src bytes.Buffer
			if err := DOT(&src, g); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(dot, "-Tsvg")
			cmd.Stdin = &src
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("dot -Tsvg: %v\n%s\nsource:\n%s", err, stderr.String(), src.String())
			}
			var doc svg
			if err := xml.Unmarshal(out, &doc); err != nil {
				t.Fatalf("dot wrote no SVG: %v\n%s", err, out)
			}
			nodes := map[string][]string{}
			clusters := map[string][]string{}
			var edges []string
			for _, grp := range doc.Groups {
				switch grp.Class {
				case "node":
					nodes[grp.Title] = grp.Texts
				case "cluster":
					clusters[grp.Title] = grp.Texts
				case "edge":
					edges = append(edges, grp.Title)
				}
			}
			for _, n := range allNodes(g) {
				if got := nodes[n.ID]; !slices.Equal(got, n.Label()) {
					t.Errorf("node %s drawn with text %q, want %q", n.ID, got, n.Label())
				}
			}
			if len(nodes) != len(allNodes(g)) {
				t.Errorf("%d nodes drawn, want %d", len(nodes), len(allNodes(g)))
			}
			for _, l := range g.Lanes {
				if got := clusters["cluster_"+l.ID]; !slices.Equal(got, []string{l.Name()}) {
					t.Errorf("lane %s drawn titled %q, want %q", l.ID, got, l.Name())
				}
			}
			// The invisible edges that keep a lane in order are not drawn.
			var want []string
			for _, e := range g.Edges {
				want = append(want, e.From+"->"+e.To)
			}
			slices.Sort(edges) // dot draws them in an order of its own
			slices.Sort(want)
			if !slices.Equal(edges, want) {
				t.Errorf("edges drawn %v, want %v", edges, want)
			}
		})
	}
}

// parsed is what tools/mermaid/check.mjs prints: mermaid's own model of the
// diagram.
type parsed struct {
	Type     string `json:"type"`
	Vertices []struct {
		ID      string   `json:"id"`
		Text    string   `json:"text"`
		Classes []string `json:"classes"`
	} `json:"vertices"`
	Edges []struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Type   string `json:"type"`
		Stroke string `json:"stroke"`
		Text   string `json:"text"`
	} `json:"edges"`
	Subgraphs []struct {
		ID    string   `json:"id"`
		Title string   `json:"title"`
		Nodes []string `json:"nodes"`
	} `json:"subgraphs"`
	ClassDefs []string `json:"classDefs"`
}

func TestMermaidParsesWithMermaidsOwnParser(t *testing.T) {
	root := modroot.Dir(t)
	bin := os.Getenv("IMAGEFAMILY_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin")
	}
	modules := filepath.Join(bin, "mermaid", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "mermaid", "package.json")); err != nil {
		t.Fatalf("mermaid is not installed in %s: run `make mermaid` (make test does), which installs tools/mermaid's pinned packages with npm ci", modules)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20) is not on PATH: %v", err)
	}
	// Every case in one run of node: it and mermaid take seconds to start.
	cases := renderCases()
	dir := t.TempDir()
	graphs := make([]Graph, len(cases))
	files := make([]string, len(cases))
	for i, c := range cases {
		graphs[i] = Build("acme-images", c.families)
		var src bytes.Buffer
		if err := Mermaid(&src, graphs[i]); err != nil {
			t.Fatal(err)
		}
		files[i] = filepath.Join(dir, c.name+".mmd")
		if err := os.WriteFile(files[i], src.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(node, append([]string{filepath.Join(root, "tools", "mermaid", "check.mjs")}, files...)...)
	cmd.Env = append(os.Environ(), "MERMAID_MODULES="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mermaid rejects a diagram: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("check.mjs printed %d results for %d diagrams:\n%s", len(lines), len(cases), out)
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p parsed
			if err := json.Unmarshal([]byte(lines[i]), &p); err != nil {
				t.Fatalf("check.mjs printed no JSON: %v\n%s", err, lines[i])
			}
			if p.Type != "flowchart-v2" {
				t.Errorf("mermaid read a %q diagram, want flowchart-v2", p.Type)
			}
			checkVertices(t, graphs[i], p)
			checkEdges(t, graphs[i], p)
			checkSubgraphs(t, graphs[i], p)
			for _, s := range styles {
				if !slices.Contains(p.ClassDefs, s.class) {
					t.Errorf("class %s is not defined (classDefs %v)", s.class, p.ClassDefs)
				}
			}
		})
	}
}

func checkVertices(t *testing.T, g Graph, p parsed) {
	t.Helper()
	nodes := allNodes(g)
	if len(p.Vertices) != len(nodes) {
		t.Errorf("mermaid read %d vertices, want %d", len(p.Vertices), len(nodes))
	}
	for _, n := range nodes {
		i := slices.IndexFunc(p.Vertices, func(v struct {
			ID      string   `json:"id"`
			Text    string   `json:"text"`
			Classes []string `json:"classes"`
		}) bool {
			return v.ID == n.ID
		})
		if i < 0 {
			t.Errorf("node %s (%s) is not among mermaid's vertices", n.ID, n.Name)
			continue
		}
		v := p.Vertices[i]
		// mermaid keeps the label's line breaks as <br>.
		if want := strings.Join(n.Label(), "<br>"); v.Text != want {
			t.Errorf("node %s reads %q, want %q", n.ID, v.Text, want)
		}
		if !slices.Equal(v.Classes, n.Classes()) {
			t.Errorf("node %s has classes %v, want %v", n.ID, v.Classes, n.Classes())
		}
	}
}

func checkEdges(t *testing.T, g Graph, p parsed) {
	t.Helper()
	type edge struct{ from, to, kind, stroke, text string }
	var want []edge
	for _, l := range g.Lanes {
		for i := 1; i < len(l.Nodes); i++ {
			want = append(want, edge{l.Nodes[i-1].ID, l.Nodes[i].ID, "arrow_open", "invisible", ""})
		}
	}
	for _, e := range g.Edges {
		switch e.Relation {
		case lifecycle.RelationBuiltOn:
			want = append(want, edge{e.From, e.To, "arrow_point", "normal", ""})
		default:
			want = append(want, edge{e.From, e.To, "arrow_point", "dotted", edgeLabel(e.Relation)})
		}
	}
	var got []edge
	for _, e := range p.Edges {
		got = append(got, edge{e.From, e.To, e.Type, e.Stroke, e.Text})
	}
	if !slices.Equal(got, want) {
		t.Errorf("mermaid read the edges\n %v\nwant\n %v", got, want)
	}
}

func checkSubgraphs(t *testing.T, g Graph, p parsed) {
	t.Helper()
	if len(p.Subgraphs) != len(g.Lanes) {
		t.Errorf("mermaid read %d subgraphs, want one per lane: %d", len(p.Subgraphs), len(g.Lanes))
	}
	for i, l := range g.Lanes {
		if i >= len(p.Subgraphs) {
			break
		}
		var ids []string
		for _, n := range l.Nodes {
			ids = append(ids, n.ID)
		}
		s := p.Subgraphs[i]
		slices.Sort(s.Nodes)
		slices.Sort(ids)
		if s.Title != l.Name() || !slices.Equal(s.Nodes, ids) {
			t.Errorf("subgraph %s %q holds %v, want lane %s %q holding %v", s.ID, s.Title, s.Nodes, l.ID, l.Name(), ids)
		}
	}
}
