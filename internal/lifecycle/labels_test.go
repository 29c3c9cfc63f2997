package lifecycle

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestValidateLabelsNamesTheKey(t *testing.T) {
	tests := []struct {
		name    string
		labels  map[string]string
		wantErr string
	}{
		{"upper-case key", map[string]string{"Team": "web"}, `labels: key "Team" is not a label key`},
		{"key starting with a digit", map[string]string{"1team": "web"}, `key "1team" is not a label key`},
		{"empty key", map[string]string{"": "web"}, `empty key`},
		{"key too long", map[string]string{strings.Repeat("k", 64): ""}, `is 64 characters long: at most 63`},
		{"dotted value", map[string]string{"version": "v1.24.0"}, `labels: value of "version" ("v1.24.0") is not a label value`},
		{"value with colon", map[string]string{"released": "2026-11-26T06:47:30Z"}, `value of "released"`},
		{"value too long", map[string]string{"note": strings.Repeat("v", 64)}, `value of "note" is 64 characters long`},
		{"too many labels", manyLabels(65), `65 labels: at most 64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateLabels(tt.labels)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateLabels = %v, want %q", err, tt.wantErr)
			}
		})
	}
	ok := map[string]string{"team": "web", "empty": "", "ünïcode": "ñ-1_2", "k": strings.Repeat("v", 63), "日本": "値"}
	if err := ValidateLabels(ok); err != nil {
		t.Errorf("ValidateLabels(valid) = %v", err)
	}
	if err := ValidateLabels(manyLabels(64)); err != nil {
		t.Errorf("64 labels are allowed: %v", err)
	}
}

func manyLabels(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

func TestSanitizeLabelValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v1.24.0", "v1-24-0"},
		{"refs/heads/Main", "refs-heads-main"},
		{"feature/ABC-123_fix", "feature-abc-123_fix"},
		{"  spaced  out ", "spaced-out"},
		{"...", ""},
		{"ÜBER", "über"},
		{strings.Repeat("a", 70), strings.Repeat("a", 63)},
		{strings.Repeat("a", 62) + ".b", strings.Repeat("a", 62)},
	}
	for _, tt := range tests {
		got := SanitizeLabelValue(tt.in)
		if got != tt.want {
			t.Errorf("SanitizeLabelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if err := ValidateLabelValue("k", got); err != nil {
			t.Errorf("SanitizeLabelValue(%q) = %q is not a valid value: %v", tt.in, got, err)
		}
	}
}

func TestLabelTimestampHoldsNoColons(t *testing.T) {
	got := LabelTimestamp(buildTime)
	if got != "20261126t064730z" {
		t.Fatalf("LabelTimestamp = %q", got)
	}
	back, err := ParseLabelTimestamp(got)
	if err != nil || !back.Equal(buildTime) {
		t.Fatalf("ParseLabelTimestamp = %v, %v", back, err)
	}
	if _, err := ParseLabelTimestamp("20261126t064730"); err == nil {
		t.Errorf("a timestamp without z was accepted")
	}
}

func TestMergeLabels(t *testing.T) {
	lineage := map[string]string{LabelParentImage: "base-v7", LabelOS: "debian-12"}
	tests := []struct {
		name     string
		existing map[string]string
		lineage  map[string]string
		user     map[string]string
		want     map[string]string
		wantErr  string
	}{
		{
			name:     "labels written by others are kept",
			existing: map[string]string{"billing": "team-a", LabelParentImage: "stale"},
			lineage:  lineage,
			user:     map[string]string{"team": "web"},
			want:     map[string]string{"billing": "team-a", LabelParentImage: "base-v7", LabelOS: "debian-12", "team": "web"},
		},
		{
			name:     "user labels replace earlier values of their keys",
			existing: map[string]string{"team": "ops"},
			user:     map[string]string{"team": "web"},
			want:     map[string]string{"team": "web"},
		},
		{
			name:    "user label with a lineage key is an error",
			lineage: lineage,
			user:    map[string]string{LabelParentImage: "mine", "team": "web"},
			wantErr: `labels: user label "imagefamily-parent-image" collides with a lineage key`,
		},
		{
			name:    "user label with a lineage key not in this write is an error too",
			user:    map[string]string{LabelRevokedReason: "x"},
			wantErr: `user label "imagefamily-revoked-reason" collides`,
		},
		{
			name: "the protect label is a user label",
			user: map[string]string{DefaultProtectLabel: "true"},
			want: map[string]string{DefaultProtectLabel: "true"},
		},
		{
			name:    "lineage map with a foreign key is an error",
			lineage: map[string]string{"team": "web"},
			wantErr: `"team" is not a lineage key`,
		},
		{
			name:    "invalid user value is named",
			user:    map[string]string{"version": "1.24.0"},
			wantErr: `value of "version"`,
		},
		{
			name:     "too many labels in the result",
			existing: manyLabels(64),
			user:     map[string]string{"one-more": "x"},
			wantErr:  `65 labels: at most 64`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := maps.Clone(tt.existing)
			got, err := MergeLabels(tt.existing, tt.lineage, tt.user)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("MergeLabels error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Fatalf("MergeLabels = %v, want %v", got, tt.want)
			}
			if !maps.Equal(tt.existing, before) {
				t.Errorf("MergeLabels changed its input")
			}
		})
	}
}

func TestLineageLabels(t *testing.T) {
	got, err := LineageLabels(Lineage{
		ParentImage:  "https://www.googleapis.com/compute/v1/projects/acme-images/global/images/base-debian-12-v20261120t000000",
		ParentFamily: "base-debian-12",
		ReleasedAt:   buildTime,
		OS:           "debian-12",
		Software:     "nginx",
		Version:      "v1.24.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		LabelParentImage:   "base-debian-12-v20261120t000000",
		LabelParentProject: "acme-images",
		LabelParentFamily:  "base-debian-12",
		LabelReleasedAt:    "20261126t064730z",
		LabelOS:            "debian-12",
		LabelSoftware:      "nginx",
		LabelVersion:       "v1-24-0",
	}
	if !maps.Equal(got, want) {
		t.Fatalf("LineageLabels = %v, want %v", got, want)
	}
	back := LineageOf(got)
	if back.ParentImage != want[LabelParentImage] || back.ParentProject != "acme-images" || !back.ReleasedAt.Equal(buildTime) || back.Version != "v1-24-0" {
		t.Errorf("LineageOf = %+v", back)
	}
	for _, key := range LineageKeys() {
		if !strings.HasPrefix(key, LabelPrefix) || ValidateLabelKey(key) != nil {
			t.Errorf("lineage key %q must be a valid key prefixed %q", key, LabelPrefix)
		}
	}
}

func TestLineageLabelsRejects(t *testing.T) {
	tests := []struct {
		name    string
		l       Lineage
		wantErr string
	}{
		{"parent that follows a family", Lineage{ParentImage: "projects/acme/global/images/family/base"}, `parent image "projects/acme/global/images/family/base" follows a family`},
		{"parent project disagreeing with the reference", Lineage{ParentImage: "projects/acme/global/images/base-v1", ParentProject: "other"}, `is in project "acme" but its project is given as "other"`},
		{"unparseable promoted-from", Lineage{PromotedFrom: "projects/acme/zones/z/disks/d"}, `promoted from: image reference`},
		{"family name that is no label value", Lineage{ParentImage: "base-v1", ParentFamily: "Base.Family"}, `value of "imagefamily-parent-family"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LineageLabels(tt.l)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LineageLabels error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestLineageLabelsForCopies(t *testing.T) {
	got, err := LineageLabels(Lineage{
		RollbackOf:    "web-v3",
		PromotedFrom:  "projects/staging/global/images/web-v3",
		RevokedReason: "CVE-2026-1234: OpenSSL",
		ReleasedAt:    time.Time{},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		LabelRollbackOf:          "web-v3",
		LabelPromotedFrom:        "web-v3",
		LabelPromotedFromProject: "staging",
		LabelRevokedReason:       "cve-2026-1234-openssl",
	}
	if !maps.Equal(got, want) {
		t.Fatalf("LineageLabels = %v, want %v", got, want)
	}
}
