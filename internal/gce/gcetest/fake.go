// Package gcetest holds a recording fake of gce.Compute for unit tests of
// the components. Anything that exercises Compute Engine behaviour itself
// (paging, retries, operations, error shapes) belongs against the emulator.
package gcetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

// Call is one recorded call: the method name and its arguments after ctx.
type Call struct {
	Method string
	Args   []any
}

// String renders the call as Method(arg, arg), for comparing call lists.
func (c Call) String() string {
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = fmt.Sprint(a)
	}
	return c.Method + "(" + strings.Join(parts, ", ") + ")"
}

// Fake is an in-memory gce.Compute. It keeps images per project, applies
// mutations to them, records every call in order, and returns scripted
// errors. It is safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	images map[string][]lifecycle.Image // project -> images
	calls  []Call
	errs   map[string][]error
	// Uses is what ScanImageUses returns.
	Uses gce.ImageUses
	// Now stamps the creation time of inserted images; time.Now when nil.
	Now func() time.Time
	// NextID numbers inserted images.
	NextID uint64
}

var _ gce.Compute = (*Fake)(nil)

// New returns a Fake holding images (their Project says where).
func New(images ...lifecycle.Image) *Fake {
	f := &Fake{images: map[string][]lifecycle.Image{}, errs: map[string][]error{}, Uses: gce.ImageUses{}, NextID: 1000}
	for _, img := range images {
		f.Put(img)
	}
	return f
}

// Put adds or replaces an image.
func (f *Fake) Put(img lifecycle.Image) {
	f.mu.Lock()
	defer f.mu.Unlock()
	imgs := f.images[img.Project]
	if i := indexOf(imgs, img.Name); i >= 0 {
		imgs[i] = img.Clone()
		return
	}
	f.images[img.Project] = append(imgs, img.Clone())
}

// Image returns the fake's copy of an image.
func (f *Fake) Image(project, name string) (lifecycle.Image, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := indexOf(f.images[project], name)
	if i < 0 {
		return lifecycle.Image{}, false
	}
	return f.images[project][i].Clone(), true
}

// Fail scripts the next calls of method (e.g. "SetFamily") to return errs in
// order; a nil entry lets that call succeed. Use gce errors such as
// &gce.Error{Kind: gce.ErrQuota, ...} to act like the real client.
func (f *Fake) Fail(method string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[method] = append(f.errs[method], errs...)
}

// Calls returns the recorded calls in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallStrings returns the recorded calls rendered by Call.String.
func (f *Fake) CallStrings() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.String())
	}
	return out
}

// record notes a call and returns its scripted error. Callers hold mu.
func (f *Fake) record(method string, args ...any) error {
	f.calls = append(f.calls, Call{Method: method, Args: args})
	q := f.errs[method]
	if len(q) == 0 {
		return nil
	}
	f.errs[method] = q[1:]
	return q[0]
}

func notFound(method, project, what string) error {
	res := "projects/" + project + "/global/images/" + what
	return &gce.Error{Kind: gce.ErrNotFound, Method: method, Resource: res, Code: 404, Reason: "notFound",
		Message: fmt.Sprintf("The resource '%s' was not found", res), Attempts: 1}
}

func indexOf(imgs []lifecycle.Image, name string) int {
	return slices.IndexFunc(imgs, func(i lifecycle.Image) bool { return i.Name == name })
}

func (f *Fake) lookup(method, project, name string) (*lifecycle.Image, error) {
	i := indexOf(f.images[project], name)
	if i < 0 {
		return nil, notFound(method, project, name)
	}
	return &f.images[project][i], nil
}

func cloneAll(imgs []lifecycle.Image) []lifecycle.Image {
	out := make([]lifecycle.Image, len(imgs))
	for i, img := range imgs {
		out[i] = img.Clone()
	}
	return out
}

func (f *Fake) ListFamily(_ context.Context, project, family string) ([]lifecycle.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListFamily", project, family); err != nil {
		return nil, err
	}
	var out []lifecycle.Image
	for _, img := range f.images[project] {
		if img.Family == family {
			out = append(out, img.Clone())
		}
	}
	return out, nil
}

// ListImages ignores the filter (a fake has no filter language): it returns
// every image of the project.
func (f *Fake) ListImages(_ context.Context, project, filter string) ([]lifecycle.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ListImages", project, filter); err != nil {
		return nil, err
	}
	return cloneAll(f.images[project]), nil
}

func (f *Fake) GetImage(_ context.Context, project, name string) (lifecycle.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("GetImage", project, name); err != nil {
		return lifecycle.Image{}, err
	}
	img, err := f.lookup("images.get", project, name)
	if err != nil {
		return lifecycle.Image{}, err
	}
	return img.Clone(), nil
}

func (f *Fake) GetFromFamily(_ context.Context, project, family string) (lifecycle.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("GetFromFamily", project, family); err != nil {
		return lifecycle.Image{}, err
	}
	head, ok := lifecycle.Head(f.images[project], family)
	if !ok {
		return lifecycle.Image{}, notFound("images.getFromFamily", project, "family/"+family)
	}
	return head.Clone(), nil
}

