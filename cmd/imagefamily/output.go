package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
	"sigs.k8s.io/yaml"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// formatVersion is the version of every JSON (and YAML) document the CLI
// writes: status, rotate (and its --report file), rollback, revoke,
// outdated and name. docs/schemas/ has a JSON Schema for each.
const formatVersion = 1

// terminalWidth is the width of w when it is a terminal; tests replace it.
var terminalWidth = func(w io.Writer) (int, bool) {
	f, ok := unwrap(w).(*os.File)
	if !ok || !isTerminal(w) {
		return 0, false
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	return cols, err == nil && cols > 0
}

// width is what tables on stdout fit: the terminal's width when stdout is
// one, else $COLUMNS when set; 0 (no limit) otherwise, so that a pipe or a
// CI log gets whole lines.
func (e *env) width() int {
	if w, ok := terminalWidth(e.stdout); ok {
		return w
	}
	if n, err := strconv.Atoi(strings.TrimSpace(e.env("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return 0
}

// document is what a command writes for --format json and yaml (with
// format_version), and what table, wide and csv render.
type document interface {
	// table writes the table for people; wide with every column and the
	// reasons, at most width columns wide where it can (0: no limit).
	table(w io.Writer, wide bool, width int)
	// rows are the csv rows, the header first.
	rows() [][]string
}

// write writes doc in format. JSON is indented with a final newline; YAML
// is the same document (sigs.k8s.io/yaml writes the JSON fields).
func (e *env) write(format string, doc document) error {
	switch format {
	case "json":
		return writeJSON(e.stdout, doc)
	case "yaml":
		b, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(b)
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(y)
		return err
	case "csv":
		w := csv.NewWriter(e.stdout)
		if err := w.WriteAll(doc.rows()); err != nil {
			return err
		}
		return w.Error()
	}
	// The wide table is every column whole, whatever the terminal: it is
	// what --format wide is asked for (the lines above it still wrap).
	var b bytes.Buffer
	width := e.width()
	doc.table(&b, format == "wide", width)
	_, err := e.stdout.Write(b.Bytes())
	return err
}

// writeJSON writes v indented, with a final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// column is one column of a table that fits its width: when the table is
// too wide, the columns with a short form switch to it (in the order given),
// then columns that may go are dropped (highest drop first), then free text
// is cut with "…". An identifier is never cut: it must stay copyable.
type column struct {
	header string
	cells  []string
	// short is the compact form of the cells (and shortHeader of the
	// header), nil when there is none.
	short       []string
	shortHeader string
	// drop orders the columns that may go when nothing else fits: 0 never.
	drop int
	// text marks free text (a reason) that may be cut to fit.
	text bool
}

// writeTable writes the columns aligned, two spaces apart, each line
// starting with indent and none with trailing blanks, fitted to width (0: no
// limit).
func writeTable(w io.Writer, indent string, cols []column, width int) {
	if len(cols) == 0 {
		return
	}
	total := func() int {
		n := len(indent)
		for i, c := range cols {
			if i > 0 {
				n += 2
			}
			n += colWidth(c)
		}
		return n
	}
	if width > 0 {
		// Short forms all at once: a table whose dates are half dates and
		// half times reads worse than one of dates.
		if total() > width {
			for i := range cols {
				if cols[i].short != nil {
					cols[i].cells, cols[i].short = cols[i].short, nil
					if cols[i].shortHeader != "" {
						cols[i].header = cols[i].shortHeader
					}
				}
			}
		}
		for total() > width {
			worst := -1
			for i, c := range cols {
				if c.drop > 0 && (worst < 0 || c.drop > cols[worst].drop) {
					worst = i
				}
			}
			if worst < 0 {
				break
			}
			cols = append(cols[:worst:worst], cols[worst+1:]...)
		}
		for i := range cols {
			if over := total() - width; over > 0 && cols[i].text {
				fit := max(colWidth(cols[i])-over, 10)
				for j, s := range cols[i].cells {
					cols[i].cells[j] = cut(s, fit)
				}
			}
		}
	}
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = colWidth(c)
	}
	line := func(cell func(c column) string) {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range cols {
			s := cell(c)
			b.WriteString(s)
			if i < len(cols)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(func(c column) string { return c.header })
	for r := range cols[0].cells {
		line(func(c column) string { return c.cells[r] })
	}
}

func colWidth(c column) int {
	n := utf8.RuneCountInString(c.header)
	for _, s := range c.cells {
		n = max(n, utf8.RuneCountInString(s))
	}
	return n
}

// cut shortens s to n characters, the last one "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// stamp is a time for a csv cell: the machine format.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return textfmt.Stamp(*t)
}

// stampI is stamp for an Instant.
func stampI(t *textfmt.Instant) string { return stamp(t.Ptr()) }

// timeOrDash is a time for a table cell (RFC 3339 in seconds), "-" when
// unset.
func timeOrDash(t *textfmt.Instant) string { return textfmt.TimeOrDash(t.Ptr()) }

// relative writes when t comes relative to now, as short as a table cell
// can be: "now" once it has come, else "5d", "23h", "59m".
func relative(t *textfmt.Instant, now time.Time) string {
	if t == nil {
		return "-"
	}
	switch d := t.Sub(now); {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second)+1) // due in 0.4 s is "1s", not "0s"
	default:
		return shortAge(d)
	}
}

// shortAge writes an age as short as a table cell can be: "10m", "5h", "12d".
func shortAge(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%ds", max(0, int(d/time.Second)))
}

// tableWidth is what a table fits: the wide table is every column whole.
func tableWidth(wide bool, width int) int {
	if wide {
		return 0
	}
	return width
}
