package lifecycle

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Commands of this project that change a family (rotate, rollback, revoke,
// release, promote) exclude each other per family with a lease that Compute
// Engine itself keeps: the label imagefamily-lease = <holder>-<expiry> on an
// image of the family, written with the label fingerprint. A holder renews
// it while it works and takes it off when done; a holder that crashed blocks
// the family until the expiry at most. This file holds the lease's rules;
// internal/apply takes, renews and gives back leases.

// Lease is one lease label found on an image.
type Lease struct {
	Holder  string
	Expires time.Time
	// Image is the image that carries the label.
	Image ImageRef
}

// leaseHolderRE: a command name and a random suffix, e.g. rotate-3f9a2c1b.
var leaseHolderRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// maxLeaseHolder keeps holder-expiry within a label value's 63 characters.
const maxLeaseHolder = maxLabelChars - 1 - timestampLen - 1

// LeaseHolder names a holder: the command and a random suffix, e.g.
// LeaseHolder("rotate", 0x3f9a2c1b) = "rotate-3f9a2c1b".
func LeaseHolder(command string, random uint32) string {
	return fmt.Sprintf("%s-%08x", command, random)
}

// LeaseValue is the label value of a lease: holder-yyyymmddthhmmssz.
func LeaseValue(holder string, expires time.Time) (string, error) {
	if len(holder) > maxLeaseHolder || !leaseHolderRE.MatchString(holder) {
		return "", fmt.Errorf("lease holder %q: want lower-case letters and digits in words joined by \"-\", at most %d characters", holder, maxLeaseHolder)
	}
	return holder + "-" + LabelTimestamp(expires.Add(time.Second-1).Truncate(time.Second)), nil
}

// ParseLease reads a lease label value.
func ParseLease(v string) (holder string, expires time.Time, err error) {
	i := strings.LastIndexByte(v, '-')
	if i <= 0 {
		return "", time.Time{}, fmt.Errorf("lease %q is not holder-yyyymmddthhmmssz", v)
	}
	expires, err = ParseLabelTimestamp(v[i+1:])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("lease %q is not holder-yyyymmddthhmmssz: %w", v, err)
	}
	return v[:i], expires, nil
}

// LeasesOf lists the lease labels on images, soonest expiry first. A label
// that is not a lease value is listed as held by its raw value and never
// expiring: someone wrote it by hand, and guessing would let two commands in.
func LeasesOf(images []Image) []Lease {
	var out []Lease
	for _, img := range images {
		v, ok := img.Labels[LabelLease]
		if !ok {
			continue
		}
		holder, expires, err := ParseLease(v)
		if err != nil {
			holder, expires = v, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		out = append(out, Lease{Holder: holder, Expires: expires, Image: img.Ref()})
	}
	slices.SortFunc(out, func(a, b Lease) int { return a.Expires.Compare(b.Expires) })
	return out
}

// HeldByOther returns the lease of another holder that is still valid at
// now, the one expiring last, if any: while it lasts, holder must wait.
func HeldByOther(leases []Lease, holder string, now time.Time) (Lease, bool) {
	var found Lease
	ok := false
	for _, l := range leases {
		if l.Holder != holder && l.Expires.After(now) && (!ok || l.Expires.After(found.Expires)) {
			found, ok = l, true
		}
	}
	return found, ok
}

// LeaseAnchor is the image a new lease is written on: the family's head, so
// that two commands taking the lease at once write the same image and its
// label fingerprint lets only one of them in. A family with no head anchors
// on its newest image. ok is false for a family with no image at all.
func LeaseAnchor(s Snapshot) (Image, bool) {
	if head, ok := s.Head(); ok {
		return head, true
	}
	images := slices.Clone(s.Images)
	SortNewestFirst(images)
	for _, img := range images {
		if s.inFamily(img) {
			return img, true
		}
	}
	return Image{}, false
}
