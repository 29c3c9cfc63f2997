package lifecycle

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var buildTime = time.Date(2026, 11, 26, 6, 47, 30, 0, time.UTC)

func TestConventionNameFollowsTheTemplate(t *testing.T) {
	tests := []struct {
		name string
		c    Convention
		at   time.Time
		want string
	}{
		{"default template", Convention{OS: "debian-12", Software: "nginx", Version: "1.24.0"}, buildTime, "debian-12-nginx-1-24-0-v20261126t064730"},
		{"time in another zone is written in UTC", Convention{OS: "debian-12", Software: "nginx", Version: "1.24.0"}, buildTime.In(time.FixedZone("CET", 3600)), "debian-12-nginx-1-24-0-v20261126t064730"},
		{"sub-second time is cut to the second", Convention{OS: "debian-12", Software: "nginx", Version: "1.24.0"}, buildTime.Add(999 * time.Millisecond), "debian-12-nginx-1-24-0-v20261126t064730"},
		{"parts are sanitised", Convention{OS: "Ubuntu 24.04 LTS", Software: "Node_Exporter", Version: "v1.8.2+build/7"}, buildTime, "ubuntu-24-04-lts-node-exporter-v1-8-2-build-7-v20261126t064730"},
		{"subset template", Convention{Template: "{software}-{timestamp}", Software: "nginx"}, buildTime, "nginx-20261126t064730"},
		{"literal prefix lets a digit part lead", Convention{Template: "img-{version}-{timestamp}", Version: "1.24"}, buildTime, "img-1-24-20261126t064730"},
		{"template without timestamp", Convention{Template: "{os}-{software}-{version}", OS: "debian-12", Software: "nginx", Version: "1.24.0"}, buildTime, "debian-12-nginx-1-24-0"},
		{"parts the template does not use may be empty", Convention{Template: "{software}-v{timestamp}", Software: "nginx"}, buildTime, "nginx-v20261126t064730"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.c.Name(tt.at)
			if err != nil {
				t.Fatalf("Name: %v", err)
			}
			if n.String() != tt.want {
				t.Fatalf("Name = %q, want %q", n, tt.want)
			}
			if n.Shortened() {
				t.Errorf("Shortened() = true for a name that fits")
			}
			if err := tt.c.Check(n.String()); err != nil {
				t.Errorf("Check(own name): %v", err)
			}
		})
	}
}

