package gce

import "context"

// RequestSlots paces the mutation requests sent with a context that carries
// it (WithRequestSlots): a mutation holds a slot from its first attempt until
// Compute Engine has answered it with an operation (retry pauses included),
// and gives it back before waiting for that operation.
//
// Compute Engine's rate quotas count requests, not operations, and an
// operation may run for seconds after the request that started it was
// answered. A caller that bounded whole mutations (request and operation)
// would sit idle through every operation; bounding only the requests keeps
// the request rate, which is what quota errors are about, under its control
// while operations overlap.
type RequestSlots interface {
	// Acquire blocks until a slot is free or ctx ends (then it returns ctx's
	// error and holds nothing).
	Acquire(ctx context.Context) error
	// Release gives back a slot Acquire returned. err is how the request
	// ended: nil when Compute Engine answered it with an operation, else the
	// error the call returns (an ErrQuota one when the quota ran out), so that
	// the slots can adapt to the answers.
	Release(err error)
}

type requestSlotsKey struct{}

// WithRequestSlots returns ctx carrying s, which every mutation made with the
// returned context takes a slot of while its request is in flight. A nil s
// takes away any RequestSlots ctx carried.
func WithRequestSlots(ctx context.Context, s RequestSlots) context.Context {
	return context.WithValue(ctx, requestSlotsKey{}, s)
}

// HoldRequestSlot takes a slot of the RequestSlots in ctx, if any, and returns
// the function that gives it back with the request's outcome (a no-op when
// ctx carries none). It is what the client does around each mutation request;
// fakes of Compute call it to act the same.
func HoldRequestSlot(ctx context.Context) (release func(err error), err error) {
	s, ok := ctx.Value(requestSlotsKey{}).(RequestSlots)
	if !ok || s == nil {
		return func(error) {}, nil
	}
	if err := s.Acquire(ctx); err != nil {
		return nil, err
	}
	return s.Release, nil
}
