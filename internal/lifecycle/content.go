package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
)

// LabelContentDigest records what a build put in the image: the digest of a
// content manifest the build wrote (the installed package list, say), as
// ContentDigest spells it. A release whose manifest has the digest the
// family's head carries released nothing new (see PlanUnchanged).
const LabelContentDigest = "imagefamily-content-digest"

// contentDigestHex is how many hex digits of the SHA-256 a digest keeps:
// "sha256-" and 56 digits (224 bits) are 63 characters, the longest label
// value. `sha256sum FILE | cut -c1-56` shows the same digits.
const contentDigestHex = 56

// ContentDigest is the label value recording a content manifest:
// "sha256-" and the first 56 hex digits of its SHA-256.
func ContentDigest(manifest []byte) string {
	sum := sha256.Sum256(manifest)
	return "sha256-" + hex.EncodeToString(sum[:])[:contentDigestHex]
}

// Unchanged is the decision on a build whose content manifest has a digest.
type Unchanged struct {
	// Same: the build's content is the head's; the release neither moves the
	// family nor rotates.
	Same bool
	// Discard: the built image is deleted (PlanUnchanged). False when Same
	// and the image must stay: KeepReason says why.
	Discard    bool
	KeepReason string
	// Head is the image whose content the build repeats.
	Head string
}

// sameContentKeys are the labels a build must share with the head to be
// the same content: the manifest's digest, and what the build was made of
// and as (its parent, the convention's parts). A rebuild on a new parent, or
// of another version, is a change whatever its manifest says.
var sameContentKeys = []string{LabelContentDigest, LabelParentImage, LabelParentProject, LabelOS, LabelSoftware, LabelVersion}

// DecideUnchanged compares what a build is (lineage: the labels its release
// would write, LineageLabels) with the family head. The build changed
// nothing when its lineage has a content digest and the head, another image,
// carries the same digest, parent and convention parts. The built image is
// then deleted, being identical, unless it is in a family (the builder put
// it there: things may resolve to it) or protected; the release does not
// move the family either way. head is nil when the family resolves to no
// image.
func DecideUnchanged(built Image, head *Image, lineage map[string]string, p Policy) Unchanged {
	if lineage[LabelContentDigest] == "" || head == nil || head.Name == built.Name {
		return Unchanged{}
	}
	for _, k := range sameContentKeys {
		if head.Labels[k] != lineage[k] {
			return Unchanged{}
		}
	}
	u := Unchanged{Same: true, Head: head.Name}
	u.KeepReason = keepBuiltReason(built, p.ProtectLabel, " (googlecompute's image_family)")
	u.Discard = u.KeepReason == ""
	return u
}

// PhaseDiscard is the phase deleting a build that changed nothing.
const PhaseDiscard = "delete the built image: same content as the family head"

// PlanUnchanged plans the delete of a built image whose content is the
// head's (DecideUnchanged said Discard). The delete relies on the image
// being exactly the one the build made, as read: the same numeric id, in no
// family, its labels as read, no release under way on it (LabelReleasingInto
// absent), the protect label as read; and on the family still resolving to
// the head it repeats. The applier re-reads all of it right before the delete and skips
// the delete when any of it changed, so that nothing but this build's own
// image, still unreleased, is ever deleted.
func PlanUnchanged(project, family string, built Image, head string, protectLabel string) []Phase {
	keys := append(slices.Sorted(maps.Keys(built.Labels)), LabelReleasingInto, protectLabel)
	expect := ExpectImage(built, keys...)
	expect.Ref = ImageRef{Project: project, Name: built.Name}
	return []Phase{{Name: PhaseDiscard, Required: true, Entries: []Entry{{
		Image: built, Action: ActionDelete, Why: WhyDue, From: built.State(), To: built.State(),
		Reason: fmt.Sprintf("same content as the head %s of family %s: the image is identical", head, family),
		Expect: Preconditions{Images: []ImageExpect{expect}, Head: &HeadExpect{Project: project, Family: family, Name: head}},
	}}}}
}