func TestConventionNameErrorsNameThePartAndTheRule(t *testing.T) {
	tests := []struct {
		name    string
		c       Convention
		wantErr string
	}{
		{"empty version", Convention{OS: "debian-12", Software: "nginx", Version: ""}, `naming: version "" sanitises to nothing: each part needs at least one letter or digit`},
		{"punctuation-only software", Convention{OS: "debian-12", Software: "++", Version: "1"}, `naming: software "++" sanitises to nothing`},
		{"first part starts with a digit", Convention{Template: "{version}-{os}-{timestamp}", OS: "debian", Version: "1.24"}, `naming: version "1.24" starts the name with the digit "1": a name must start with a letter`},
		{"template starts with timestamp", Convention{Template: "{timestamp}-{os}", OS: "debian"}, `starts with {timestamp}, which starts with a digit`},
		{"template starts with a digit literal", Convention{Template: "1-{os}-{timestamp}", OS: "debian"}, `starts with "1": a name must start with a letter`},
		{"template ends with a hyphen", Convention{Template: "{os}-{timestamp}-", OS: "debian"}, `ends with "-"`},
		{"unknown placeholder", Convention{Template: "{os}-{arch}-{timestamp}", OS: "debian"}, `unknown placeholder {arch}`},
		{"unclosed placeholder", Convention{Template: "{os}-{timestamp", OS: "debian"}, `has no closing "}"`},
		{"upper-case literal", Convention{Template: "{os}-V{timestamp}", OS: "debian"}, `literal text "-V" may hold only a-z, 0-9 and "-"`},
		{"placeholder twice", Convention{Template: "{os}-{os}-{timestamp}", OS: "debian"}, `uses {os} twice`},
		{"no placeholder", Convention{Template: "web", OS: "debian"}, `has no placeholder`},
		{"literals too long to shorten", Convention{Template: "{os}-" + strings.Repeat("x", 50) + "-{timestamp}", OS: "debian"}, `cannot fit 63 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Name(buildTime)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Name error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestLongNamesAreShortenedKeepingTheTimestamp(t *testing.T) {
	long := Convention{OS: "debian-12", Software: "nginx-with-a-very-long-name-indeed-and-more", Version: "1.24.0-rc1+build.20261126.abcdef"}
	n, err := long.Name(buildTime)
	if err != nil {
		t.Fatal(err)
	}
	got := n.String()
	if len(got) > MaxNameLength {
		t.Fatalf("len(%q) = %d, want at most %d", got, len(got), MaxNameLength)
	}
	if !n.Shortened() {
		t.Errorf("Shortened() = false")
	}
	if !strings.HasSuffix(got, "-v20261126t064730") {
		t.Errorf("%q lost its timestamp", got)
	}
	if !strings.HasPrefix(got, "debian-12-nginx-with-a-v-1-24-0-rc1-bui-") {
		t.Errorf("%q: the short os should stay whole and the two long parts be cut evenly", got)
	}
	if n.Parts().Software != "nginx-with-a-very-long-name-indeed-and-more" {
		t.Errorf("Parts().Software = %q, want the unshortened sanitised part", n.Parts().Software)
	}
	again, _ := long.Name(buildTime)
	if again.String() != got {
		t.Errorf("shortening is not deterministic: %q then %q", got, again)
	}
	later, _ := long.Name(buildTime.Add(time.Hour))
	if strings.TrimSuffix(later.String(), "t074730") != strings.TrimSuffix(got, "t064730") {
		t.Errorf("the hash should not depend on the time: %q vs %q", got, later)
	}
	if err := long.Check(got); err != nil {
		t.Errorf("Check(shortened name): %v", err)
	}
	p, err := ParseName("", got)
	if err != nil {
		t.Fatalf("ParseName(shortened): %v", err)
	}
	if !p.Timestamp.Equal(buildTime) {
		t.Errorf("ParseName(shortened).Timestamp = %v, want %v", p.Timestamp, buildTime)
	}

	// Two inputs that cut to the same text differ by their hash.
	other := long
	other.Version += "-other"
	o, err := other.Name(buildTime)
	if err != nil {
		t.Fatal(err)
	}
	if o.String() == got {
		t.Errorf("two different long inputs made the same name %q", got)
	}
	if err := long.Check(o.String()); err == nil {
		t.Errorf("Check accepted the other input's name %q", o)
	}
}

func TestShorteningCutsTheLongestPartFirst(t *testing.T) {
	c := Convention{OS: "debian-12", Software: "nginx", Version: strings.Repeat("9", 60)}
	n, err := c.Name(buildTime)
	if err != nil {
		t.Fatal(err)
	}
	// 63 = "debian-12" 9 + "-nginx-" 7 + version + "-" + hash 6 + "-v" 2 + 15.
	want := "debian-12-nginx-" + strings.Repeat("9", 63-9-7-7-2-15) + "-"
	if !strings.HasPrefix(n.String(), want) || len(n.String()) != 63 {
		t.Errorf("Name = %q, want only the version cut: %q<hash>-v20261126t064730", n, want)
	}
}

func TestShortenedPartDropsTheHyphenItWasCutAt(t *testing.T) {
	// The cut lands right after a "-" of the version: the name must not get "--".
	c := Convention{Template: "{software}-v{timestamp}", Software: "a" + strings.Repeat("-bc", 20)}
	n, err := c.Name(buildTime)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(n.String(), "--") || ValidateName(n.String()) != nil {
		t.Errorf("Name = %q", n)
	}
}

func TestCheckSaysWhatTheConventionWanted(t *testing.T) {
	c := Convention{OS: "debian-12", Software: "nginx", Version: "1.24.0"}
	tests := []struct {
		name, image, wantErr string
	}{
		{"unrelated name", "foo", `image name "foo" does not follow the naming convention {os}-{software}-{version}-v{timestamp}: want "debian-12-nginx-1-24-0-v<yyyymmddthhmmss>"`},
		{"other version", "debian-12-nginx-1-25-0-v20261126t064730", `want "debian-12-nginx-1-24-0-v<yyyymmddthhmmss>"`},
		{"timestamp that is no date", "debian-12-nginx-1-24-0-v20261326t064730", `does not follow`},
		{"timestamp too short", "debian-12-nginx-1-24-0-v20261126t0647", `does not follow`},
		{"upper case", "debian-12-nginx-1-24-0-v20261126T064730", `does not follow`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Check(tt.image)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check(%q) = %v, want %q", tt.image, err, tt.wantErr)
			}
		})
	}
	if err := c.Check("debian-12-nginx-1-24-0-v20300101t000000"); err != nil {
		t.Errorf("Check accepts any valid timestamp: %v", err)
	}
	noTS := Convention{Template: "{os}-{software}", OS: "debian-12", Software: "nginx"}
	if err := noTS.Check("debian-12-nginx"); err != nil {
		t.Errorf("Check without timestamp: %v", err)
	}
	if err := noTS.Check("debian-12-nginx-2"); err == nil || !strings.Contains(err.Error(), `want "debian-12-nginx"`) {
		t.Errorf("Check without timestamp, wrong name: %v", err)
	}
	if err := (Convention{}).Check("x"); err == nil || !strings.Contains(err.Error(), "sanitises to nothing") {
		t.Errorf("Check with an incomplete convention should report the convention's error, got %v", err)
	}
}

func TestParseNameReadsThePartsBack(t *testing.T) {
	tests := []struct {
		name     string
		template string
		image    string
		want     Parts
	}{
		{"separated parts", "{software}-{os}-v{timestamp}", "nginx-bookworm-v20261126t064730", Parts{Software: "nginx", OS: "bookworm", Timestamp: buildTime}},
		{"hyphenated parts are ambiguous", "", "debian-12-nginx-1-24-0-v20261126t064730", Parts{OS: "debian", Software: "12", Version: "nginx-1-24-0", Timestamp: buildTime, Ambiguous: true}},
		{"no timestamp", "{os}-{version}", "debian-12", Parts{OS: "debian", Version: "12"}},
		{"digits that look like a timestamp but are no date are skipped", "a{version}{timestamp}{os}", "a000000000t020261126t064730a", Parts{Version: "000000000t0", OS: "a", Timestamp: buildTime}},
		{"a part holding timestamp-like text still parses", "a{version}-{timestamp}", "a20250101t000000-20261126t064730", Parts{Version: "20250101t000000", Timestamp: buildTime}},
		{"literal separators make it unique", "{os}-sw-{software}-ver-{version}-v{timestamp}", "debian-12-sw-nginx-ver-1-24-0-v20261126t064730", Parts{OS: "debian-12", Software: "nginx", Version: "1-24-0", Timestamp: buildTime}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseName(tt.template, tt.image)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseName = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseNameRejects(t *testing.T) {
	tests := []struct {
		name, template, image, wantErr string
	}{
		{"wrong shape", "", "foo", `name "foo" does not follow the template {os}-{software}-{version}-v{timestamp}`},
		{"bad date", "{os}-v{timestamp}", "debian-v20261399t000000", `timestamp "20261399t000000" is not a date`},
		{"invalid name", "", "Debian", `is not a valid name`},
		{"too long", "", strings.Repeat("a", 64), `64 characters long: at most 63`},
		{"bad template", "{nope}", "a", `unknown placeholder {nope}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseName(tt.template, tt.image)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseName error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSanitizeNamePart(t *testing.T) {
	tests := map[string]string{
		"debian-12":        "debian-12",
		"1.24.0":           "1-24-0",
		"  Ubuntu  24.04 ": "ubuntu-24-04",
		"--a--b--":         "a-b",
		"Ünïcode":          "n-code",
		"":                 "",
		"...":              "",
	}
	for in, want := range tests {
		if got := SanitizeNamePart(in); got != want {
			t.Errorf("SanitizeNamePart(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTimestampRoundTrips(t *testing.T) {
	if got := FormatTimestamp(buildTime); got != "20261126t064730" {
		t.Fatalf("FormatTimestamp = %q", got)
	}
	back, err := ParseTimestamp("20261126t064730")
	if err != nil || !back.Equal(buildTime) {
		t.Fatalf("ParseTimestamp = %v, %v", back, err)
	}
	for _, bad := range []string{"", "20261126T064730", "2026112t064730", "20261126t0647301", "20260230t000000"} {
		if _, err := ParseTimestamp(bad); err == nil {
			t.Errorf("ParseTimestamp(%q) accepted", bad)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"a", "web-v1", "a--b", strings.Repeat("a", 63)} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1web", "-web", "web-", "Web", "web_v1", "web.v1", strings.Repeat("a", 64)} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}

func TestPatternShowsTheOpenTimestamp(t *testing.T) {
	got, err := Convention{OS: "debian-12", Software: "nginx", Version: "1.24.0"}.Pattern()
	if err != nil || got != "debian-12-nginx-1-24-0-v<yyyymmddthhmmss>" {
		t.Fatalf("Pattern = %q, %v", got, err)
	}
}

func TestConventionErrorsNameTheirOptionAsData(t *testing.T) {
	tests := []struct {
		name  string
		conv  Convention
		at    time.Time
		field string
		value string
	}{
		{"empty part", Convention{OS: "debian-12", Software: "", Version: "1"}, buildTime, FieldSoftware, `""`},
		{"part that starts with a digit", Convention{Template: "{version}-{os}-{timestamp}", OS: "debian", Version: "1.24"}, buildTime, FieldVersion, `"1.24"`},
		{"unknown placeholder", Convention{Template: "{os}-{app}-v{timestamp}", OS: "debian"}, buildTime, FieldTemplate, `"{os}-{app}-v{timestamp}"`},
		{"year past 9999", Convention{OS: "d", Software: "s", Version: "1"}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), FieldTimestamp, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.conv.Name(tt.at)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field || fe.Value != tt.value {
				t.Fatalf("Name error = %v (%#v), want a FieldError of %s with value %s", err, fe, tt.field, tt.value)
			}
			if !strings.HasPrefix(err.Error(), "naming: ") {
				t.Errorf("error %q lost its naming: prefix", err)
			}
		})
	}
}
