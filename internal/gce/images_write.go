package gce

import (
	"context"
	"errors"
	"fmt"
	"maps"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// mutation is the outcome of mutate beyond its error.
type mutation struct {
	requestID string
	// uncertain is true when an earlier attempt failed in a way that leaves
	// open whether Compute Engine applied it (a lost response, a 5xx, or a
	// quota error): a later "already exists" or "not found" may then be our
	// own doing.
	uncertain bool
	// unanswered is true when an attempt got no answer at all (a broken
	// connection, a 5xx); a quota error is an answer, a refusal.
	unanswered bool
	// refused is the error of the caller's precheck (WithPrecheck) that
	// stopped an attempt from being sent.
	refused error
}

// unsettled reports whether err, the outcome of m, leaves open whether
// Compute Engine applied it: the retries ran out after an attempt that went
// unanswered, and ctx is still live to find out.
func (m mutation) unsettled(ctx context.Context, err error) bool {
	return err != nil && m.unanswered && ctx.Err() == nil && Retryable(err)
}

// sendFunc sends one attempt of a mutation.
type sendFunc = func(ctx context.Context, requestID string) (*compute.Operation, error)

// mutate sends a mutation that carries a requestId: mutateOnce, and when the
// retries ran out after an attempt that went unanswered (ctx still live),
// Compute Engine may have applied that attempt, or a later one, while every
// answer was lost: settle decides by the requestId, so that a mutation that
// happened is never reported as failed (an image left behind by a caller
// that believes it was not made, a moved family reported as not moved).
func (c *client) mutate(ctx context.Context, project, method, resource string, send sendFunc) (mutation, error) {
	m, err := c.mutateOnce(ctx, method, resource, send)
	switch {
	case m.refused != nil && m.unanswered && ctx.Err() == nil:
		// An earlier attempt went unanswered: the change the precheck saw
		// may be that attempt's. Only its operation can tell.
		if op, ferr := c.findOperation(ctx, project, m.requestID, resource); ferr == nil && op != nil {
			return m, c.waitFound(ctx, project, op, method, resource)
		}
	case m.unsettled(ctx, err):
		err = c.settle(ctx, project, m, err, method, resource)
	}
	return m, err
}

// mutateOnce sends a mutation under the retry policy, every attempt carrying
// the same requestId so that Compute Engine applies it at most once, then
// waits for its operation. The request holds a slot of ctx's RequestSlots, if
// any, until it is answered; the wait does not.
func (c *client) mutateOnce(ctx context.Context, method, resource string, send sendFunc) (mutation, error) {
	m := mutation{requestID: c.newRequestID()}
	release, err := HoldRequestSlot(ctx)
	if err != nil {
		return m, fmt.Errorf("%s %s: not sent: %w", method, resource, err)
	}
	var op *compute.Operation
	err = c.call(ctx, method, resource, func(ctx context.Context) error {
		if err := Precheck(ctx); err != nil {
			m.refused = err
			return refused{err}
		}
		o, err := send(ctx, m.requestID)
		if err != nil {
			if Retryable(err) {
				m.uncertain = true
				m.unanswered = m.unanswered || !isQuota(err)
			}
			return err
		}
		op = o
		return nil
	})
	release(err)
	if m.refused != nil {
		return m, m.refused
	}
	if err != nil {
		return m, err
	}
	return m, c.wait(ctx, op, method, resource)
}

// insertImage creates img in project and returns it as Compute Engine has it.
//
// A retry after a lost response normally gets the first request's operation
// back (same requestId). Should it get 409 alreadyExists instead (the
// requestId no longer remembered), the image may be ours or someone
// else's: it is ours exactly when a global operation with our requestId as
// clientOperationId targets it, and then the insert succeeded. Comparing the
// image's fields would not tell: another run may have made the same image.
// Without that proof the 409 stands.
// When the retries run out unanswered, mutate settles it by the same lookup.
func (c *client) insertImage(ctx context.Context, project string, img *computepb.Image) (*computepb.Image, error) {
	name := img.GetName()
	res := imagePath(project, name)
	m, err := c.mutate(ctx, project, "images.insert", res, func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.images.Insert(ctx, &computepb.InsertImageRequest{Project: project, ImageResource: img, RequestId: proto.String(id)}, noRetry)
	})
	if err != nil && m.uncertain && errors.Is(err, ErrAlreadyExists) {
		op, ferr := c.findOperation(ctx, project, m.requestID, res)
		if ferr != nil || op == nil {
			return nil, annotate(err, "an earlier attempt of this insert may have reached Compute Engine, but no operation carries its requestId "+m.requestID)
		}
		err = c.waitFound(ctx, project, op, "images.insert", res)
	}
	if err != nil {
		return nil, err
	}
	return c.getImage(ctx, project, name)
}

