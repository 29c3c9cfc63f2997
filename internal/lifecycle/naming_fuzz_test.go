package lifecycle

import (
	"testing"
	"time"
)

// FuzzConvention: whatever the parts and template, Name either fails or
// makes a valid name of at most 63 characters that Check accepts, that
// ParseName reads back, and that is the same every time.
func FuzzConvention(f *testing.F) {
	f.Add("", "debian-12", "nginx", "1.24.0", int64(1795675650))
	f.Add("{software}-{timestamp}", "", "Node_Exporter", "", int64(0))
	f.Add("", "debian-12", "nginx-with-a-very-long-name-indeed-and-more", "1.24.0-rc1+build.20261126.abcdef", int64(1795675650))
	f.Add("img-{version}{timestamp}{os}", "x-20250101t000000-y", "", "20250101t000000", int64(-1))
	f.Add("{os}-{software}", "Ünïcode", "ñ", "", int64(253402300799))
	f.Fuzz(func(t *testing.T, template, os, software, version string, unix int64) {
		c := Convention{Template: template, OS: os, Software: software, Version: version}
		at := time.Unix(unix%253402300800, 0)
		n, err := c.Name(at)
		if err != nil {
			return
		}
		name := n.String()
		if err := ValidateName(name); err != nil {
			t.Fatalf("Name(%+v) = %q: %v", c, name, err)
		}
		if err := c.Check(name); err != nil {
			t.Fatalf("Check(own name %q): %v", name, err)
		}
		again, err := c.Name(at)
		if err != nil || again != n {
			t.Fatalf("Name is not deterministic: %q then %q (%v)", n, again, err)
		}
		p, err := ParseName(template, name)
		if err != nil {
			t.Fatalf("ParseName(%q, %q): %v", template, name, err)
		}
		segs, _ := parseTemplate(template)
		if hasPart(segs, partTimestamp) && !p.Ambiguous && !p.Timestamp.Equal(n.Parts().Timestamp) {
			t.Fatalf("ParseName(%q).Timestamp = %v, want %v", name, p.Timestamp, n.Parts().Timestamp)
		}
		if !n.Shortened() && !p.Ambiguous && (p.OS != n.Parts().OS || p.Software != n.Parts().Software || p.Version != n.Parts().Version) {
			t.Fatalf("ParseName(%q) = %+v, want the parts %+v", name, p, n.Parts())
		}
	})
}
