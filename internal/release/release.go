package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// cleanupTimeout bounds what runs after the build's context may have ended:
// the removal of a copy after a failed release, the read-back of a failed
// family move.
const cleanupTimeout = 2 * time.Minute

// Reporter is where Run tells people what it does. packersdk.Ui satisfies it.
type Reporter interface {
	// Say reports a step.
	Say(string)
	// Error reports a problem: a warning after the release, or what stops it.
	Error(string)
}

// Rename says what to do with an image whose name breaks the convention.
type Rename string

const (
	// RenameNever fails the release, saying what the convention wanted.
	RenameNever Rename = "never"
	// RenameCopy creates the image again under the conventional name from the
	// built one, releases the copy and deletes the built one.
	RenameCopy Rename = "copy"
)

// Request is one release.
type Request struct {
	// Project is the image project: where the built image is and where the
	// family lives.
	Project string
	Family  string
	// Image is the built image's name.
	Image string
	// Parent is the image the build started from, in any spelling
	// lifecycle.ParseImageRef takes (a bare name means Project); "" when
	// unknown: no parent lineage labels are written then.
	Parent string
	// Labels are the user's labels, written over existing values.
	Labels map[string]string
	// Convention is what the name must follow; nil skips the check.
	Convention *lifecycle.Convention
	Rename     Rename
	// Description is the description of a copy (RenameCopy).
	Description string
	Policy      lifecycle.Policy
	// InUseProjects are scanned for uses of the family's images along with
	// Project (when Policy.CheckInUse).
	InUseProjects []string
	// Parallelism bounds the rotation's requests in flight (apply.Options).
	Parallelism int
	// DryRun reads, plans and prints, and changes nothing.
	DryRun bool
	// FailOnRotationError makes rotation problems that can be known before
	// the family moves fail the release (see the package documentation).
	FailOnRotationError bool
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (r Request) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

// Run releases req.Image into req.Family. It returns an error only while the
// image is not released and no family is known to hold it (see the package
// documentation); out describes what happened either way and is what the
// JSON report holds.
func Run(ctx context.Context, c gce.Compute, req Request, rep Reporter) (out *Outcome, err error) {
	r := &run{c: c, req: req, rep: rep, out: newOutcome(req)}
	defer func() {
		if err != nil {
			r.out.Error = err.Error()
		}
		switch {
		case err != nil && r.out.Released:
			// Reached when the builder had put the image in the family
			// before the release; kept so that no change can make Packer
			// delete a released image.
			r.warn(fmt.Sprintf("not failing the build for an error after the release (Packer would delete the image): %v", err))
			err = nil
		case err != nil && r.out.BuiltFamily != "" && !req.DryRun:
			// The builder put the image in another family: things may
			// resolve to it there, and Packer would delete it.
			r.warn(fmt.Sprintf("the release failed and the family %s was not moved, but not failing the build: the image is in family %s, where the builder put it, and Packer deletes the image of a failed post-processor whatever keep_input_artifact says: %v",
				req.Family, r.out.BuiltFamily, err))
			err = nil
		}
	}()
	if err := r.prepare(ctx); err != nil {
		if req.DryRun {
			// A dry run never fails the build: Packer would delete the image.
			r.out.Error = err.Error()
			rep.Error(fmt.Sprintf("image %s, family %s: DRY RUN: the release would fail: %v", r.target, req.Family, err))
			return r.out, nil
		}
		return r.out, r.fail(ctx, err)
	}
	if req.DryRun {
		r.dryRun(ctx)
		return r.out, nil
	}
	if err := r.release(ctx); err != nil {
		return r.out, r.fail(ctx, err)
	}
	r.afterRelease(ctx)
	return r.out, nil
}

// run is one Run's working state.
type run struct {
	c   gce.Compute
	req Request
	rep Reporter
	out *Outcome

	built   lifecycle.Image // the image the build made, as read
	target  string          // the name to release: built's, or the copy's
	copy    bool            // a copy is to be (or was) made
	copied  bool            // the copy exists
	lineage map[string]string
}

func (r *run) say(format string, args ...any) {
	r.rep.Say(fmt.Sprintf("image %s, family %s: ", r.target, r.req.Family) + fmt.Sprintf(format, args...))
}

func (r *run) warn(msg string) {
	r.out.Warnings = append(r.out.Warnings, msg)
	r.rep.Error(fmt.Sprintf("image %s, family %s: WARNING: %s", r.target, r.req.Family, msg))
}

// fail cleans up what Run made itself before the release and returns err.
func (r *run) fail(ctx context.Context, err error) error {
	if r.copied && !r.out.Released {
		// Packer deletes the built image; the copy is ours to remove, even
		// when the build was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if derr := r.c.DeleteImage(cctx, r.req.Project, r.target); derr != nil && !errors.Is(derr, gce.ErrNotFound) {
			// Outside the family and used by nothing, but left behind: the
			// error and the report say so, so that it is not lost track of.
			r.warn(fmt.Sprintf("could not delete the copy %s made for the failed release; delete it by hand: %v", r.target, derr))
			err = fmt.Errorf("%w (the copy %s made for this release could not be deleted and is left outside the family: delete it by hand)", err, r.target)
		} else {
			r.rep.Say(fmt.Sprintf("image %s: deleted the copy made for the failed release", r.target))
		}
	}
	switch {
	case r.out.Released || r.out.BuiltFamily != "":
		// Not failed at all: see Run.
	case r.built.Name == "":
		err = fmt.Errorf("%w (nothing was changed; the image %s could not be read, so whether the builder put it in a family is not known: Packer now deletes it, as after any failed post-processor, and a family holding it falls back to its previous image)", err, r.req.Image)
	default:
		err = fmt.Errorf("%w (the family %s was not moved; Packer deletes the unreleased image %s)", err, r.req.Family, r.req.Image)
	}
	return err
}

