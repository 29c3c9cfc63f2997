// Package lifecycle is the domain of imagefamily, pure: images and their
// states, the naming convention, labels and lineage, the rotation and
// rollback planners. It does no I/O and never reads the clock: callers read
// Compute Engine into a Snapshot, pass the time, and carry out the plan.
//
// Decisions where the life cycle left room (each is documented where it is
// implemented):
//
//   - keep_active counts the head: the KeepActive newest ACTIVE READY images
//     are kept, the head being the first of them (2 = head + one warm
//     rollback target). 0 and 1 both keep only the head, which is always
//     kept. See Policy.
//   - A DEPRECATED, OBSOLETE or DELETED image missing dates gets them filled
//     relative to its deprecated date when known, else to now, and dates of
//     states it has already reached are at most now. See Plan.
//   - One step per image per run, even when several dates have passed, is
//     kept across runs in the same second by the imagefamily-rotated-at label
//     that such a step writes. See Plan and Entry.Labels.
//   - Too-long names are cut longest part first and carry a hash of the
//     unshortened name (timestamp left out). See Convention.
//   - Rollback to a DEPRECATED image re-releases a copy, named by the caller
//     (RollbackPlan.Named). See PlanRollback.
package lifecycle