// setFamily moves name into family with images.patch carrying only family.
func (c *client) setFamily(ctx context.Context, project, name, family string) error {
	_, err := c.mutate(ctx, project, "images.patch", imagePath(project, name), func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.images.Patch(ctx, &computepb.PatchImageRequest{Project: project, Image: name,
			ImageResource: &computepb.Image{Family: proto.String(family)}, RequestId: proto.String(id)}, noRetry)
	})
	return err
}

// setLabels reads the labels, lets merge compute the new set, and writes it
// with the fingerprint read. A concurrent writer makes the write fail with
// 412; then the labels are read again and merged again, so both writers'
// labels survive. Bounded by the policy's attempts. read, when not nil, is
// the image as the caller already read it (labels and fingerprint, from a
// list): the first round starts from it instead of an images.get.
func (c *client) setLabels(ctx context.Context, project, name string, read *computepb.Image, merge func(current map[string]string) (map[string]string, error)) error {
	res := imagePath(project, name)
	for round := 1; ; round++ {
		img := read
		read = nil // a 412 means it is stale: read the image from then on
		if img == nil {
			var err error
			if img, err = c.getImage(ctx, project, name); err != nil {
				return err
			}
		}
		current := img.GetLabels()
		// merge always gets a map it may change, even for an unlabelled image.
		cur := maps.Clone(current)
		if cur == nil {
			cur = map[string]string{}
		}
		want, err := merge(cur)
		if err != nil {
			return fmt.Errorf("images.setLabels %s: %w", res, err)
		}
		if maps.Equal(current, want) {
			// Nothing to write; this also makes a replay after a lost
			// response that was applied a no-op.
			return nil
		}
		// images.setLabels takes no requestId: the fingerprint guards it. A
		// retry of a write that was applied gets 412, the re-read then finds
		// the labels as wanted, and nothing more is written.
		m, err := c.mutateOnce(ctx, "images.setLabels", res, func(ctx context.Context, _ string) (*compute.Operation, error) {
			return c.images.SetLabels(ctx, &computepb.SetLabelsImageRequest{Project: project, Resource: name,
				GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{Labels: want, LabelFingerprint: img.LabelFingerprint}}, noRetry)
		})
		if m.unsettled(ctx, err) {
			// The retries ran out after an unanswered attempt, and without
			// a requestId there is no operation to look up: the labels
			// themselves tell whether the write (or an equal one) went
			// through.
			if got, rerr := c.getImage(ctx, project, name); rerr == nil && maps.Equal(got.GetLabels(), want) {
				return nil
			}
		}
		if err == nil || !errors.Is(err, ErrFingerprintMismatch) || round >= c.retry.b.Attempts {
			var e *Error
			if err != nil && errors.As(err, &e) && errors.Is(err, ErrFingerprintMismatch) {
				e.Attempts = round
			}
			return err
		}
		// Someone else wrote in between: a short jittered pause keeps two
		// writers from colliding again in lock step.
		if serr := c.retry.b.Sleep(ctx, c.retry.delay(round)); serr != nil {
			return err
		}
	}
}

// deprecate sets the deprecation status of name.
func (c *client) deprecate(ctx context.Context, project, name string, status *computepb.DeprecationStatus) error {
	_, err := c.mutate(ctx, project, "images.deprecate", imagePath(project, name), func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.images.Deprecate(ctx, &computepb.DeprecateImageRequest{Project: project, Image: name,
			DeprecationStatusResource: status, RequestId: proto.String(id)}, noRetry)
	})
	return err
}

// deleteImage deletes name. A 404 after an attempt whose outcome was unknown
// means the image is gone, which is what was asked: success. A 404 on the
// first attempt is ErrNotFound: the caller named an image that was not there.
// When the retries run out unanswered, mutate settles it.
func (c *client) deleteImage(ctx context.Context, project, name string) error {
	m, err := c.mutate(ctx, project, "images.delete", imagePath(project, name), func(ctx context.Context, id string) (*compute.Operation, error) {
		return c.images.Delete(ctx, &computepb.DeleteImageRequest{Project: project, Image: name, RequestId: proto.String(id)}, noRetry)
	})
	if err != nil && m.uncertain && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