// prepare reads everything the release needs and decides the name; it
// changes nothing.
func (r *run) prepare(ctx context.Context) error {
	req := r.req
	r.target = req.Image
	r.say("releasing into project %s", req.Project)

	built, err := r.c.GetImage(ctx, req.Project, req.Image)
	if err != nil {
		if errors.Is(err, gce.ErrNotFound) {
			return fmt.Errorf("the built image %s is not in project %s: project_id must be the project the image was created in (googlecompute's image_project_id): %w", req.Image, req.Project, err)
		}
		return fmt.Errorf("reading the built image %s: %w", req.Image, err)
	}
	r.built = built
	r.out.BuiltFamily = built.Family
	if built.SelfLink != "" {
		r.out.SelfLink = built.SelfLink
	}
	if built.Family == req.Family && !req.DryRun {
		// The builder put the image in the family (googlecompute's
		// image_family): things may resolve to it already, so it is
		// released whatever happens next, and nothing may fail the build
		// any more: Packer would delete it.
		r.out.Released = true
	}
	if !built.Ready() {
		return fmt.Errorf("the built image %s is %s, not READY: only a finished image can be released", built.Name, built.Status)
	}
	if st := built.State(); st != lifecycle.StateActive {
		return fmt.Errorf("the built image %s is %s: only an ACTIVE image can be released (a deprecated image is never un-deprecated)", built.Name, st)
	}
	if built.Family != "" && built.Family != req.Family {
		r.say("the image is in family %s now; the release moves it to %s", built.Family, req.Family)
	}
	if built.Family == req.Family {
		r.say("the builder already put the image in the family (googlecompute's image_family), before the release checks: leave image_family out so that the family moves only once the checks pass")
	}

	if err := r.checkName(); err != nil {
		return err
	}

	head, err := r.c.GetFromFamily(ctx, req.Project, req.Family)
	switch {
	case err == nil:
		r.out.PreviousHead = head.Name
		r.say("the family points to %s now", head.Name)
	case errors.Is(err, gce.ErrNotFound):
		r.say("the family resolves to no image yet: this is its first release")
	default:
		r.warn(fmt.Sprintf("could not read the family's head before the release: %v", err))
	}

	r.lineage, err = r.lineageLabels(ctx)
	if err != nil {
		return err
	}
	// Check the merge now against the labels as read, so that a collision
	// fails before anything is written; SetLabels merges again on the
	// labels current at the time of writing.
	if _, err := lifecycle.MergeLabels(built.Labels, r.lineage, req.Labels); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	return nil
}

