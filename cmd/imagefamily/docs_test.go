package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsMatchTheCommands fails when docs/cli.md is not what the command
// definitions write: a flag, a default or a text changed without
// `go generate ./cmd/imagefamily`.
func TestDocsMatchTheCommands(t *testing.T) {
	var b bytes.Buffer
	writeDocs(&b, newRootCommand(&env{stdout: io.Discard, stderr: io.Discard}))
	path := filepath.Join("..", "..", "docs", "cli.md")
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		got, wantLines := strings.Split(b.String(), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(got) || i < len(wantLines); i++ {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(wantLines) {
				w = wantLines[i]
			}
			if g != w {
				t.Fatalf("%s differs from the command definitions from line %d (run go generate ./cmd/imagefamily):\ncommands: %q\nfile:     %q", path, i+1, g, w)
			}
		}
	}
	// Every command and every flag of every command is in it.
	for _, words := range everyCommand() {
		if len(words) == 0 || words[0] == "completion" {
			continue
		}
		if !strings.Contains(b.String(), "## `imagefamily "+strings.Join(words, " ")+"`") {
			t.Errorf("docs/cli.md has no section for imagefamily %s", strings.Join(words, " "))
		}
	}
}

func TestDocsCommandWritesTheFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cli.md")
	mustCLI(t, nil, exitOK, "__docs", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("__docs wrote %d bytes that differ from docs/cli.md (%v)", len(got), err)
	}
}
