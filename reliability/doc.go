// Package reliability holds the suite that proves, with numbers, that the
// rotator, rollback and release never harm a family: chaos runs against the
// emulator's injected faults, crash-and-resume of the real CLI binary killed
// with SIGKILL at chosen requests, concurrent runs, a table of invalid
// configurations run through the real packer, fuzzers, and a search for
// leaked secrets. It is all tests; this file only names the package.
//
// Every run is checked against an independent oracle: the emulator's state is
// read directly (never through the code under test), and the documented
// rules, written again in oracle_test.go without the planner under test
// (lifecycle.Plan, PlanRollback), say what a run may do to each image: what
// the policy protects, which step each other image may take by the end of
// the run. After each run:
//
//   - nothing the policy protects (head, keep_active, min_age, the protect
//     label, in use) changed, nor anything outside the rotated families;
//   - every image's state only moved forward and no date moved later; an
//     image disappeared only when it was DELETED and due for purging;
//   - a family that had an ACTIVE image still has one (for rotation: the
//     same head);
//   - no image was created twice (retried inserts, re-run rollbacks);
//   - every label another client wrote during the run is still there.
//
// `go test ./reliability` runs the short, seeded version (part of `make
// test`); IMAGEFAMILY_CHAOS=long (`make chaos`) runs the long one, and
// RELIABILITY_FIGURES=FILE writes the figures RELIABILITY.md quotes.
package reliability