// checkName decides the name to release under.
func (r *run) checkName() error {
	conv := r.req.Convention
	if conv == nil {
		r.say("no naming convention given: the name is not checked")
		return nil
	}
	err := conv.Check(r.built.Name)
	if err == nil {
		r.say("the name follows the convention %s", conv.TemplateOrDefault())
		return nil
	}
	if r.req.Rename != RenameCopy {
		return fmt.Errorf("the image name %s breaks the naming convention: %v (set rename = \"copy\" to release a copy under the conventional name)", r.built.Name, err)
	}
	name, nerr := conv.Name(r.built.CreatedAt)
	if nerr != nil {
		return fmt.Errorf("naming the copy of %s: %w", r.built.Name, nerr)
	}
	r.say("the name breaks the convention (%v): releasing a copy named %s", err, name)
	r.copy = true
	r.target = name.String()
	r.out.Renamed = true
	r.out.Image = r.target
	r.out.SelfLink = lifecycle.ImageRef{Project: r.req.Project, Name: r.target}.SelfLink()
	return nil
}

// lineageLabels computes the labels the release owns.
func (r *run) lineageLabels(ctx context.Context) (map[string]string, error) {
	req := r.req
	l := lifecycle.Lineage{ReleasedAt: req.now()}
	r.out.ReleasedAt = &l.ReleasedAt
	if c := req.Convention; c != nil {
		l.OS, l.Software, l.Version = c.OS, c.Software, c.Version
	}
	if req.Parent != "" {
		ref, err := lifecycle.ParseImageRef(req.Parent)
		if err != nil {
			return nil, fmt.Errorf("parent %q: %w", req.Parent, err)
		}
		if ref.Family {
			return nil, fmt.Errorf("parent %q names a family, not an image: give the image the build started from (data.imagefamily.X.self_link)", req.Parent)
		}
		ref = ref.WithDefaultProject(req.Project)
		r.out.Parent = ref.String()
		l.ParentImage, l.ParentProject = ref.String(), ref.Project
		if p, err := r.c.GetImage(ctx, ref.Project, ref.Name); err != nil {
			r.warn(fmt.Sprintf("could not read the parent image %s to learn its family; %s is left out: %v", ref, lifecycle.LabelParentFamily, err))
		} else {
			l.ParentFamily = p.Family
			r.out.ParentFamily = p.Family
		}
	} else {
		r.say("the parent image is unknown: no parent lineage labels are written (set parent)")
	}
	labels, err := lifecycle.LineageLabels(l)
	if err != nil {
		return nil, fmt.Errorf("lineage labels: %w", err)
	}
	return labels, nil
}

// release makes the copy, writes the labels and moves the family.
func (r *run) release(ctx context.Context) error {
	req := r.req
	// The image whose labels are written, as last read: its labels and
	// their fingerprint let the write go without reading it again (a
	// concurrent change since makes the write fail with 412, and the
	// labels are read and merged again).
	target := r.built
	if r.copy {
		spec := gce.ImageSpec{Name: r.target, SourceImage: lifecycle.ImageRef{Project: req.Project, Name: r.built.Name}.String(),
			Description: req.Description, Labels: maps.Clone(r.built.Labels), Architecture: r.built.Architecture}
		img, err := r.c.InsertImageFromImage(ctx, req.Project, spec)
		if err != nil {
			return fmt.Errorf("copying %s to %s: %w", r.built.Name, r.target, err)
		}
		r.copied = true
		if img.SelfLink != "" {
			r.out.SelfLink = img.SelfLink
		}
		r.say("created the copy from %s", r.built.Name)
		target = img
	}
	if target.Project == "" {
		target.Project = req.Project
	}

	merge := func(cur map[string]string) (map[string]string, error) {
		labels, err := lifecycle.MergeLabels(cur, r.lineage, req.Labels)
		if err == nil {
			r.out.Labels = maps.Clone(labels)
		}
		return labels, err
	}
	if err := r.c.SetLabelsFrom(ctx, target, merge); err != nil {
		return fmt.Errorf("writing the labels: %w", err)
	}
	r.say("wrote the labels %s", formatLabels(r.lineage, req.Labels))

	if req.FailOnRotationError {
		if _, err := apply.Gather(ctx, r.c, req.Project, req.Family, req.InUseProjects, req.Policy.CheckInUse); err != nil {
			return fmt.Errorf("rotation (fail_on_rotation_error): %w", err)
		}
		r.say("read the family and what uses its images before the release (fail_on_rotation_error)")
	}

	if r.built.Family == req.Family && !r.copy {
		r.out.Released = true
		r.say("the image is already in the family")
		return nil
	}
	if err := r.c.SetFamily(ctx, req.Project, r.target, req.Family); err != nil {
		// The call may have gone through anyway (a lost response, a build
		// cancelled mid-call): only a read that shows the image outside the
		// family lets it go. The read runs even when ctx has ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		img, rerr := r.c.GetImage(rctx, req.Project, r.target)
		cancel()
		switch {
		case rerr == nil && img.Family != req.Family:
			return fmt.Errorf("moving the family: %w", err)
		case rerr == nil:
			r.out.Released = true
			r.warn(fmt.Sprintf("moving the family reported %v, but the image is in the family: released", err))
			return nil
		default:
			r.out.Released = true
			r.out.ReleaseUnconfirmed = true
			r.warn(fmt.Sprintf("moving the family reported %v, and reading the image back failed (%v): the image may be in the family, so it is kept; check the family (imagefamily status)", err, rerr))
			return nil
		}
	}
	r.out.Released = true
	from := r.out.PreviousHead
	if from == "" {
		from = "(none)"
	}
	r.say("moved the family pointer: %s -> %s", from, r.target)
	return nil
}

