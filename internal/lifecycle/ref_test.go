package lifecycle

import (
	"strings"
	"testing"
)

func TestParseImageRefAcceptsEverySpelling(t *testing.T) {
	web := ImageRef{Project: "acme", Name: "web-v1"}
	fam := ImageRef{Project: "acme", Name: "web", Family: true}
	tests := []struct {
		name string
		in   string
		want ImageRef
	}{
		{"googleapis URL", "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1", web},
		{"compute.googleapis URL", "https://compute.googleapis.com/compute/v1/projects/acme/global/images/web-v1", web},
		{"emulator URL with port", "http://127.0.0.1:8080/compute/v1/projects/acme/global/images/web-v1", web},
		{"beta API URL", "https://www.googleapis.com/compute/beta/projects/acme/global/images/web-v1", web},
		{"path with API version", "/compute/v1/projects/acme/global/images/web-v1", web},
		{"project path", "projects/acme/global/images/web-v1", web},
		{"project path with surrounding space", "  projects/acme/global/images/web-v1\n", web},
		{"global path", "global/images/web-v1", ImageRef{Name: "web-v1"}},
		{"bare name", "web-v1", ImageRef{Name: "web-v1"}},
		{"numeric id", "1234567890", ImageRef{Name: "1234567890"}},
		{"family URL", "https://www.googleapis.com/compute/v1/projects/acme/global/images/family/web", fam},
		{"family path", "projects/acme/global/images/family/web", fam},
		{"global family path", "global/images/family/web", ImageRef{Name: "web", Family: true}},
		{"URL with query", "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1?alt=json", web},
		{"URL without scheme", "www.googleapis.com/compute/v1/projects/acme/global/images/web-v1", web},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImageRef(tt.in)
			if err != nil {
				t.Fatalf("ParseImageRef(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseImageRef(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseImageRefRejectsWhatIsNoImage(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "empty image reference"},
		{"host only", "https://www.googleapis.com", "has a host but no path"},
		{"disk path", "projects/acme/zones/us-central1-a/disks/d1", "is not an image"},
		{"empty project", "projects//global/images/web-v1", "names no image"},
		{"family without name", "projects/acme/global/images/family/", "names no image"},
		{"extra tail", "projects/acme/global/images/web-v1/extra", "unexpected tail"},
		{"empty segment", "projects/acme/global/images//web-v1", "unexpected tail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseImageRef(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseImageRef(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestImageRefStringAndSelfLinkAreCanonical(t *testing.T) {
	tests := []struct {
		ref       ImageRef
		str, link string
	}{
		{ImageRef{Project: "acme", Name: "web-v1"}, "projects/acme/global/images/web-v1", "https://www.googleapis.com/compute/v1/projects/acme/global/images/web-v1"},
		{ImageRef{Project: "acme", Name: "web", Family: true}, "projects/acme/global/images/family/web", "https://www.googleapis.com/compute/v1/projects/acme/global/images/family/web"},
		{ImageRef{Name: "web-v1"}, "web-v1", "https://www.googleapis.com/compute/v1/web-v1"},
	}
	for _, tt := range tests {
		if got := tt.ref.String(); got != tt.str {
			t.Errorf("%+v.String() = %q, want %q", tt.ref, got, tt.str)
		}
		if tt.ref.Project != "" {
			if got := tt.ref.SelfLink(); got != tt.link {
				t.Errorf("%+v.SelfLink() = %q, want %q", tt.ref, got, tt.link)
			}
			back, err := ParseImageRef(tt.ref.SelfLink())
			if err != nil || back != tt.ref {
				t.Errorf("ParseImageRef(SelfLink()) = %+v, %v; want %+v", back, err, tt.ref)
			}
		}
	}
}

func TestResourcePathReducesEverySpellingToOnePath(t *testing.T) {
	const want = "projects/acme/zones/us-central1-a/disks/d1"
	for _, in := range []string{
		"https://www.googleapis.com/compute/v1/projects/acme/zones/us-central1-a/disks/d1",
		"https://www.googleapis.com/compute/beta/projects/acme/zones/us-central1-a/disks/d1",
		"https://compute.googleapis.com/compute/alpha/projects/acme/zones/us-central1-a/disks/d1",
		"http://127.0.0.1:8080/compute/v1/projects/acme/zones/us-central1-a/disks/d1?alt=json",
		"www.googleapis.com/compute/v1/projects/acme/zones/us-central1-a/disks/d1",
		"/compute/v1/projects/acme/zones/us-central1-a/disks/d1",
		"/compute/beta/projects/acme/zones/us-central1-a/disks/d1",
		"projects/acme/zones/us-central1-a/disks/d1/",
	} {
		if got := ResourcePath(in); got != want {
			t.Errorf("ResourcePath(%q) = %q, want %q", in, got, want)
		}
	}
}
