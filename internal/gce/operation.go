package gce

import (
	"context"
	"errors"
	"fmt"
	"strings"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// wait blocks until op, started by method on resource, is DONE, then reports
// its outcome, under the operation timeout, its calls retried under the one
// policy. It reads the error list itself: a failed operation may lack
// httpErrorStatusCode.
//
// A global operation (every image mutation) is waited for with
// globalOperations.wait, which Compute Engine answers when the operation is
// done (or after about two minutes, and then it is asked again): one call
// per mutation, returning as soon as the operation ends. The client's own
// Operation.Wait polls operations.get at once and then sleeps 1 s, 2 s, 4
// s...: an operation that takes 200 ms costs two polls and a second of
// idling, which made a rotation's actions five times slower than they need
// be. Other operations (zonal, regional) still go through Operation.Wait.
func (c *client) wait(ctx context.Context, op *compute.Operation, method, resource string) error {
	if op == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, c.opTimeout)
	defer cancel()
	cur := op.Proto()
	project, global := globalOperationProject(cur, resource)
	err := c.call(wctx, method, resource, func(ctx context.Context) error {
		if cur.GetStatus() == computepb.Operation_DONE {
			return nil
		}
		if global {
			got, err := c.waitGlobal(ctx, project, cur)
			cur = got
			return err
		}
		err := op.Wait(ctx, noRetry)
		cur = op.Proto()
		if op.Done() {
			// A failed operation makes Poll return an error; the
			// operation's own error list is read below.
			return nil
		}
		return err
	})
	if err != nil {
		return c.timedOut(ctx, err, cur, method, resource)
	}
	return operationError(cur, method, resource)
}

// waitGlobal calls globalOperations.wait until op is DONE and returns the
// operation as last read (op itself when a call fails).
func (c *client) waitGlobal(ctx context.Context, project string, op *computepb.Operation) (*computepb.Operation, error) {
	for op.GetStatus() != computepb.Operation_DONE {
		got, err := c.globalOps.Wait(ctx, &computepb.WaitGlobalOperationRequest{Project: project, Operation: op.GetName()}, noRetry)
		if err != nil {
			return op, err
		}
		op = got
	}
	return op, nil
}

// timedOut words a wait that ran past the operation timeout; other errors
// are returned as they are.
func (c *client) timedOut(ctx context.Context, err error, op *computepb.Operation, method, resource string) error {
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return &Error{Method: method, Resource: resource, Err: err,
			Message: fmt.Sprintf("operation %s did not finish within %v (last status %s)",
				op.GetName(), c.opTimeout, op.GetStatus())}
	}
	return err
}

// globalOperationProject says whether op is a global operation and names its
// project: from its selfLink (.../projects/P/global/operations/NAME), else
// from the resource the mutation named (projects/P/...).
func globalOperationProject(op *computepb.Operation, resource string) (string, bool) {
	if op.GetZone() != "" || op.GetRegion() != "" || op.GetName() == "" {
		return "", false
	}
	link := resourcePath(op.GetSelfLink())
	if rest, ok := strings.CutPrefix(link, "projects/"); ok {
		project, scope, _ := strings.Cut(rest, "/")
		if project == "" || !strings.HasPrefix(scope, "global/operations/") {
			return "", false
		}
		return project, true
	}
	if link != "" {
		return "", false
	}
	if rest, ok := strings.CutPrefix(resource, "projects/"); ok {
		project, _, _ := strings.Cut(rest, "/")
		return project, project != ""
	}
	return "", false
}

// findOperation looks for the global operation that a mutation with
// requestID started on target (a resource path such as
// projects/p/global/images/x). Compute Engine records a request's requestId
// as the operation's clientOperationId.
func (c *client) findOperation(ctx context.Context, project, requestID, target string) (*computepb.Operation, error) {
	filter := fmt.Sprintf(`clientOperationId = "%s"`, requestID)
	var found *computepb.Operation
	err := c.pages(ctx, "globalOperations.list", "projects/"+project+"/global/operations", func(ctx context.Context, token string) (string, error) {
		it := c.globalOps.List(ctx, &computepb.ListGlobalOperationsRequest{Project: project, Filter: &filter,
			MaxResults: proto.Uint32(pageSize), PageToken: optional(token)}, noRetry)
		page, next, err := onePage[*computepb.Operation](it)
		if err != nil {
			return "", err
		}
		for _, op := range page {
			if op.GetClientOperationId() == requestID && strings.HasSuffix(op.GetTargetLink(), "/"+target) {
				found = op
			}
		}
		if found != nil {
			return "", nil
		}
		return next, nil
	})
	return found, err
}

// waitFound waits for an operation found by findOperation until it is DONE.
func (c *client) waitFound(ctx context.Context, project string, op *computepb.Operation, method, resource string) error {
	wctx, cancel := context.WithTimeout(ctx, c.opTimeout)
	defer cancel()
	err := c.call(wctx, "globalOperations.wait", "projects/"+project+"/global/operations/"+op.GetName(), func(ctx context.Context) error {
		got, err := c.waitGlobal(ctx, project, op)
		op = got
		return err
	})
	if err != nil {
		return c.timedOut(ctx, err, op, method, resource)
	}
	return operationError(op, method, resource)
}

// settle decides an unanswered mutation m (see mutate) by its requestId:
// the global operation whose clientOperationId it is, if Compute Engine has
// one, is waited for and its outcome returned, success or its own error.
// Without one, no attempt was applied and err stands, saying so; when the
// lookup fails too, err stands, saying that the mutation may have been
// applied.
func (c *client) settle(ctx context.Context, project string, m mutation, err error, method, resource string) error {
	op, ferr := c.findOperation(ctx, project, m.requestID, resource)
	switch {
	case ferr != nil:
		return annotate(err, fmt.Sprintf("it may have been applied all the same: looking for the operation with its requestId %s failed: %v", m.requestID, ferr))
	case op == nil:
		return annotate(err, "no attempt was applied: Compute Engine has no operation with its requestId "+m.requestID)
	}
	return c.waitFound(ctx, project, op, method, resource)
}

// annotate adds note to err's message: into an *Error's Message (keeping
// the underlying error's text when it has no message of its own), around
// any other error.
func annotate(err error, note string) error {
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%w (%s)", err, note)
	}
	if e.Message == "" && e.Err != nil {
		e.Message = e.Err.Error()
	}
	e.Message += " (" + note + ")"
	return err
}