// afterRelease deletes the uncopied image, verifies the head and rotates.
// Nothing here is an error any more.
//
// One read of the family serves both the verification and the rotation: the
// rotation plans relative to the head of the family as listed (what
// getFromFamily returns, computed by lifecycle.Head), so that listing is
// what must show the released image as the head, or as superseded by a newer
// image that raced it in. A separate getFromFamily would only add a second
// answer that the plan does not use.
func (r *run) afterRelease(ctx context.Context) {
	req := r.req
	switch {
	case r.copied && r.built.Family != "" && r.built.Family != req.Family:
		// Another family may resolve to it: deleting it is not the
		// release's to decide.
		r.warn(fmt.Sprintf("the built image %s is not deleted after releasing its copy: it is in family %s, where the builder put it; delete it once nothing resolves to it there", r.built.Name, r.built.Family))
	case r.copied:
		if err := r.c.DeleteImage(ctx, req.Project, r.built.Name); err != nil && !errors.Is(err, gce.ErrNotFound) {
			r.warn(fmt.Sprintf("could not delete the built image %s after releasing its copy; delete it by hand: %v", r.built.Name, err))
		} else {
			r.out.BuiltDeleted = true
			r.say("deleted the built image %s (released as its copy)", r.built.Name)
		}
	}

	s, err := apply.Gather(ctx, r.c, req.Project, req.Family, req.InUseProjects, req.Policy.CheckInUse)
	if err != nil {
		r.rotationProblem(fmt.Sprintf("rotation skipped, and the family's head not verified: %v; run `imagefamily rotate` once it is fixed", err))
		return
	}
	if !r.verify(s) {
		return
	}
	plan := lifecycle.Plan(s, req.Policy, req.now())
	r.out.Plan = summarize(plan)
	if len(plan.Actions()) == 0 {
		r.say("rotation: nothing to do")
	} else {
		r.say("rotation: %s (parallelism %d)", textfmt.Count(len(plan.Actions()), "action"), parallelism(req.Parallelism))
	}
	rep := apply.Apply(ctx, r.c, req.Project, plan, apply.Options{Parallelism: req.Parallelism, Progress: func(res apply.Result) {
		if res.Err != nil {
			r.rep.Error(fmt.Sprintf("image %s, family %s: %s %s -> %s FAILED: %v", res.Image, req.Family, res.Action, res.From, res.To, res.Err))
			return
		}
		r.rep.Say(fmt.Sprintf("image %s, family %s: %s %s -> %s", res.Image, req.Family, res.Action, res.From, res.To))
	}})
	r.out.Rotation = &rep
	r.printTable(rep)
	if n := rep.Failed(); n > 0 {
		r.rotationProblem(fmt.Sprintf("%d of %d rotation actions failed; the release stands, and `imagefamily rotate` retries them: %v", n, len(rep.Results), rep.Err()))
	}
}

