package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// opScope names where an operation lives: "global", "zones/Z" or "regions/R".
func opScope(r *http.Request) string {
	if z := r.PathValue("zone"); z != "" {
		return "zones/" + z
	}
	if rg := r.PathValue("region"); rg != "" {
		return "regions/" + rg
	}
	return "global"
}

// replayLocked returns the operation a earlier request with the same
// requestId produced. A retried mutation therefore changes nothing twice.
func (st *Store) replayLocked(projectName, requestID string) (*computepb.Operation, bool) {
	if requestID == "" {
		return nil, false
	}
	op, ok := st.requests[projectName+"/"+requestID]
	if !ok {
		return nil, false
	}
	st.refreshOpLocked(st.projectLocked(projectName), op)
	return proto.Clone(op).(*computepb.Operation), true
}

// startOperationLocked records the operation of a mutation that has been
// applied. It is DONE at once unless Options.OpLatency keeps it RUNNING.
func (st *Store) startOperationLocked(p *project, scope, opType, targetLink string, targetID uint64, requestID string) *computepb.Operation {
	now := st.clock()
	id := st.newIDLocked()
	name := fmt.Sprintf("operation-%d-%s", now.UnixMilli(), shortHex(id))
	op := &computepb.Operation{
		Kind:          proto.String("compute#operation"),
		Id:            proto.Uint64(id),
		Name:          proto.String(name),
		OperationType: proto.String(opType),
		TargetLink:    proto.String(targetLink),
		TargetId:      proto.Uint64(targetID),
		Status:        computepb.Operation_RUNNING.Enum(),
		User:          proto.String("emulator@imagefamily.local"),
		Progress:      proto.Int32(0),
		InsertTime:    proto.String(formatTime(now)),
		StartTime:     proto.String(formatTime(now)),
		SelfLink:      proto.String(selfLink(p.name, scope+"/operations/"+name)),
	}
	switch {
	case strings.HasPrefix(scope, "zones/"):
		op.Zone = proto.String(selfLink(p.name, scope))
	case strings.HasPrefix(scope, "regions/"):
		op.Region = proto.String(selfLink(p.name, scope))
	}
	if requestID != "" {
		op.ClientOperationId = proto.String(requestID)
		st.requests[p.name+"/"+requestID] = op
	}
	key := scope + "/" + name
	p.operations[key] = op
	p.opDoneAt[key] = now.Add(st.opLatency)
	p.opOrder = append(p.opOrder, key)
	st.refreshOpLocked(p, op)
	return proto.Clone(op).(*computepb.Operation)
}

// failOperationLocked turns op into a failed, DONE operation. Clients read
// the failure from httpErrorStatusCode/httpErrorMessage (the Go client's
// Wait) and from error.errors (gcloud, careful callers): both are set.
func (st *Store) failOperationLocked(p *project, op *computepb.Operation, ae *apiError) *computepb.Operation {
	key := opKeyOf(op)
	stored := p.operations[key]
	if stored == nil {
		stored = op
	}
	stored.Status = computepb.Operation_DONE.Enum()
	stored.Progress = proto.Int32(100)
	stored.EndTime = proto.String(formatTime(st.clock()))
	stored.HttpErrorStatusCode = proto.Int32(int32(ae.Code))
	stored.HttpErrorMessage = proto.String(http.StatusText(ae.Code))
	stored.Error = &computepb.Error{Errors: []*computepb.Errors{{
		Code:    proto.String(upperSnake(ae.Reason)),
		Message: proto.String(ae.Message),
	}}}
	p.opDoneAt[key] = st.clock()
	return proto.Clone(stored).(*computepb.Operation)
}

