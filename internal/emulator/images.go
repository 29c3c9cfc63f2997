package emulator

import (
	"fmt"
	"net/http"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Stored images are never modified in place: every mutation stores a changed
// copy. Responses can therefore share them after the store lock is released,
// and list filtering caches their JSON form by identity (see freeze).

// imageRoutes registers the images.* methods and the zonal family view.
func (s *Server) imageRoutes() {
	const base = "projects/{project}/global/images"
	s.route("GET", base, "images.list", s.imageList)
	s.route("POST", base, "images.insert", s.imageInsert)
	s.route("GET", base+"/{image}", "images.get", s.imageGet)
	s.route("DELETE", base+"/{image}", "images.delete", s.imageDelete)
	s.route("PATCH", base+"/{image}", "images.patch", s.imagePatch)
	s.route("POST", base+"/{image}/deprecate", "images.deprecate", s.imageDeprecate)
	s.route("POST", base+"/{image}/setLabels", "images.setLabels", s.imageSetLabels)
	s.route("GET", base+"/family/{family}", "images.getFromFamily", s.imageGetFromFamily)
	s.route("GET", "projects/{project}/zones/{zone}/imageFamilyViews/{family}", "imageFamilyViews.get", s.imageFamilyView)
}

func imagePath(project, name string) string {
	return fmt.Sprintf("projects/%s/global/images/%s", project, name)
}

// imageLocked finds an image by name or, as Compute Engine allows, by its
// numeric id. It never creates the project: reads must not leave empty
// projects behind in the state file.
func (st *Store) imageLocked(projectName, nameOrID string) (*project, *computepb.Image, error) {
	p := st.projects[projectName]
	if p != nil {
		if img, ok := p.images[nameOrID]; ok {
			return p, img, nil
		}
		if id, ok := numericID(nameOrID); ok {
			for _, img := range p.images {
				if img.GetId() == id {
					return p, img, nil
				}
			}
		}
	}
	return p, nil, errNotFound(imagePath(projectName, nameOrID))
}

// imageViewLocked is the image as a reader sees it now: PENDING until the
// operation that created it is done, READY after.
func (st *Store) imageViewLocked(p *project, img *computepb.Image) *computepb.Image {
	readyAt, ok := p.imageReadyAt[img.GetName()]
	if !ok {
		return img
	}
	if !st.clock().Before(readyAt) {
		delete(p.imageReadyAt, img.GetName())
		return img
	}
	v := proto.Clone(img).(*computepb.Image)
	v.Status = proto.String("PENDING")
	return v
}

// familyHeadLocked is what getFromFamily returns: the newest READY image of
// the family whose deprecation state is absent or ACTIVE, among the images
// as they are now (forRead false: what a mutation resolves) or as readers
// see them (forRead true: read lag applies).
//
// Newest is one rule that every ordering by age shares (getFromFamily and
// orderBy=creationTimestamp desc): the later creationTimestamp, and between
// equal ones the greater name. Creation times are strictly increasing for
// images created here; only fixtures can tie.
func (st *Store) familyHeadLocked(p *project, family string, forRead bool) *computepb.Image {
	if p == nil {
		return nil
	}
	images := p.images
	if forRead {
		images = visibleKeyed(st, p.name, kindImage, p.images)
	}
	var best *computepb.Image
	var bestT time.Time
	for _, img := range images {
		if img.GetFamily() != family || !isActive(img) {
			continue
		}
		v := st.imageViewLocked(p, img)
		if v.GetStatus() != "READY" {
			continue
		}
		t := parseTimestamp(v.GetCreationTimestamp())
		if best == nil || t.After(bestT) || (t.Equal(bestT) && v.GetName() > best.GetName()) {
			best, bestT = v, t
		}
	}
	return best
}

func isActive(img *computepb.Image) bool {
	s := img.GetDeprecated().GetState()
	return s == "" || s == "ACTIVE"
}

func parseTimestamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func (s *Server) imageGet(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	_, img, err := s.store.readImageLocked(r.PathValue("project"), r.PathValue("image"))
	if err != nil {
		return nil, err
	}
	return img, nil
}

func (s *Server) imageList(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	name := r.PathValue("project")
	var items []*computepb.Image
	if p := s.store.projects[name]; p != nil {
		items = visible(s.store, name, kindImage, p.images)
		for i, img := range items {
			items[i] = s.store.imageViewLocked(p, img)
		}
	}
	page, next, err := listPage(r, items)
	if err != nil {
		return nil, err
	}
	out := &computepb.ImageList{
		Kind:     proto.String("compute#imageList"),
		Id:       proto.String("projects/" + name + "/global/images"),
		Items:    page,
		SelfLink: proto.String(selfLink(name, "global/images")),
	}
	if next != "" {
		out.NextPageToken = proto.String(next)
	}
	return out, nil
}

func (s *Server) imageGetFromFamily(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	project, family := r.PathValue("project"), r.PathValue("family")
	head := s.store.familyHeadLocked(s.store.projects[project], family, true)
	if head == nil {
		return nil, errNotFound(imagePath(project, "family/"+family))
	}
	return head, nil
}

// imageFamilyView answers the zonal view of a family. Every image is rolled
// out to every zone at once here, so it is the project-wide head.
func (s *Server) imageFamilyView(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	project, zone, family := r.PathValue("project"), r.PathValue("zone"), r.PathValue("family")
	head := s.store.familyHeadLocked(s.store.projects[project], family, true)
	if head == nil {
		return nil, errNotFound(fmt.Sprintf("projects/%s/zones/%s/imageFamilyViews/%s", project, zone, family))
	}
	return &computepb.ImageFamilyView{Image: head}, nil
}

// imageMutation is a validated change, applied once its operation exists.
type imageMutation struct {
	opType string
	target *computepb.Image // names the operation's targetLink and targetId
	apply  func(op *computepb.Operation)
}

// mutateImages runs the part every image mutation shares: a retried requestId
// returns the first operation; prepare validates (its errors are synchronous,
// as Compute Engine's are); an injected "fail" fault yields a failed operation
// without applying the change; otherwise the change is applied and persisted.
func (s *Server) mutateImages(r *http.Request, method string, prepare func(p *project) (*imageMutation, error)) (proto.Message, error) {
	requestID, err := requestIDOf(r)
	if err != nil {
		return nil, err
	}
	// Drawn before locking: the draw takes the store lock itself.
	fail := s.shouldFailOperation(method)
	st := s.store
	st.lock()
	defer st.unlock()
	p := st.projectLocked(r.PathValue("project"))
	if op, ok := st.replayLocked(p.name, requestID); ok {
		return op, nil
	}
	m, err := prepare(p)
	if err != nil {
		st.discardLocked()
		return nil, err
	}
	op := st.startOperationLocked(p, "global", m.opType, m.target.GetSelfLink(), m.target.GetId(), requestID)
	if fail {
		st.discardLocked()
		return st.failOperationLocked(p, op, &apiError{Code: http.StatusInternalServerError, Reason: "internalError",
			Message: fmt.Sprintf("Injected operation failure for %s (emulator --faults): nothing was changed", method)}), nil
	}
	m.apply(op)
	if err := st.commitLocked(); err != nil {
		return nil, fmt.Errorf("the change is applied but the emulator state file could not be written: %w", err)
	}
	return op, nil
}

// replaceImageLocked stores an image, new or a changed copy (see the note at
// the top of this file). Every write to project.images goes through it.
func (st *Store) replaceImageLocked(p *project, img *computepb.Image) {
	put(st, p, kindImage, p.images, img.GetName(), img)
	freeze(img)
}

func (s *Server) imageDelete(r *http.Request) (proto.Message, error) {
	return s.mutateImages(r, "images.delete", func(p *project) (*imageMutation, error) {
		_, img, err := s.store.imageLocked(p.name, r.PathValue("image"))
		if err != nil {
			return nil, err
		}
		return &imageMutation{opType: "delete", target: img, apply: func(*computepb.Operation) {
			drop(s.store, p, kindImage, p.images, img.GetName())
			delete(p.imageReadyAt, img.GetName())
		}}, nil
	})
}

// PutImage stores img in project as a test fixture, filling the fields the
// server sets (id, selfLink, creationTimestamp, status, labelFingerprint...)
// when they are missing. An image of the same name is replaced.
func (s *Server) PutImage(project string, img *computepb.Image) error {
	if !validName(img.GetName()) {
		return fmt.Errorf("emulator: PutImage: image name %q is not a valid Compute Engine name", img.GetName())
	}
	if err := checkLabels("labels", img.GetLabels()); err != nil {
		return fmt.Errorf("emulator: PutImage %s: %w", img.GetName(), err)
	}
	c := proto.Clone(img).(*computepb.Image)
	st := s.store
	st.lock()
	defer st.unlock()
	p := st.projectLocked(project)
	st.fillImageLocked(p, c)
	delete(p.imageReadyAt, c.GetName())
	st.replaceImageLocked(p, c)
	return st.commitFixtureLocked()
}
