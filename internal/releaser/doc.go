// Package releaser is the release flow of the imagefamily-release
// post-processor as a library: it takes an image a build made, checks its
// name, stamps its labels, moves the family pointer to it, checks that the
// family now resolves to it, and rotates the family's older images. It talks
// to Compute Engine only through gce.Compute and to people only through a
// Reporter, so that it is tested with the gcetest fake and without Packer.
//
// The one rule everything here is arranged around: Packer deletes the
// builder's image when a post-processor returns an error (it skips the keep
// logic entirely and calls the artifact's Destroy). A released image must
// never be deleted that way, so Run returns an error only while the image is
// provably not released:
//
//   - Before the family moves (the image cannot be read, is not READY and
//     ACTIVE, breaks the naming convention, cannot be copied or labelled,
//     the project is wrong, and with FailOnRotationError the family or what
//     uses its images cannot be read), Run returns an error. Packer then
//     deletes the built image, as it does after any failed post-processor:
//     nothing resolved to it through the family, and a failed release leaves
//     nothing behind. A copy Run made itself (Rename = RenameCopy) is deleted
//     by Run.
//   - When the family move itself fails, Run reads the image back. Only when
//     that read says the image is not in the family is the failure returned;
//     when the move went through anyway, or the read fails too, the image is
//     treated as released (Outcome.Released) and kept, with an error message.
//   - An image the builder already put in the family (googlecompute's
//     image_family) is released from the start: things may resolve to it
//     already, so nothing fails the build then, and every problem is
//     reported as a warning. An image the builder put in another family is
//     not released, but things may resolve to it there just the same: a
//     release of it that fails is reported as a warning too (the family is
//     not moved, Outcome.Error says why), and the image is kept.
//   - Packer ignores keep and forceOverride when a post-processor returns an
//     error (packer/build.go in v1.14.3: the error is collected and the keep
//     logic skipped; the builder's artifact is destroyed unless another
//     post-processor kept it), so keep_input_artifact cannot save an image
//     either: returning no error is the only way to keep one.
//   - After the family has moved, nothing is returned as an error: a failed
//     verification, a failed read of the family, failed rotation actions and
//     a failed clean-up of the uncopied image are reported through
//     Reporter.Error and in the Outcome (Warnings, RotationFailed), and the
//     release stands. With FailOnRotationError the rotation's input is
//     additionally read (rotation.Gather) before the family moves, so that
//     the failures which can be known beforehand (no permission to list the
//     family or to scan what uses its images, in_use_projects that cannot be
//     read) still fail the build while the image can safely go.
//
// Invariant, tested over every injected failure: err != nil implies
// !Outcome.Released and Outcome.BuiltFamily == "".
package releaser