// verify checks the family as read after the release: its head must be the
// released image, or an image that raced it in (newer, so the released image
// is in the family and ACTIVE too). It reports whether the rotation may be
// planned on s: not when the family does not show the released image as
// such, since its head would then be some other image for no known reason.
func (r *run) verify(s lifecycle.Snapshot) bool {
	req := r.req
	head, hasHead := s.Head()
	if hasHead {
		r.out.Head = head.Name
	}
	img, listed := s.Find(lifecycle.ImageRef{Project: req.Project, Name: r.target}.String())
	switch {
	case hasHead && head.Name == r.target:
		r.say("verified: the family resolves to %s", head.Name)
		return true
	case !listed || img.Family != req.Family || !img.Ready() || img.State() != lifecycle.StateActive || !hasHead:
		resolves := "nothing"
		if hasHead {
			resolves = head.Name
		}
		r.warn(fmt.Sprintf("the family resolves to %s, and its listing does not show %s in it as a READY, ACTIVE image: the release is not visible in the family", resolves, r.target))
		r.rotationProblem("rotation skipped: it is planned relative to the family's head, and the family does not show this release; check it (imagefamily status), then run `imagefamily rotate`")
		return false
	default:
		r.out.Raced = true
		r.warn(fmt.Sprintf("the family resolves to %s, not to this image: %s (created %s) is newer and ACTIVE, so it raced this release in; the release stands and the rotation is planned relative to %s",
			head.Name, head.Name, head.CreatedAt.UTC().Format(time.RFC3339), head.Name))
		return true
	}
}

func (r *run) rotationProblem(msg string) {
	r.out.RotationFailed = true
	if r.req.FailOnRotationError {
		msg += " (fail_on_rotation_error: not failing the build, because Packer would then delete the released image)"
	}
	r.warn(msg)
}

// dryRun prints what the release would do.
func (r *run) dryRun(ctx context.Context) {
	req := r.req
	if r.copy {
		r.say("DRY RUN: would copy %s to %s, release the copy and delete %s", r.built.Name, r.target, r.built.Name)
	}
	labels, _ := lifecycle.MergeLabels(r.built.Labels, r.lineage, req.Labels)
	r.out.Labels = labels
	r.say("DRY RUN: would write the labels %s", formatLabels(r.lineage, req.Labels))
	if r.built.Family == req.Family && !r.copy {
		r.say("DRY RUN: the image is already in the family")
	} else {
		from := r.out.PreviousHead
		if from == "" {
			from = "(none)"
		}
		r.say("DRY RUN: would move the family pointer: %s -> %s", from, r.target)
	}
	s, err := apply.Gather(ctx, r.c, req.Project, req.Family, req.InUseProjects, req.Policy.CheckInUse)
	if err != nil {
		r.rotationProblem(fmt.Sprintf("the rotation could not be planned: %v", err))
		return
	}
	now := req.now()
	s = withReleased(s, r.built, r.target, req.Family, now)
	plan := lifecycle.Plan(s, req.Policy, now)
	r.out.Plan = summarize(plan)
	rep := apply.Preview(plan)
	r.out.Rotation = &rep
	r.printTable(rep)
	r.say("DRY RUN: nothing was changed")
}

// withReleased is the family as it would be after the release: the image in
// it (a copy created now).
func withReleased(s lifecycle.Snapshot, built lifecycle.Image, name, family string, now time.Time) lifecycle.Snapshot {
	s = s.Clone()
	img := built.Clone()
	img.Family = family
	if name != built.Name {
		img.Name, img.ID, img.CreatedAt = name, 0, now
		img.SelfLink = lifecycle.ImageRef{Project: built.Project, Name: name}.SelfLink()
	}
	for i := range s.Images {
		if s.Images[i].Name == img.Name {
			s.Images[i] = img
			return s
		}
	}
	s.Images = append(s.Images, img)
	return s
}

func (r *run) printTable(rep apply.Report) {
	var b bytes.Buffer
	apply.WriteTable(&b, rep)
	r.rep.Say(strings.TrimRight(b.String(), "\n"))
}

// parallelism is the rotation's Parallelism as apply.Apply applies it.
func parallelism(n int) int {
	if n <= 0 {
		return apply.DefaultParallelism
	}
	return n
}

func formatLabels(lineage, user map[string]string) string {
	all := map[string]string{}
	maps.Copy(all, lineage)
	maps.Copy(all, user)
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + all[k]
	}
	return strings.Join(parts, " ")
}
