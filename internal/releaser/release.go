package releaser

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"math/rand/v2"
	"slices"
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
// Run names the image and the family once, in its first step; every line
// after is about that release. Each line also goes to the log (Packer's,
// with PACKER_LOG=1), with what is too long for the build output: every
// rotation action and its reason, retries and back-offs.
type Reporter interface {
	// Say reports a step.
	Say(string)
	// Message reports a detail of the step last said (the post-processor
	// says it indented: Packer prints a ui.Message as a ui.Say).
	Message(string)
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
	// ParentNote says why Parent is empty and what to do about it, when the
	// caller knows; it is said in place of the default advice (set parent).
	ParentNote string
	// ContentDigest is lifecycle.ContentDigest of the build's content
	// manifest, "" for none. It is written as a label; when the family's
	// head carries the same, the build changed nothing: the family is not
	// moved nor rotated, and the built image is deleted (see
	// lifecycle.DecideUnchanged).
	ContentDigest string
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
	// Lease tunes the family's lease, held from before the first change to
	// the end of the rotation (its Holder is set by Run; a zero Wait is
	// apply.DefaultLeaseWait: a build waits for a rotation to finish).
	Lease apply.LeaseOptions
	// LagPause is the pause before the family is read again when a read
	// after the move does not show the release yet (reads may lag writes for
	// a moment); three more reads are made. 1 s when zero.
	LagPause time.Duration
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
			r.problem(fmt.Sprintf("DRY RUN: the release would fail: %v", err))
			return r.out, nil
		}
		return r.out, r.fail(ctx, err)
	}
	if r.same.Same {
		r.unchanged(ctx)
		return r.out, nil
	}
	if req.DryRun {
		r.dryRun(ctx)
		return r.out, nil
	}
	// The family's lease, before the first change: no other command of this
	// project changes the family until the release and its rotation are
	// done. Waiting for it comes after every check that can fail, so that a
	// bad release fails at once.
	leaseOpts := req.Lease
	if leaseOpts.Wait <= 0 {
		leaseOpts.Wait = apply.DefaultLeaseWait
	}
	leaseOpts.Holder = lifecycle.LeaseHolder("release", rand.Uint32())
	leaseOpts.OnWait = func(l lifecycle.Lease) {
		r.step("Waiting for the family's lease, held by %s until %s (a crashed holder's lease runs out by then)", l.Holder, textfmt.Time(l.Expires))
	}
	if req.Policy.CheckInUse {
		// The rotation after the release needs it; it depends on nothing the
		// release does.
		r.scans = apply.NewScans(c, apply.ScanProjects(req.Project, req.InUseProjects), nil)
		stopScan := r.scans.Start(ctx)
		defer stopScan()
	}
	lease, err := apply.AcquireLease(ctx, c, req.Project, req.Family, leaseOpts)
	if err != nil {
		return r.out, r.fail(ctx, fmt.Errorf("taking the family's lease: %w", err))
	}
	defer lease.Release(ctx)
	r.lease = lease
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
	readAt  time.Time       // when built was read
	head    *lifecycle.Image
	same    lifecycle.Unchanged // the build repeats the head's content
	target  string              // the name to release: built's, or the copy's
	copy    bool                // a copy is to be (or was) made
	copied  bool                // the copy exists
	made    lifecycle.Image     // the copy, as made
	lineage map[string]string
	lease   *apply.Lease
	scans   *apply.Scans // nil without the in-use check
	plan    lifecycle.ReleasePlan
	// finished are the outcomes of the release's phases, the last of which
	// (the mark taken off, the built image of a copy deleted) afterRelease
	// reports on.
	finished []apply.Result
}

// step reports a step of the release (Reporter.Say) and logs it.
func (r *run) step(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Printf("[INFO] imagefamily-release: %s", msg)
	r.rep.Say(msg)
}

// detail reports a detail of the last step (Reporter.Message) and logs it.
func (r *run) detail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Printf("[INFO] imagefamily-release: %s", msg)
	r.rep.Message(msg)
}

// problem reports what went wrong (Reporter.Error) and logs it.
func (r *run) problem(msg string) {
	log.Printf("[WARN] imagefamily-release: %s", msg)
	r.rep.Error(msg)
}