// upperSnake spells an error reason the way operation errors carry it:
// "resourceNotReady" becomes "RESOURCE_NOT_READY".
func upperSnake(reason string) string {
	var b strings.Builder
	for i, r := range reason {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

func opKeyOf(op *computepb.Operation) string {
	link := op.GetSelfLink()
	i := strings.Index(link, "/projects/")
	if i < 0 {
		return ""
	}
	rest := strings.SplitN(link[i+len("/projects/"):], "/", 2)
	if len(rest) < 2 {
		return ""
	}
	return strings.Replace(rest[1], "/operations/", "/", 1)
}

// refreshOpLocked moves an operation to DONE once its latency has passed.
func (st *Store) refreshOpLocked(p *project, op *computepb.Operation) {
	if op.GetStatus() == computepb.Operation_DONE {
		return
	}
	doneAt, ok := p.opDoneAt[opKeyOf(op)]
	if !ok || !st.clock().Before(doneAt) {
		op.Status = computepb.Operation_DONE.Enum()
		op.Progress = proto.Int32(100)
		op.EndTime = proto.String(formatTime(st.clock()))
	}
}

func shortHex(id uint64) string { return fmt.Sprintf("%08x", uint32(id)) }

func (s *Server) operationRoutes() {
	for _, scope := range []struct{ prefix, name string }{
		{"projects/{project}/global/operations", "globalOperations"},
		{"projects/{project}/zones/{zone}/operations", "zoneOperations"},
		{"projects/{project}/regions/{region}/operations", "regionOperations"},
	} {
		s.route("GET", scope.prefix+"/{operation}", scope.name+".get", s.operationGet)
		s.route("POST", scope.prefix+"/{operation}/wait", scope.name+".wait", s.operationWait)
		s.route("DELETE", scope.prefix+"/{operation}", scope.name+".delete", s.operationDelete)
		s.route("GET", scope.prefix, scope.name+".list", s.operationList)
	}
	s.route("GET", "projects/{project}/aggregated/operations", "globalOperations.aggregatedList", s.operationAggregatedList)
}

func (s *Server) lookupOp(r *http.Request) (*project, *computepb.Operation, error) {
	p := s.store.projectLocked(r.PathValue("project"))
	key := opScope(r) + "/" + r.PathValue("operation")
	op, ok := p.operations[key]
	if !ok {
		return nil, nil, errNotFound(fmt.Sprintf("projects/%s/%s/operations/%s", p.name, opScope(r), r.PathValue("operation")))
	}
	s.store.refreshOpLocked(p, op)
	return p, op, nil
}

func (s *Server) operationGet(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	_, op, err := s.lookupOp(r)
	if err != nil {
		return nil, err
	}
	return proto.Clone(op), nil
}

// operationWait blocks until the operation is DONE, as Compute Engine does
// (it gives up after two minutes and returns the operation as it is).
func (s *Server) operationWait(r *http.Request) (proto.Message, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s.store.lock()
		p, op, err := s.lookupOp(r)
		if err != nil {
			s.store.unlock()
			return nil, err
		}
		if op.GetStatus() == computepb.Operation_DONE || time.Now().After(deadline) {
			out := proto.Clone(op)
			s.store.unlock()
			return out, nil
		}
		wait := time.Until(p.opDoneAt[opKeyOf(op)])
		s.store.unlock()
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
}

func (s *Server) operationDelete(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	p, op, err := s.lookupOp(r)
	if err != nil {
		return nil, err
	}
	delete(p.operations, opKeyOf(op))
	return &computepb.DeleteGlobalOperationResponse{}, nil
}

func (s *Server) operationList(r *http.Request) (proto.Message, error) {
	s.store.lock()
	defer s.store.unlock()
	p := s.store.projectLocked(r.PathValue("project"))
	scope := opScope(r)
	var items []*computepb.Operation
	for _, k := range p.opOrder {
		op, ok := p.operations[k]
		if !ok || !strings.HasPrefix(k, scope+"/") || strings.Count(k, "/") != strings.Count(scope, "/")+1 {
			continue
		}
		s.store.refreshOpLocked(p, op)
		items = append(items, op)
	}
	// filter (e.g. clientOperationId, what gce looks a lost mutation up
	// by), maxResults and pageToken as every other list takes them.
	page, next, err := listPage(r, items)
	if err != nil {
		return nil, err
	}
	return &computepb.OperationList{
		Kind:          proto.String("compute#operationList"),
		Id:            proto.String(fmt.Sprintf("projects/%s/%s/operations", p.name, scope)),
		Items:         cloneSlice(page),
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(p.name, scope+"/operations")),
	}, nil
}

// operationAggregatedList is globalOperations.aggregatedList, what
// `gcloud compute operations list` reads: every operation of the project
// under its scope ("global", "zones/Z", "regions/R").
func (s *Server) operationAggregatedList(r *http.Request) (proto.Message, error) {
	project := r.PathValue("project")
	s.store.lock()
	defer s.store.unlock()
	p := s.store.readProjectLocked(project)
	byScope := map[string][]*computepb.Operation{}
	for _, k := range p.opOrder {
		op, ok := p.operations[k]
		if !ok {
			continue
		}
		s.store.refreshOpLocked(p, op)
		scope := k[:strings.LastIndexByte(k, '/')]
		byScope[scope] = append(byScope[scope], op)
	}
	scopes := append(append([]string{"global"}, regionScopes()...), zoneScopes()...)
	items, next, err := scopedPage(r, scopes, func(scope string) []*computepb.Operation {
		return byScope[scope]
	}, func(ops []*computepb.Operation, w *computepb.Warning) *computepb.OperationsScopedList {
		return &computepb.OperationsScopedList{Operations: ops, Warning: w}
	})
	if err != nil {
		return nil, err
	}
	return &computepb.OperationAggregatedList{
		Kind:          proto.String("compute#operationAggregatedList"),
		Id:            proto.String("projects/" + project + "/aggregated/operations"),
		Items:         items,
		NextPageToken: optString(next),
		SelfLink:      proto.String(selfLink(project, "aggregated/operations")),
	}, nil
}