// GetFromFamilyZonal answers as GetFromFamily: every zone has every image.
func (f *Fake) GetFromFamilyZonal(_ context.Context, project, zone, family string) (lifecycle.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("GetFromFamilyZonal", project, zone, family); err != nil {
		return lifecycle.Image{}, err
	}
	head, ok := lifecycle.Head(f.images[project], family)
	if !ok {
		return lifecycle.Image{}, notFound("imageFamilyViews.get", project, "family/"+family)
	}
	return head.Clone(), nil
}

// mutate is what every mutation of the fake shares with gce's client: the
// call holds a request slot of ctx's RequestSlots (gce.HoldRequestSlot) and
// gives it back with its outcome; under the lock, it is recorded (its
// scripted error answers it) and then apply changes the images.
func (f *Fake) mutate(ctx context.Context, method string, args []any, apply func() error) (err error) {
	release, err := gce.HoldRequestSlot(ctx)
	if err != nil {
		return err
	}
	defer func() { release(err) }()
	if err := gce.Precheck(ctx); err != nil {
		return err // not sent, so not recorded
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(method, args...); err != nil {
		return err
	}
	return apply()
}

func (f *Fake) InsertImageFromImage(ctx context.Context, project string, spec gce.ImageSpec) (lifecycle.Image, error) {
	var made lifecycle.Image
	err := f.mutate(ctx, "InsertImageFromImage", []any{project, spec.Name, spec.SourceImage}, func() error {
		if indexOf(f.images[project], spec.Name) >= 0 {
			res := "projects/" + project + "/global/images/" + spec.Name
			return &gce.Error{Kind: gce.ErrAlreadyExists, Method: "images.insert", Resource: res, Code: 409,
				Reason: "alreadyExists", Message: fmt.Sprintf("The resource '%s' already exists", res), Attempts: 1}
		}
		now := time.Now
		if f.Now != nil {
			now = f.Now
		}
		f.NextID++
		made = lifecycle.Image{
			Name: spec.Name, ID: f.NextID, Project: project, Family: spec.Family, CreatedAt: now().UTC(),
			Status: lifecycle.StatusReady, Labels: maps.Clone(spec.Labels), Architecture: spec.Architecture,
			SelfLink: lifecycle.ImageRef{Project: project, Name: spec.Name}.SelfLink(),
		}
		f.images[project] = append(f.images[project], made)
		return nil
	})
	if err != nil {
		return lifecycle.Image{}, err
	}
	return made.Clone(), nil
}

func (f *Fake) SetFamily(ctx context.Context, project, image, family string) error {
	return f.mutate(ctx, "SetFamily", []any{project, image, family}, func() error {
		img, err := f.lookup("images.patch", project, image)
		if err != nil {
			return err
		}
		img.Family = family
		return nil
	})
}

// SetLabelsFrom calls merge once with the current labels (the fake has no
// concurrent writers and no fingerprints) and stores the result. It is
// recorded as SetLabels(project, image).
func (f *Fake) SetLabelsFrom(ctx context.Context, target lifecycle.Image, merge func(map[string]string) (map[string]string, error)) error {
	return f.mutate(ctx, "SetLabels", []any{target.Project, target.Name}, func() error {
		img, err := f.lookup("images.setLabels", target.Project, target.Name)
		if err != nil {
			return err
		}
		cur := maps.Clone(img.Labels)
		if cur == nil {
			cur = map[string]string{}
		}
		labels, err := merge(cur)
		if err != nil {
			return err
		}
		img.Labels = maps.Clone(labels)
		return nil
	})
}

func (f *Fake) Deprecate(ctx context.Context, project, image string, d lifecycle.Deprecation) error {
	return f.mutate(ctx, "Deprecate", []any{project, image, d.State.Normal()}, func() error {
		img, err := f.lookup("images.deprecate", project, image)
		if err != nil {
			return err
		}
		img.Deprecation = d
		img.Deprecation.State = d.State.Normal()
		return nil
	})
}

func (f *Fake) DeleteImage(ctx context.Context, project, image string) error {
	return f.mutate(ctx, "DeleteImage", []any{project, image}, func() error {
		i := indexOf(f.images[project], image)
		if i < 0 {
			return notFound("images.delete", project, image)
		}
		f.images[project] = slices.Delete(f.images[project], i, i+1)
		return nil
	})
}

func (f *Fake) ScanImageUses(_ context.Context, projects []string) (gce.ImageUses, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record("ScanImageUses", strings.Join(projects, ",")); err != nil {
		return nil, err
	}
	// Only uses that live in a scanned project are found, as for real.
	out := gce.ImageUses{}
	for ref, uses := range f.Uses {
		for _, u := range uses {
			if slices.Contains(projects, u.Project) {
				out[ref] = append(out[ref], u)
			}
		}
	}
	return out, nil
}

func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = f.record("Close")
	return nil
}
