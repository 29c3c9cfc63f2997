package lifecycle

import (
	"errors"
	"fmt"
	"time"
)

// Policy is a family's rotation policy. The zero value is not the default:
// start from DefaultPolicy and override.
type Policy struct {
	// KeepActive is how many of the newest ACTIVE images stay ACTIVE, the
	// head being the first of them: 2 keeps the head and one warm rollback
	// target. 0 and 1 both keep only the head, which is always kept.
	KeepActive int
	// MinAge: images younger than this are never touched.
	MinAge time.Duration
	// ObsoleteAfter is the time from deprecation to OBSOLETE.
	ObsoleteAfter time.Duration
	// DeleteAfter is the time from OBSOLETE to DELETED.
	DeleteAfter time.Duration
	// PurgeAfter is the time from DELETED to images.delete.
	PurgeAfter time.Duration
	// ProtectLabel: an image carrying this label key with any value other
	// than "false" is never touched. Empty turns protection off.
	ProtectLabel string
	// CheckInUse: images used by instance templates, instances or disks are
	// never touched.
	CheckInUse bool
	// OrphanGrace: an orphan of an interrupted release (LabelReleasingInto)
	// is deleted once older than this; 0 means MinAge.
	OrphanGrace time.Duration
}

// orphanGrace is OrphanGrace, MinAge when zero.
func (p Policy) orphanGrace() time.Duration {
	if p.OrphanGrace <= 0 {
		return p.MinAge
	}
	return p.OrphanGrace
}

// DefaultPolicy is the policy a family gets when it asks for nothing.
func DefaultPolicy() Policy {
	return Policy{
		KeepActive:    2,
		MinAge:        time.Hour,
		ObsoleteAfter: 7 * day,
		DeleteAfter:   30 * day,
		PurgeAfter:    7 * day,
		ProtectLabel:  DefaultProtectLabel,
		CheckInUse:    true,
	}
}

// Validate reports every option that breaks a rule, named as in the
// configuration (rotation.keep_active, ...).
func (p Policy) Validate() error {
	var errs []error
	if p.KeepActive < 0 {
		errs = append(errs, fmt.Errorf("rotation.keep_active: %d is negative: keep_active counts the newest ACTIVE images kept, the head being the first of them; use 0 or more (0 and 1 keep only the head)", p.KeepActive))
	}
	for _, d := range []struct {
		option string
		value  time.Duration
		eg     string
	}{
		{"rotation.min_age", p.MinAge, "1h"},
		{"rotation.obsolete_after", p.ObsoleteAfter, "7d"},
		{"rotation.delete_after", p.DeleteAfter, "30d"},
		{"rotation.purge_after", p.PurgeAfter, "7d"},
	} {
		if d.value < 0 {
			errs = append(errs, fmt.Errorf("%s: %s is negative: use 0 or more, e.g. %q", d.option, FormatDuration(d.value), d.eg))
		}
	}
	if p.ProtectLabel != "" {
		if err := ValidateLabelKey(p.ProtectLabel); err != nil {
			errs = append(errs, fmt.Errorf("rotation.protect_label: %w", err))
		} else if IsLineageKey(p.ProtectLabel) {
			errs = append(errs, fmt.Errorf("rotation.protect_label: %q is a lineage key imagefamily writes itself: choose another key, e.g. %q", p.ProtectLabel, DefaultProtectLabel))
		}
	}
	return errors.Join(errs...)
}

// normal clamps what Validate rejects, so that Plan stays safe (never more
// eager than a valid policy) even when handed an unvalidated one.
func (p Policy) normal() Policy {
	p.KeepActive = max(p.KeepActive, 1)
	p.MinAge = max(p.MinAge, 0)
	p.ObsoleteAfter = max(p.ObsoleteAfter, 0)
	p.DeleteAfter = max(p.DeleteAfter, 0)
	p.PurgeAfter = max(p.PurgeAfter, 0)
	return p
}

// protects reports whether the policy's protect label is on the image, and
// its value.
func (p Policy) protects(img Image) (string, bool) {
	if p.ProtectLabel == "" {
		return "", false
	}
	v, ok := img.Labels[p.ProtectLabel]
	return v, ok && v != "false"
}