// warn reports a problem the release stands despite, and keeps it for the
// report.
func (r *run) warn(msg string) {
	r.out.Warnings = append(r.out.Warnings, msg)
	r.problem("WARNING: " + msg)
}

// fail cleans up what Run made itself before the release and returns err.
func (r *run) fail(ctx context.Context, err error) error {
	if r.copied && !r.out.Released {
		// Packer deletes the built image; the copy is ours to remove, even
		// when the build was cancelled.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		// Checked right before it goes, as every change: a copy something
		// has taken up meanwhile is kept.
		results := apply.Execute(cctx, r.c, lifecycle.PlanDiscardCopy(r.made, r.req.Policy.ProtectLabel, r.scans != nil),
			apply.Options{Parallelism: 1, Scans: r.scans, Leases: []*apply.Lease{r.lease}})
		if derr := results[0].Failure(); derr != nil {
			// Outside the family and used by nothing, but left behind: the
			// error and the report say so, so that it is not lost track of.
			r.warn(fmt.Sprintf("could not delete the copy %s made for the failed release; delete it by hand: %v", r.target, derr))
			err = fmt.Errorf("%w (the copy %s made for this release could not be deleted and is left outside the family: delete it by hand)", err, r.target)
		} else {
			r.step("Deleted the copy %s made for the failed release", r.target)
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
	r.step("Releasing image %s into family %s of project %s", req.Image, req.Family, req.Project)

	r.readAt = time.Now()
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
		r.detail("the image is in family %s now; the release moves it to %s", built.Family, req.Family)
	}
	if built.Family == req.Family {
		r.detail("the builder already put the image in the family (googlecompute's image_family) before the release checks: leave image_family out, so that the family moves only once they pass")
	}

	head, err := r.c.GetFromFamily(ctx, req.Project, req.Family)
	switch {
	case err == nil:
		r.head = &head
		r.out.PreviousHead = head.Name
		r.detail("the family points to %s now", head.Name)
	case errors.Is(err, gce.ErrNotFound):
		r.detail("the family resolves to no image yet: this is its first release")
	default:
		r.warn(fmt.Sprintf("could not read the family's head before the release: %v", err))
	}
	r.lineage, err = r.lineageLabels(ctx)
	if err != nil {
		return err
	}
	if req.ContentDigest != "" {
		r.out.ContentDigest = req.ContentDigest
		// A build that changed nothing is not checked further: it is not
		// released.
		if r.same = lifecycle.DecideUnchanged(built, r.head, r.lineage, req.Policy); r.same.Same {
			return nil
		}
		r.sayChanged()
	}

	if err := r.checkName(); err != nil {
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
		r.detail("no naming block: the name is not checked")
		return nil
	}
	err := conv.Check(r.built.Name)
	if err == nil {
		r.detail("the name follows the naming convention %s", conv.TemplateOrDefault())
		return nil
	}
	if r.req.Rename != RenameCopy {
		return fmt.Errorf("%w; set rename = \"copy\" to release a copy under the conventional name", err)
	}
	name, nerr := conv.Name(r.built.CreatedAt)
	if nerr != nil {
		return fmt.Errorf("naming the copy of %s: %w", r.built.Name, nerr)
	}
	r.step("Releasing a copy named %s (rename = \"copy\"): %v", name, err)
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
	l := lifecycle.Lineage{ReleasedAt: req.now(), ContentDigest: req.ContentDigest}
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
	} else if req.ParentNote != "" {
		r.detail("no parent lineage labels are written: %s", req.ParentNote)
	} else {
		r.detail("no parent lineage labels are written: the parent image is unknown (set parent)")
	}
	labels, err := lifecycle.LineageLabels(l)
	if err != nil {
		return nil, fmt.Errorf("lineage labels: %w", err)
	}
	return labels, nil
}

