package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/immutable-infra/packer-plugin-imagefamily"

// rule is one row of the table in docs/architecture.md.
type rule struct {
	imports     []string // what the package may import
	testImports []string // what its tests may import besides
}

// TestImportsFollowTheArchitecturePage holds every package of the module to
// the table in docs/architecture.md: a component that imports another
// component, a package that imports upward, a package the table does not
// know, and a table entry the tree does not match all fail.
func TestImportsFollowTheArchitecturePage(t *testing.T) {
	rules := readRules(t, "docs/architecture.md")
	pkgs := listPackages(t)

	for _, p := range pkgs {
		r, ok := rules[p.path]
		if !ok {
			t.Errorf("package %s is not in docs/architecture.md: add its row (what it may import) and its paragraph", p.path)
			continue
		}
		checkEdges(t, p.path, "imports", p.imports, r.imports)
		var testOnly []string
		for _, imp := range p.testImports {
			if imp != p.path && !slices.Contains(p.imports, imp) {
				testOnly = append(testOnly, imp)
			}
		}
		checkEdges(t, p.path, "tests import", testOnly, r.testImports)
	}
	for path := range rules {
		if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.path == path }) {
			t.Errorf("docs/architecture.md has a row for %s, which is not a package of the tree: remove it", path)
		}
	}
}

// checkEdges compares what a package imports with what the table allows,
// both ways, so that the page stays a description of the tree.
func checkEdges(t *testing.T, path, what string, got, allowed []string) {
	t.Helper()
	for _, imp := range got {
		if !slices.Contains(allowed, imp) {
			t.Errorf("%s %s %s, which docs/architecture.md does not allow", path, what, imp)
		}
	}
	for _, imp := range allowed {
		if !slices.Contains(got, imp) {
			t.Errorf("docs/architecture.md says %s %s %s, which it does not: remove it from the table", path, what, imp)
		}
	}
}

// TestComponentsNeverImportEachOther states the rule the table encodes for
// the four components, so that an edit of the table cannot quietly undo it.
func TestComponentsNeverImportEachOther(t *testing.T) {
	components := []string{"datasource/family", "datasource/imagename", "builder/promote", "post-processor/release"}
	rules := readRules(t, "docs/architecture.md")
	for path, r := range rules {
		if path == "." {
			continue // main registers them
		}
		for _, imp := range append(slices.Clone(r.imports), r.testImports...) {
			if slices.Contains(components, imp) {
				t.Errorf("docs/architecture.md lets %s import the component %s: what they share belongs in internal/", path, imp)
			}
		}
	}
}

var (
	rowRE  = regexp.MustCompile("^\\| `([^`]+)` \\|(.*)\\|(.*)\\|$")
	pathRE = regexp.MustCompile("`([^`]+)`")
)

// readRules parses the table's rows: | `pkg` | `a`, `b` | `c` |.
func readRules(t *testing.T, name string) map[string]rule {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules := map[string]rule{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		m := rowRE.FindStringSubmatch(strings.TrimSpace(s.Text()))
		if m == nil {
			continue
		}
		if _, dup := rules[m[1]]; dup {
			t.Errorf("%s: %s has two rows", name, m[1])
		}
		rules[m[1]] = rule{imports: paths(m[2]), testImports: paths(m[3])}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no table of packages", name)
	}
	return rules
}

func paths(cell string) []string {
	var out []string
	for _, m := range pathRE.FindAllStringSubmatch(cell, -1) {
		out = append(out, m[1])
	}
	return out
}

// pkg is a package of the module with its imports of the module's own
// packages, as paths relative to the module.
type pkg struct {
	path        string
	imports     []string
	testImports []string
}

// listPackages asks the go command, which knows build tags and test files
// as the build does.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	openSources(t)
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, pkg{
			path:        rel(p.ImportPath),
			imports:     own(p.Imports),
			testImports: own(append(p.TestImports, p.XTestImports...)),
		})
	}
	return pkgs
}

// openSources opens every Go file of the module. go test caches a passing
// result by the files the test opened, and it cannot see what go list read:
// without this, an import added after a passing run would pass from the
// cache.
func openSources(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "tools" || d.Name() == "bin" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		return f.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// own keeps the module's packages, relative to the module, sorted and once.
func own(imports []string) []string {
	var out []string
	for _, imp := range imports {
		if imp == module || strings.HasPrefix(imp, module+"/") {
			out = append(out, rel(imp))
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func rel(importPath string) string {
	if importPath == module {
		return "."
	}
	return strings.TrimPrefix(importPath, module+"/")
}
