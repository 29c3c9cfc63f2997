package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// injectedFailure is the error a mutation's operation carries when
// --faults asks for a failed operation: what a transient backend failure
// looks like on a real operation.
func injectedFailure(method string) *apiError {
	return &apiError{Code: http.StatusServiceUnavailable, Reason: "internalError",
		Message: fmt.Sprintf("Internal error for %s, the operation failed (injected by emulator --faults)", method)}
}

// opTarget is what a mutation's operation reports: the resource it changed
// and any warnings (a deprecated image was used).
type opTarget struct {
	link     string
	id       uint64
	warnings []*computepb.Warnings
}

// mutation runs the shared part of every operation-producing method: the
// requestId replay, the injected operation failure and persistence. apply
// validates and applies the change under the store lock and returns the
// operation's target; a returned error is synchronous and nothing is changed.
func (s *Server) mutation(r *http.Request, method, opType string, apply func(p *project) (opTarget, error)) (proto.Message, error) {
	reqID, err := requestIDOf(r)
	if err != nil {
		return nil, err
	}
	// Drawn before taking the store lock: drawFault takes it itself.
	fail := s.shouldFailOperation(method)
	s.store.lock()
	defer s.store.unlock()
	p := s.store.projectLocked(r.PathValue("project"))
	if op, ok := s.store.replayLocked(p.name, reqID); ok {
		return op, nil
	}
	if fail {
		// Validate first: an invalid request is refused synchronously
		// whatever the fault plan says; a valid one fails in its operation
		// without being applied.
		target, err := s.dryRun(p, apply)
		s.store.discardLocked()
		if err != nil {
			return nil, err
		}
		op := s.store.startOperationLocked(p, opScope(r), opType, target.link, target.id, reqID)
		return s.store.failOperationLocked(p, op, injectedFailure(method)), nil
	}
	target, err := apply(p)
	if err != nil {
		s.store.discardLocked()
		return nil, err
	}
	op := s.store.startOperationLocked(p, opScope(r), opType, target.link, target.id, reqID)
	if len(target.warnings) > 0 {
		// On the stored operation too: Operation.Wait and gcloud read the
		// warnings from the operation they poll.
		stored := p.operations[opKeyOf(op)]
		stored.Warnings = append(stored.Warnings, target.warnings...)
		op.Warnings = cloneSlice(stored.Warnings)
	}
	if err := s.store.commitLocked(); err != nil {
		return nil, fmt.Errorf("the change is applied but the emulator state file could not be written: %w", err)
	}
	return op, nil
}

// dryRun applies a mutation to a copy of the project's compute resources and
// throws the copy away, so that an injected failure changes nothing while
// validation errors still come back synchronously.
func (s *Server) dryRun(p *project, apply func(p *project) (opTarget, error)) (opTarget, error) {
	saved := *p
	p.disks = cloneMap(p.disks)
	p.instances = cloneMap(p.instances)
	p.templates = cloneMap(p.templates)
	p.regionalTemplates = cloneMap(p.regionalTemplates)
	p.igms = cloneMap(p.igms)
	p.regionIGMs = cloneMap(p.regionIGMs)
	defer func() {
		p.disks, p.instances, p.templates, p.regionalTemplates = saved.disks, saved.instances, saved.templates, saved.regionalTemplates
		p.igms, p.regionIGMs = saved.igms, saved.regionIGMs
	}()
	// Ids drawn by the dry run are not reused: ids only need to be unique.
	return apply(p)
}

func cloneMap[M proto.Message](m map[string]M) map[string]M {
	out := make(map[string]M, len(m))
	for k, v := range m {
		out[k] = proto.Clone(v).(M)
	}
	return out
}

// fingerprintOf is an opaque fingerprint that changes whenever msg changes,
// like the metadata and tags fingerprints Compute Engine hands out.
func fingerprintOf(msg proto.Message) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// metadataFingerprint is the fingerprint of a metadata item list.
func metadataFingerprint(items []*computepb.Items) string {
	return fingerprintOf(&computepb.Metadata{Items: items})
}