// release carries out the release's planned phases (lifecycle.PlanRelease):
// the mark and the labels, the copy, the family move; the mark comes off in
// afterRelease. Each step is checked right before it is sent against a
// fresh read of what it changes.
func (r *run) release(ctx context.Context) error {
	req := r.req
	plan, err := lifecycle.PlanRelease(lifecycle.ReleaseInput{Project: req.Project, Family: req.Family, Built: r.built,
		Target: r.target, Copy: r.copy, Description: req.Description, Lineage: r.lineage, User: req.Labels,
		ProtectLabel: req.Policy.ProtectLabel})
	if err != nil {
		return err
	}
	r.plan = plan
	if req.FailOnRotationError {
		if _, _, err := (apply.Reader{C: r.c, Scans: r.scans}).Family(ctx, req.Project, req.Family); err != nil {
			return fmt.Errorf("rotation (fail_on_rotation_error): %w", err)
		}
		r.detail("read the family and what uses its images before the release (fail_on_rotation_error)")
	}
	phases := plan.Phases()
	seed := lifecycle.Snapshot{Project: req.Project, Family: r.built.Family, Images: []lifecycle.Image{r.built}}
	results := apply.Execute(ctx, r.c, phases, apply.Options{Parallelism: 1, Leases: []*apply.Lease{r.lease}, Seeds: []apply.Seed{{Snapshot: seed, At: r.readAt}}})
	for _, res := range results {
		if res.Phase == lifecycle.ReleasePhaseFinish || res.Phase == lifecycle.ReleasePhaseCleanup {
			continue // afterRelease reports on it
		}
		failure := res.Failure()
		switch res.Action {
		case lifecycle.ActionCopy:
			if failure != nil {
				return fmt.Errorf("copying %s to %s: %w", r.built.Name, r.target, failure)
			}
			r.copied = true
			r.made = lifecycle.Image{Project: req.Project, Name: r.target, Labels: maps.Clone(plan.Labels)}
			if res.Made != nil {
				r.made = *res.Made
			}
			r.out.Labels = maps.Clone(plan.Labels)
			r.step("Created the copy from %s, with %s and the mark %s=%s until the family holds it", r.built.Name,
				textfmt.Count(len(r.labels()), "label"), lifecycle.LabelReleasingInto, req.Family)
			r.listLabels()
		case lifecycle.ActionLabel:
			if failure != nil {
				return fmt.Errorf("writing the labels: %w", failure)
			}
			if res.Image == r.target {
				r.out.Labels = maps.Clone(plan.Labels)
				r.step("Wrote %s, and the mark %s=%s until the family holds the image", textfmt.Count(len(r.labels()), "label"), lifecycle.LabelReleasingInto, req.Family)
				r.listLabels()
			} else {
				r.detail("marked the built image %s=%s until its copy is released", lifecycle.LabelReleasingInto, req.Family)
			}
		case lifecycle.ActionMove:
			if failure != nil {
				return r.moveFailed(ctx, failure)
			}
		}
	}
	r.finished = results
	if plan.InFamily {
		r.out.Labels = maps.Clone(plan.Labels)
		r.out.Released = true
		r.detail("the image is already in the family: the pointer stays")
		return nil
	}
	r.out.Released = true
	from := r.out.PreviousHead
	if from == "" {
		from = "(none)"
	}
	r.step("Moved the family pointer: %s -> %s", from, r.target)
	return nil
}

