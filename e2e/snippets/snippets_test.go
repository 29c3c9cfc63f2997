// Package snippets_test holds the HCL a reader copies to the canonical
// format: every fenced ```hcl block in README.md, docs/ and example/, and
// every template and variables file in example/, must pass the real
// `packer fmt -check`, so that a snippet pasted into a template is not the
// first thing `packer fmt` changes; and every whole template among them
// must pass a plain `packer validate`, without credentials (validate_test.go).
package snippets_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/modroot"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// snippet is one fenced hcl block of a Markdown file.
type snippet struct {
	file string // relative to the module root, slash-separated
	line int    // of the opening fence, 1-based
	text string // the block's lines, the fence's indentation removed
}

var (
	openFence  = regexp.MustCompile("^([ \t]*)```hcl[ \t]*$")
	closeFence = regexp.MustCompile("^[ \t]*```[ \t]*$")
)

// extract returns the fenced ```hcl blocks of a Markdown document. A block
// indented under a list item loses the fence's indentation, as a reader
// copying it would; an unclosed block is an error.
func extract(file, doc string) ([]snippet, error) {
	var (
		out    []snippet
		cur    *snippet
		indent string
		body   strings.Builder
	)
	sc := bufio.NewScanner(strings.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil:
			if m := openFence.FindStringSubmatch(line); m != nil {
				cur, indent = &snippet{file: file, line: n}, m[1]
				body.Reset()
			}
		case closeFence.MatchString(line):
			cur.text = body.String()
			out = append(out, *cur)
			cur = nil
		default:
			body.WriteString(strings.TrimPrefix(line, indent))
			body.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: the ```hcl block is never closed", file, cur.line)
	}
	return out, nil
}

func TestExtractFindsEveryHCLBlockAsWritten(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []snippet
	}{
		{"none", "# Title\n\n```sh\nmake demo\n```\n", nil},
		{"one", "text\n```hcl\na = 1\n```\n", []snippet{{line: 2, text: "a = 1\n"}}},
		{"two, other languages between", "```hcl\na = 1\n```\n```json\n{}\n```\n```hcl\nb {\n  c = 2\n}\n```\n",
			[]snippet{{line: 1, text: "a = 1\n"}, {line: 7, text: "b {\n  c = 2\n}\n"}}},
		{"indented under a list item", "1. Set it:\n\n   ```hcl\n   # prod\n   x = \"y\"\n   ```\n",
			[]snippet{{line: 3, text: "# prod\nx = \"y\"\n"}}},
		{"empty lines kept", "```hcl\na = 1\n\nb = 2\n```\n", []snippet{{line: 1, text: "a = 1\n\nb = 2\n"}}},
		{"hcl2 and hcl-like names are not hcl", "```hcl2\na=1\n```\n```hclx\nb=1\n```\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := extract("doc.md", tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d snippets %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if got[i].line != tc.want[i].line || got[i].text != tc.want[i].text || got[i].file != "doc.md" {
					t.Errorf("snippet %d: got line %d %q, want line %d %q", i, got[i].line, got[i].text, tc.want[i].line, tc.want[i].text)
				}
			}
		})
	}
}

func TestExtractRefusesAnUnclosedBlock(t *testing.T) {
	_, err := extract("doc.md", "intro\n```hcl\na = 1\n")
	if err == nil || !strings.Contains(err.Error(), "doc.md:2") {
		t.Fatalf("want an error naming doc.md:2, got %v", err)
	}
}

// documents are the Markdown files a reader copies HCL from: README.md and
// every .md and .mdx file under docs/ and example/.
func documents(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md"}
	for _, dir := range []string{"docs", "example"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".mdx")) {
				rel, err := filepath.Rel(root, path)
				if err != nil {
					return err
				}
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func TestEveryHCLSnippetIsPackerFmtClean(t *testing.T) {
	root := modroot.Dir(t)
	env := packerrun.Env(t)
	var all []snippet
	for _, f := range documents(t, root) {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := extract(f, string(b))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, s...)
	}
	// README.md, docs/README.md and the component pages each show HCL: a
	// count this low means the extraction, not the docs, went wrong.
	if len(all) < 10 {
		t.Fatalf("found only %d ```hcl blocks in README.md, docs/ and example/", len(all))
	}
	dir := t.TempDir()
	for i, s := range all {
		t.Run(fmt.Sprintf("%s:%d", s.file, s.line), func(t *testing.T) {
			// packer fmt formats .pkr.hcl files; a snippet of Terraform
			// or a fragment of a block is HCL all the same.
			path := filepath.Join(dir, fmt.Sprintf("snippet-%d.pkr.hcl", i))
			if err := os.WriteFile(path, []byte(s.text), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := packerrun.Run(t, env, "", "fmt", "-check", "-diff", path)
			if err != nil {
				t.Errorf("%s:%d is not packer fmt clean (%v); packer fmt -diff:\n%s%s", s.file, s.line, err, stdout, stderr)
			}
		})
	}
}

func TestExampleTemplatesArePackerFmtClean(t *testing.T) {
	env := packerrun.Env(t)
	example := filepath.Join(modroot.Dir(t), "example")
	stdout, stderr, err := packerrun.Run(t, env, "", "fmt", "-check", "-diff", "-recursive", example)
	if err != nil {
		t.Errorf("packer fmt -check -recursive example/: %v\n%s%s", err, stdout, stderr)
	}
}
