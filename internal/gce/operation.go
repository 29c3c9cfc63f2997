package gce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// wait blocks until op, started by method on resource, is DONE, then reports
// its outcome. It uses the client's own Operation.Wait (polling
// operations.get) under the operation timeout, retries the polls under the
// one policy, and reads the error list itself: Wait returns nil for a failed
// operation that lacks httpErrorStatusCode.
func (c *client) wait(ctx context.Context, op *compute.Operation, method, resource string) error {
	if op == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, c.opTimeout)
	defer cancel()
	err := c.call(wctx, method, resource, func(ctx context.Context) error {
		if op.Done() {
			return nil
		}
		err := op.Wait(ctx, noRetry)
		if op.Done() {
			// A failed operation makes Poll return an error; the
			// operation's own error list is read below.
			return nil
		}
		return err
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return &Error{Method: method, Resource: resource, Err: err,
				Message: fmt.Sprintf("operation %s did not finish within %v (last status %s)",
					op.Name(), c.opTimeout, op.Proto().GetStatus())}
		}
		return err
	}
	return operationError(op.Proto(), method, resource)
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

// waitFound polls an operation found by findOperation until it is DONE.
func (c *client) waitFound(ctx context.Context, project string, op *computepb.Operation, method, resource string) error {
	wctx, cancel := context.WithTimeout(ctx, c.opTimeout)
	defer cancel()
	pause := time.Second
	for op.GetStatus() != computepb.Operation_DONE {
		if err := c.retry.b.Sleep(wctx, pause); err != nil {
			return &Error{Method: method, Resource: resource, Err: err,
				Message: fmt.Sprintf("operation %s did not finish within %v", op.GetName(), c.opTimeout)}
		}
		pause = min(2*pause, 10*time.Second)
		err := c.call(wctx, "globalOperations.get", "projects/"+project+"/global/operations/"+op.GetName(), func(ctx context.Context) error {
			got, err := c.globalOps.Get(ctx, &computepb.GetGlobalOperationRequest{Project: project, Operation: op.GetName()}, noRetry)
			if err == nil {
				op = got
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return operationError(op, method, resource)
}
