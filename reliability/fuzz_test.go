package reliability

import (
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// The fuzzers the other packages lack. Their seed corpora (testdata/fuzz)
// run with every `go test`; `make chaos` fuzzes each for a while.

// labelKeyOK and labelValueOK are Compute Engine's label rules written out
// rune by rune, independently of the regular expressions the code uses.
func labelKeyOK(k string) bool {
	if !utf8.ValidString(k) || k == "" || utf8.RuneCountInString(k) > 63 {
		return false
	}
	for i, r := range k {
		letter := unicode.Is(unicode.Ll, r) || unicode.Is(unicode.Lo, r)
		if i == 0 && !letter {
			return false
		}
		if !letter && !unicode.IsNumber(r) && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

func labelValueOK(v string) bool {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > 63 {
		return false
	}
	for _, r := range v {
		if !unicode.Is(unicode.Ll, r) && !unicode.Is(unicode.Lo, r) && !unicode.IsNumber(r) && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

var fuzzEmu = sync.OnceValue(func() *emulator.Server {
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		panic(err)
	}
	return srv
})

// FuzzValidateLabels: lifecycle.ValidateLabels, the rule written out, and the
// emulator (the server side) agree on every label; SanitizeLabelValue always
// makes a valid value and is idempotent.
func FuzzValidateLabels(f *testing.F) {
	for _, s := range [][2]string{
		{"team", "web"}, {"", ""}, {"Team", "web"}, {"team", "Web"}, {"a", ""}, {"ключ", "значение"},
		{"日本", "値"}, {"k_1-x", "v_1-x"}, {"1k", "v"}, {"k", "v1.24.0"}, {"k", "20261126t064730z"},
		{strings.Repeat("k", 63), strings.Repeat("v", 63)}, {strings.Repeat("k", 64), "v"}, {"k", strings.Repeat("v", 64)},
		{"ǅ", "ǅ"}, {"k", "٣"}, {"k\xff", "v"}, {"imagefamily-parent-image", "x"}, {"k", "refs/heads/Main"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		labels := map[string]string{k: v}
		err := lifecycle.ValidateLabels(labels)
		if want := labelKeyOK(k) && labelValueOK(v); (err == nil) != want {
			t.Fatalf("ValidateLabels({%q: %q}) = %v, the rule says valid=%v", k, v, err, want)
		}
		if (lifecycle.ValidateLabelKey(k) == nil) != labelKeyOK(k) {
			t.Fatalf("ValidateLabelKey(%q) disagrees with the rule", k)
		}
		perr := fuzzEmu().PutImage("p", &computepb.Image{Name: proto.String("img"), Labels: labels})
		if (err == nil) != (perr == nil) {
			t.Fatalf("labels {%q: %q}: the client says %v, the emulator %v", k, v, err, perr)
		}
		s := lifecycle.SanitizeLabelValue(v)
		if !labelValueOK(s) {
			t.Fatalf("SanitizeLabelValue(%q) = %q, not a valid value", v, s)
		}
		if again := lifecycle.SanitizeLabelValue(s); again != s {
			t.Fatalf("SanitizeLabelValue is not idempotent: %q -> %q -> %q", v, s, again)
		}
	})
}

// FuzzParseDuration: lifecycle.ParseDuration never panics, agrees with
// time.ParseDuration on what both read, and reads back what FormatDuration
// writes.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"168h", "7d", "1.5d", "1d12h", "-1h", "+2m", "0", "", " 7d ", "7x", "1 week", "d", "1dd",
		"9223372036854775807ns", "106751d", "106752d", "1e3d", ".5d", "5.d", "1h30m", "-0", "0d", "1d-1h", "3µs", "1us"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := lifecycle.ParseDuration("x", s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "x: ") {
				t.Fatalf("ParseDuration(%q) error %q does not name the option", s, err)
			}
		}
		// Durations within a float64's rounding of the largest (292 years)
		// are refused as too long: a documented edge, not compared.
		if std, serr := time.ParseDuration(s); serr == nil && !strings.Contains(s, "d") && std < 1<<62 && std > -(1<<62) {
			if err != nil || d != std {
				t.Fatalf("ParseDuration(%q) = %v, %v; time.ParseDuration says %v", s, d, err, std)
			}
		}
		if err != nil {
			return
		}
		back, err := lifecycle.ParseDuration("x", lifecycle.FormatDuration(d))
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; FormatDuration writes %q, read back as %v, %v", s, d, lifecycle.FormatDuration(d), back, err)
		}
	})
}

// FuzzSanitizeNamePart: the result holds only a-z, 0-9 and single inner
// dashes, keeps every letter and digit of the input in order, and is a
// fixed point.
func FuzzSanitizeNamePart(f *testing.F) {
	for _, s := range []string{"Debian 12", "1.24.0", "", "---", "a--b", "Ünïcode", "K", "ǅ", "İ", "x\xffy", "a_b c", strings.Repeat("ab.", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := lifecycle.SanitizeNamePart(s)
		if strings.HasPrefix(out, "-") || strings.HasSuffix(out, "-") || strings.Contains(out, "--") {
			t.Fatalf("SanitizeNamePart(%q) = %q: a dash at an end or doubled", s, out)
		}
		var kept strings.Builder
		for _, r := range out {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				kept.WriteRune(r)
			case r == '-':
			default:
				t.Fatalf("SanitizeNamePart(%q) = %q holds %q", s, out, r)
			}
		}
		var want strings.Builder
		for _, r := range strings.ToLower(s) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				want.WriteRune(r)
			}
		}
		if kept.String() != want.String() {
			t.Fatalf("SanitizeNamePart(%q) = %q lost or added letters: %q, want %q", s, out, kept.String(), want.String())
		}
		if again := lifecycle.SanitizeNamePart(out); again != out {
			t.Fatalf("SanitizeNamePart is not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}

// FuzzParseName: the name parser never panics on any template and name, is
// deterministic, and a timestamp it reads is a UTC time to the second
// within four-digit years.
func FuzzParseName(f *testing.F) {
	for _, s := range [][2]string{
		{"", "debian-12-nginx-1-24-0-v20261126t064730"}, {"{software}-{timestamp}", "nginx-20261126t064730"},
		{"", "x"}, {"{os}", "debian-12"}, {"img-{version}{timestamp}{os}", "img-1-220250101t000000x-20250101t000000-y"},
		{"{os}-{os}", "a-a"}, {"{bad}", "x"}, {"", "debian-12-nginx-1-24-0-v20261399t999999"}, {"{timestamp}", "20261126t064730"},
		{"", strings.Repeat("a-", 40)},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, template, name string) {
		p1, err1 := lifecycle.ParseName(template, name)
		p2, err2 := lifecycle.ParseName(template, name)
		if (err1 == nil) != (err2 == nil) || p1 != p2 {
			t.Fatalf("ParseName(%q, %q) is not deterministic: %+v %v / %+v %v", template, name, p1, err1, p2, err2)
		}
		if err1 != nil || p1.Timestamp.IsZero() {
			return
		}
		if y := p1.Timestamp.Year(); y < 0 || y > 9999 || p1.Timestamp.Location() != time.UTC || p1.Timestamp.Nanosecond() != 0 {
			t.Fatalf("ParseName(%q, %q) read the timestamp %v", template, name, p1.Timestamp)
		}
	})
}
