// Package apply carries out lifecycle rotation plans against Compute
// Engine: Gather reads a family into a lifecycle.Snapshot, lifecycle.Plan
// decides, Apply executes the plan's actions and returns a Report. It makes
// no decisions of its own about which image moves where.
//
// Apply's concurrency, in one place:
//
//   - Options.Parallelism (4 by default) bounds the mutation requests in
//     flight, not the actions: a request holds its slot (gce.RequestSlots)
//     from its first attempt until Compute Engine answers it with an
//     operation, and gives it back before the operation is waited for.
//     Quota errors are about the request rate, and an operation (a delete
//     takes seconds on Compute Engine) costs no quota while it runs, so
//     holding a slot through it would only leave the API idle.
//   - Options.Pending (8 × Parallelism by default) bounds the actions in
//     flight: requests waiting for a slot or being answered, and operations
//     being waited for (one globalOperations.wait held open each).
//   - Every action runs to an outcome; a failure never stops the others. Each
//     action's outcome is in Report.Results, in plan order (newest first),
//     whatever order they completed in.
//   - gce retries every call itself (bounded backoff). When a call still ends
//     in gce.ErrQuota (429, or a 403 rate limit), Apply treats it as a signal
//     that it is pushing too hard: the request slots are halved (never below
//     1) before the slot goes to another request, the action goes to the back
//     of the queue, and it is sent again after Options.QuotaPause. Every
//     request answered without a quota error raises the slots by one, up to
//     Parallelism (AIMD, as TCP does). Waiting requests get slots in the
//     order they asked. An action gets at most Options.QuotaRetries such
//     retries; after that its quota error is its outcome.
//   - A 429 that gce's own retries absorb is a signal too (gce reports it
//     through gce.WithQuotaNotify): it halves the slots once per round, that
//     is unless the limit was already cut after the request got its slot.
//     Without it, throttling that the retries absorb never slowed Apply
//     down.
//   - An action is idempotent: the label write (imagefamily-rotated-at,
//     from the plan's time) is a no-op when it is already there, and the
//     deprecation status is written whole. So re-sending an action whose
//     label write succeeded and whose deprecate hit the quota is safe.
//   - When ctx ends, actions not yet started, and requests still waiting
//     for a slot, are reported with ctx's error and never sent.
package apply
