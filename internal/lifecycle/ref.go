package lifecycle

import (
	"fmt"
	"strings"
)

// ImageRef is an image reference reduced to what identifies it. Compute
// Engine and its clients spell the same image in many ways (full URLs with any
// host, paths with or without /compute/v1, bare names, family URLs); every
// comparison of references in this project goes through ParseImageRef so that
// the spellings agree in one place.
type ImageRef struct {
	// Project is empty when the reference did not name one (a bare name or
	// global/images/NAME): the caller's default project applies.
	Project string
	// Name is the image name, or the family name when Family is true.
	Name string
	// Family is true for .../global/images/family/F: the reference follows
	// whatever image heads the family.
	Family bool
}

// String is the canonical short form, projects/P/global/images/NAME (or
// .../family/F), or the bare name when no project is known.
func (r ImageRef) String() string {
	tail := r.Name
	if r.Family {
		tail = "family/" + r.Name
	}
	if r.Project == "" {
		return tail
	}
	return "projects/" + r.Project + "/global/images/" + tail
}

// WithDefaultProject fills in the project of a reference that named none.
func (r ImageRef) WithDefaultProject(project string) ImageRef {
	if r.Project == "" {
		r.Project = project
	}
	return r
}

// ParseImageRef reduces any spelling of an image reference to an ImageRef.
// Accepted: http(s)://HOST[/compute/v1|beta|alpha]/projects/P/global/images/N
// (a query string is ignored), the same without scheme (HOST is recognised by
// a dot or colon in it) or without scheme and host, projects/P/global/images/N,
// global/images/N, and a bare name or numeric id; each with family/F in place
// of N.
func ParseImageRef(s string) (ImageRef, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return ImageRef{}, fmt.Errorf("empty image reference")
	}
	if strings.Contains(s, "://") && !strings.Contains(strings.SplitN(s, "://", 2)[1], "/") {
		return ImageRef{}, fmt.Errorf("image reference %q has a host but no path", orig)
	}
	if p := withoutQuery(s); strings.HasSuffix(p, "/family/") || p == "family/" {
		return ImageRef{}, fmt.Errorf("image reference %q names no image: the family name is missing", orig)
	}
	s = ResourcePath(s)
	parts := strings.Split(s, "/")
	var ref ImageRef
	switch {
	case len(parts) == 1:
		ref.Name = parts[0]
	case len(parts) >= 3 && parts[0] == "global" && parts[1] == "images":
		parts = parts[2:]
	case len(parts) >= 5 && parts[0] == "projects" && parts[2] == "global" && parts[3] == "images":
		if parts[1] == "" {
			return ImageRef{}, fmt.Errorf("image reference %q names no image: the project is empty", orig)
		}
		ref.Project = parts[1]
		parts = parts[4:]
	default:
		return ImageRef{}, fmt.Errorf("image reference %q is not an image: want NAME, global/images/NAME, projects/P/global/images/NAME or a URL to one (family/F in place of NAME follows a family)", orig)
	}
	if ref.Name == "" {
		switch {
		case len(parts) == 1:
			ref.Name = parts[0]
		case len(parts) == 2 && parts[0] == "family":
			ref.Name, ref.Family = parts[1], true
		default:
			return ImageRef{}, fmt.Errorf("image reference %q has an unexpected tail %q", orig, strings.Join(parts, "/"))
		}
	}
	if ref.Name == "" {
		return ImageRef{}, fmt.Errorf("image reference %q names no image", orig)
	}
	return ref, nil
}

// ResourcePath reduces any spelling of a Compute Engine resource reference to
// its path below the API version, e.g. projects/P/zones/Z/disks/D: a scheme
// and host (any host: gcloud writes its endpoint override's), a host without
// scheme (recognised by a dot or colon in the first segment), /compute/v1/,
// /compute/beta/ or /compute/alpha/, a query string or fragment, and leading
// or trailing slashes are dropped. Every comparison of resource references in
// this project (image references through ParseImageRef, an instance's boot
// disk and the disk's selfLink) goes through it, so that the spellings agree
// in one place.
func ResourcePath(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if slash := strings.IndexByte(rest, '/'); slash >= 0 {
			s = rest[slash:]
		} else {
			s = ""
		}
	} else if first, _, ok := strings.Cut(s, "/"); ok && strings.ContainsAny(first, ".:") {
		s = strings.TrimPrefix(s, first)
	}
	s = strings.Trim(withoutQuery(s), "/")
	for _, prefix := range []string{"compute/v1/", "compute/beta/", "compute/alpha/"} {
		if strings.HasPrefix(s, prefix) {
			s = strings.TrimPrefix(s, prefix)
			break
		}
	}
	return s
}

func withoutQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

// SelfLink is the canonical https://www.googleapis.com URL that Compute Engine
// writes into selfLink and replacement fields.
func (r ImageRef) SelfLink() string {
	return "https://www.googleapis.com/compute/v1/" + r.String()
}
