package emulator

import (
	"fmt"
	"strings"
)

// The emulator reads resource references with a parser of its own. It is
// the oracle the project's clients are tested against, so it must not share
// their parser (internal/lifecycle, internal/gce): a bug there would be
// agreed with here instead of caught.

// apiRoot is the prefix Compute Engine writes into selfLink and every
// reference it returns.
const apiRoot = "https://www.googleapis.com/compute/v1/"

// resourceRef is a Compute Engine resource reference reduced to its parts.
type resourceRef struct {
	// project is "" when the reference named none (a bare name, or a
	// project-relative global/..., zones/... or regions/... path).
	project string
	// scope is "global", "zones/Z" or "regions/R"; "" for a bare name.
	scope string
	// collection is the resource kind as the path spells it: images,
	// disks, instances, instanceTemplates, networks...; "" for a bare name.
	collection string
	// name is the last segment. For an image reference that follows a
	// family it is the family, and family is set.
	name   string
	family bool
}

// parseRef reads any spelling Compute Engine and its clients use for a
// resource: a URL on any host (http://127.0.0.1:PORT/compute/v1/projects/...,
// https://www.googleapis.com/compute/beta/projects/...), the same without
// scheme (a first segment with a dot or a colon is a host), a path with or
// without /compute/v1 (or beta, alpha), projects/P/SCOPE/COLLECTION/NAME,
// SCOPE/COLLECTION/NAME (SCOPE being global, zones/Z or regions/R) and a bare
// NAME. A query string or fragment is ignored. images/family/F, in any of
// these forms, is an image reference that follows the family F.
func parseRef(s string) (resourceRef, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return resourceRef{}, fmt.Errorf("empty reference")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			return resourceRef{}, fmt.Errorf("reference %q has a host but no path", orig)
		}
		s = rest[slash:]
	} else if first, _, ok := strings.Cut(s, "/"); ok && strings.ContainsAny(first, ".:") {
		s = s[len(first):]
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	if strings.HasSuffix(s, "/family/") {
		return resourceRef{}, fmt.Errorf("reference %q names no image: the family name is missing", orig)
	}
	s = strings.Trim(s, "/")
	for _, version := range []string{"compute/v1/", "compute/beta/", "compute/alpha/"} {
		if strings.HasPrefix(s, version) {
			s = s[len(version):]
			break
		}
	}
	parts := strings.Split(s, "/")
	var r resourceRef
	if parts[0] == "projects" {
		if len(parts) < 2 || parts[1] == "" {
			return resourceRef{}, fmt.Errorf("reference %q names no project", orig)
		}
		r.project, parts = parts[1], parts[2:]
		if len(parts) == 0 {
			return resourceRef{}, fmt.Errorf("reference %q names a project, not a resource in it", orig)
		}
	}
	switch {
	case len(parts) == 1 && r.project == "":
		r.name = parts[0]
	case parts[0] == "global" && len(parts) >= 3:
		r.scope, r.collection, parts = "global", parts[1], parts[2:]
	case (parts[0] == "zones" || parts[0] == "regions") && len(parts) >= 4 && parts[1] != "":
		r.scope, r.collection, parts = parts[0]+"/"+parts[1], parts[2], parts[3:]
	default:
		return resourceRef{}, fmt.Errorf("reference %q is not a resource: want NAME, a path such as global/images/NAME or zones/ZONE/disks/NAME (optionally after projects/PROJECT/), or a URL to one", orig)
	}
	if r.collection != "" {
		switch {
		case len(parts) == 1:
			r.name = parts[0]
		case len(parts) == 2 && r.collection == "images" && parts[0] == "family":
			r.name, r.family = parts[1], true
		default:
			return resourceRef{}, fmt.Errorf("reference %q has an unexpected tail %q", orig, strings.Join(parts, "/"))
		}
	}
	if r.name == "" {
		return resourceRef{}, fmt.Errorf("reference %q names no resource", orig)
	}
	return r, nil
}

// withProject fills in the project of a reference that named none.
func (r resourceRef) withProject(project string) resourceRef {
	if r.project == "" {
		r.project = project
	}
	return r
}

// path is the reference as Compute Engine words it in error messages:
// projects/P/global/images/N (the family form for a family reference).
func (r resourceRef) path() string {
	tail := r.name
	if r.family {
		tail = "family/" + r.name
	}
	return "projects/" + r.project + "/" + r.scope + "/" + r.collection + "/" + tail
}

// url is the canonical https://www.googleapis.com/compute/v1/... form.
func (r resourceRef) url() string { return apiRoot + r.path() }

// parseImageRef reads an image reference in any spelling parseRef accepts.
// A bare name is an image name in the default project.
func parseImageRef(s, defaultProject string) (resourceRef, error) {
	r, err := parseRef(s)
	if err != nil {
		return resourceRef{}, err
	}
	if r.collection == "" {
		// A bare name; "family/F" with no path before it is a family.
		r.scope, r.collection = "global", "images"
	}
	if r.scope != "global" || r.collection != "images" {
		return resourceRef{}, fmt.Errorf("reference %q names %s, not an image", s, r.collection)
	}
	return r.withProject(defaultProject), nil
}

// canonicalURL turns any spelling of a Compute Engine resource reference
// into the https://www.googleapis.com/compute/v1/projects/P/... form the API
// writes, with defaultProject where the reference names none. A reference
// that cannot be read is returned as it is: the caller decides whether that
// is an error.
func canonicalURL(defaultProject, ref string) string {
	r, err := parseRef(ref)
	if err != nil || r.collection == "" {
		return ref
	}
	return r.withProject(defaultProject).url()
}

// relativePath is a canonical URL without its host prefix:
// projects/P/zones/Z/disks/D.
func relativePath(url string) string {
	return strings.TrimPrefix(url, apiRoot)
}

// zonalRef reads a reference to a zonal resource of collection (disks,
// instances), in any spelling parseRef accepts, in defaultProject when it
// names none.
func zonalRef(s, collection, defaultProject string) (resourceRef, bool) {
	r, err := parseRef(s)
	if err != nil || r.collection != collection || !strings.HasPrefix(r.scope, "zones/") {
		return resourceRef{}, false
	}
	return r.withProject(defaultProject), true
}

// globalRef reads a reference to a global resource of collection.
func globalRef(s, collection, defaultProject string) (resourceRef, bool) {
	r, err := parseRef(s)
	if err != nil || r.collection != collection || r.scope != "global" {
		return resourceRef{}, false
	}
	return r.withProject(defaultProject), true
}

// zone is Z in a zones/Z scope, or "".
func (r resourceRef) zone() string { return strings.TrimPrefix(scopeOf(r.scope, "zones/"), "zones/") }

// region is R in a regions/R scope, or "".
func (r resourceRef) region() string {
	return strings.TrimPrefix(scopeOf(r.scope, "regions/"), "regions/")
}

func scopeOf(scope, prefix string) string {
	if strings.HasPrefix(scope, prefix) {
		return scope
	}
	return ""
}

// zoneOfURL returns the zone name in a zones/Z/... reference, or "".
func zoneOfURL(ref string) string {
	parts := strings.Split(ref, "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "zones" {
			return parts[i+1]
		}
	}
	return ""
}

// projectOfURL returns P in a .../projects/P/... reference.
func projectOfURL(url string) string {
	parts := strings.Split(relativePath(url), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "projects" {
			return parts[i+1]
		}
	}
	return ""
}

func lastSegment(s string) string {
	s = strings.TrimRight(s, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}