// moveFailed decides a family move that reported failure: the call may have
// gone through anyway (a lost response, a build cancelled mid-call), so only
// a read that shows the image outside the family lets it go. The read runs
// even when ctx has ended.
func (r *run) moveFailed(ctx context.Context, err error) error {
	req := r.req
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

// afterRelease takes the mark off, deletes the uncopied image, verifies the
// head and rotates. Nothing here is an error any more.
//
// One read of the family serves both the verification and the rotation: the
// rotation plans relative to the family's head as getFromFamily answers it,
// so that read is what must show the released image as the head, or as
// superseded by a newer image that raced it in. Reads may lag writes for a
// moment (Compute Engine's do): a read that does not show the release yet is
// made again, a second apart, a few times before it counts.
func (r *run) afterRelease(ctx context.Context) {
	req := r.req
	for _, res := range r.finished {
		if res.Phase != lifecycle.ReleasePhaseFinish && res.Phase != lifecycle.ReleasePhaseCleanup {
			continue
		}
		switch failure := res.Failure(); {
		case res.Action == lifecycle.ActionDelete && failure == nil:
			r.out.BuiltDeleted = true
			r.step("Deleted the built image %s: its copy is released", r.built.Name)
		case res.Action == lifecycle.ActionDelete:
			r.warn(fmt.Sprintf("could not delete the built image %s after releasing its copy; delete it by hand: %v", r.built.Name, failure))
		case failure != nil:
			r.warn(fmt.Sprintf("could not take the mark %s off the released image: %v (harmless: an image in a family is no orphan)", lifecycle.LabelReleasingInto, failure))
		}
	}
	if r.copied && r.plan.KeepBuilt != "" {
		r.warn(fmt.Sprintf("the built image %s is not deleted after releasing its copy: %s", r.built.Name, r.plan.KeepBuilt))
	}

	reader := apply.Reader{C: r.c, Scans: r.scans}
	var (
		s      lifecycle.Snapshot
		readAt time.Time
		err    error
	)
	for attempt := 0; ; attempt++ {
		s, readAt, err = reader.Family(ctx, req.Project, req.Family)
		if err != nil || r.shows(s) || attempt == 3 {
			break
		}
		pause := req.LagPause
		if pause <= 0 {
			pause = time.Second
		}
		log.Printf("[INFO] imagefamily-release: the family's listing does not show the release yet (reads may lag writes): reading it again in %s", pause)
		if serr := gce.Sleep(ctx, pause); serr != nil {
			break
		}
	}
	if err != nil {
		r.rotationProblem(fmt.Sprintf("rotation skipped, and the family's head not verified: %v; run `imagefamily rotate` once it is fixed", err))
		return
	}
	if !r.verify(s) {
		return
	}
	plan := lifecycle.Plan(s, req.Policy, req.now())
	r.out.Plan = summarize(plan)
	logPlan(plan)
	if len(plan.Actions()) > 0 {
		r.step("Rotating the family: %s, at most %d requests in flight", textfmt.Count(len(plan.Actions()), "action"), parallelism(req.Parallelism))
	}
	rep := apply.Apply(ctx, r.c, req.Project, plan, apply.Options{Parallelism: req.Parallelism, Scans: reader.Scans, Leases: []*apply.Lease{r.lease},
		Seeds: []apply.Seed{{Snapshot: s, At: readAt}}, Progress: logResult})
	r.out.Rotation = &rep
	r.rotationSummary(rep)
	if n := rep.Failed(); n > 0 {
		r.rotationProblem(fmt.Sprintf("%d of %d rotation actions failed; the release stands, and `imagefamily rotate` retries them: %v", n, len(rep.Results), rep.Err()))
	}
}

// shows reports whether the family as read shows the release: the released
// image listed in it, READY and ACTIVE, and getFromFamily answering it or a
// newer image.
func (r *run) shows(s lifecycle.Snapshot) bool {
	img, listed := s.Find(lifecycle.ImageRef{Project: r.req.Project, Name: r.target}.String())
	head, hasHead := s.Head()
	return listed && img.Family == r.req.Family && img.Ready() && img.State() == lifecycle.StateActive && hasHead &&
		(head.Name == r.target || !head.CreatedAt.Before(img.CreatedAt))
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
	case hasHead && head.Name == r.target && listed && img.Family == req.Family:
		r.step("Verified: the family resolves to %s", head.Name)
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
		r.step("DRY RUN: would copy %s to %s, release the copy and delete %s", r.built.Name, r.target, r.built.Name)
	}
	labels, _ := lifecycle.MergeLabels(r.built.Labels, r.lineage, req.Labels)
	r.out.Labels = labels
	r.step("DRY RUN: would write %s", textfmt.Count(len(r.labels()), "label"))
	r.listLabels()
	if r.built.Family == req.Family && !r.copy {
		r.step("DRY RUN: the image is already in the family")
	} else {
		from := r.out.PreviousHead
		if from == "" {
			from = "(none)"
		}
		r.step("DRY RUN: would move the family pointer: %s -> %s", from, r.target)
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
	logPlan(plan)
	rep := apply.Preview(plan)
	r.out.Rotation = &rep
	r.rotationSummary(rep)
	r.step("DRY RUN: nothing was changed")
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
	// A released image is the newest ACTIVE one: getFromFamily would
	// answer it.
	s.HeadRead, s.HeadName = true, img.Name
	for i := range s.Images {
		if s.Images[i].Name == img.Name {
			s.Images[i] = img
			return s
		}
	}
	s.Images = append(s.Images, img)
	return s
}

// parallelism is the rotation's Parallelism as apply.Apply applies it.
func parallelism(n int) int {
	if n <= 0 {
		return apply.DefaultParallelism
	}
	return n
}

// labels are the labels the release writes: its lineage labels and the
// user's, which win.
func (r *run) labels() map[string]string {
	all := map[string]string{}
	maps.Copy(all, r.lineage)
	maps.Copy(all, r.req.Labels)
	return all
}

// listLabels details the labels the release writes, one a line.
func (r *run) listLabels() {
	all := r.labels()
	for _, k := range slices.Sorted(maps.Keys(all)) {
		r.detail("%s=%s", k, all[k])
	}
}

// unchanged ends a release whose build repeats the head's content (r.same):
// the family is not moved nor rotated, and the built image, identical to the
// head, is deleted unless it must stay. Nothing here fails the build.
func (r *run) unchanged(ctx context.Context) {
	req, u := r.req, r.same
	r.out.Unchanged = true
	r.out.Head = u.Head
	r.out.ReleasedAt = nil // nothing is released
	prefix := ""
	if req.DryRun {
		prefix = "DRY RUN: "
	}
	r.step("%sunchanged: same content as HEAD %s: the family is not moved, nor rotated", prefix, u.Head)
	r.detail("content digest %s, the head's too", shortDigest(req.ContentDigest))
	switch {
	case !u.Discard:
		r.warn(fmt.Sprintf("the built image %s, identical to %s, is not deleted: %s", r.built.Name, u.Head, u.KeepReason))
		return
	case req.DryRun:
		r.detail("would delete the built image %s: it is identical, and in no family", r.built.Name)
		r.step("DRY RUN: nothing was changed")
		return
	}
	phases := lifecycle.PlanUnchanged(req.Project, req.Family, r.built, u.Head, req.Policy.ProtectLabel)
	seed := lifecycle.Snapshot{Project: req.Project, Images: []lifecycle.Image{r.built}}
	results := apply.Execute(ctx, r.c, phases, apply.Options{Parallelism: 1, Leases: []*apply.Lease{r.lease},
		Seeds: []apply.Seed{{Snapshot: seed, At: r.readAt}}})
	for _, res := range results {
		switch res.Outcome {
		case apply.OutcomeDone:
			r.out.BuiltDeleted = true
			r.step("Deleted the built image %s: it is identical to %s", r.built.Name, u.Head)
		case apply.OutcomeSkipped:
			r.warn(fmt.Sprintf("the built image %s, identical to %s, was left alone: %s; delete it by hand once nothing uses it", r.built.Name, u.Head, textfmt.OneLine(res.Detail)))
		default:
			r.warn(fmt.Sprintf("could not delete the built image %s, identical to %s: %s; delete it by hand once nothing uses it", r.built.Name, u.Head, textfmt.OneLine(errText(res.Err))))
		}
	}
}

// shortDigest is a content digest as the build output shows it: enough
// digits to tell two apart at a glance; the labels listed and the report
// have it whole.
func shortDigest(d string) string {
	const keep = len("sha256-") + 12
	switch {
	case d == "":
		return "none"
	case len(d) > keep:
		return d[:keep] + "…"
	}
	return d
}

// sayChanged details why a build with a content manifest is released: what
// differs from the head.
func (r *run) sayChanged() {
	if r.head == nil {
		return
	}
	hl := r.head.Labels
	switch {
	case hl[lifecycle.LabelContentDigest] != r.req.ContentDigest:
		r.detail("content changed: digest %s, the head's %s", shortDigest(r.req.ContentDigest), shortDigest(hl[lifecycle.LabelContentDigest]))
	case hl[lifecycle.LabelParentImage] != r.lineage[lifecycle.LabelParentImage] || hl[lifecycle.LabelParentProject] != r.lineage[lifecycle.LabelParentProject]:
		r.detail("same content digest as the head, on another parent (the head's: %s): released", orNone(hl[lifecycle.LabelParentImage]))
	default:
		r.detail("same content digest as the head, of another os, software or version: released")
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
