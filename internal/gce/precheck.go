package gce

import "context"

type precheckKey struct{}

// WithPrecheck returns ctx carrying check, which every mutation made with the
// returned context calls right before each attempt is sent: after the
// request holds its slot (WithRequestSlots), so that nothing but the send
// itself comes between the check and the request. When check returns an
// error the attempt is not sent and the mutation returns that error as it is
// (errors.As finds the caller's own type).
//
// An attempt after one that went unanswered is checked too; when that check
// fails, the mutation is settled by its requestId: if an earlier attempt was
// applied after all, the mutation succeeded (the change found is our own),
// else the check's error stands. A label write (no requestId) is guarded by
// its fingerprint instead: check then runs before each round.
//
// This is how the applier re-checks a planned action's preconditions
// against a fresh picture at the last moment.
func WithPrecheck(ctx context.Context, check func(ctx context.Context) error) context.Context {
	return context.WithValue(ctx, precheckKey{}, check)
}

// Precheck runs the check WithPrecheck put in ctx, if any: what the client
// does before each attempt of a mutation. Fakes of Compute call it to act
// the same.
func Precheck(ctx context.Context) error {
	if check, ok := ctx.Value(precheckKey{}).(func(context.Context) error); ok && check != nil {
		return check(ctx)
	}
	return nil
}

// refused is a precheck's error on its way out of the retry loop: never
// retried, and handed back as it is.
type refused struct{ err error }

func (r refused) Error() string { return r.err.Error() }
func (r refused) Unwrap() error { return r.err }
