package lifecycle

import (
	"errors"
	"fmt"
	"strconv"
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

// Validate reports every option that breaks a rule, each a *FieldError
// (joined) naming the option as the domain does: keep_active, min_age, ...
// Front ends spell the options their way with Spell.
func (p Policy) Validate() error {
	var errs []error
	if p.KeepActive < 0 {
		errs = append(errs, &FieldError{Field: FieldKeepActive, Value: strconv.Itoa(p.KeepActive), Layout: Labelled,
			Rule: "is negative: it counts the newest ACTIVE images kept, the head being the first of them; use 0 or more (0 and 1 keep only the head)"})
	}
	for _, d := range []struct {
		field string
		value time.Duration
		eg    string
	}{
		{FieldMinAge, p.MinAge, "1h"},
		{FieldObsoleteAfter, p.ObsoleteAfter, "7d"},
		{FieldDeleteAfter, p.DeleteAfter, "30d"},
		{FieldPurgeAfter, p.PurgeAfter, "7d"},
		{FieldOrphanGrace, p.OrphanGrace, "1h"},
	} {
		if d.value < 0 {
			errs = append(errs, &FieldError{Field: d.field, Value: FormatDuration(d.value), Layout: Labelled,
				Rule: fmt.Sprintf("is negative: use 0 or more, e.g. %q", d.eg)})
		}
	}
	if p.ProtectLabel != "" {
		if err := ValidateLabelKey(p.ProtectLabel); err != nil {
			errs = append(errs, &FieldError{Field: FieldProtectLabel, Layout: Labelled, Rule: err.Error()})
		} else if IsLineageKey(p.ProtectLabel) {
			errs = append(errs, &FieldError{Field: FieldProtectLabel, Value: strconv.Quote(p.ProtectLabel), Layout: Labelled,
				Rule: fmt.Sprintf("is a lineage key imagefamily writes itself: choose another key, e.g. %q", DefaultProtectLabel)})
		}
	}
	return errors.Join(errs...)
}

// The policy's options as the domain names them in a FieldError.
const (
	FieldKeepActive    = "keep_active"
	FieldMinAge        = "min_age"
	FieldObsoleteAfter = "obsolete_after"
	FieldDeleteAfter   = "delete_after"
	FieldPurgeAfter    = "purge_after"
	FieldProtectLabel  = "protect_label"
	FieldOrphanGrace   = "orphan_grace"
)

// PolicyOptions are the policy as a front end reads it: durations as text
// (ParseDuration's forms), and nil for an option left at its default. The
// release post-processor's rotation block and the CLI's policy flags both
// read through it.
type PolicyOptions struct {
	KeepActive    *int
	MinAge        *string
	ObsoleteAfter *string
	DeleteAfter   *string
	PurgeAfter    *string
	OrphanGrace   *string
	ProtectLabel  *string
	CheckInUse    *bool
}

// Policy is DefaultPolicy with the options set over it, and every problem
// found, joined: first each duration that cannot be read (it keeps its
// default), then what Validate finds.
func (o PolicyOptions) Policy() (Policy, error) {
	p := DefaultPolicy()
	var errs []error
	if o.KeepActive != nil {
		p.KeepActive = *o.KeepActive
	}
	for _, d := range []struct {
		field string
		in    *string
		out   *time.Duration
	}{
		{FieldMinAge, o.MinAge, &p.MinAge},
		{FieldObsoleteAfter, o.ObsoleteAfter, &p.ObsoleteAfter},
		{FieldDeleteAfter, o.DeleteAfter, &p.DeleteAfter},
		{FieldPurgeAfter, o.PurgeAfter, &p.PurgeAfter},
		{FieldOrphanGrace, o.OrphanGrace, &p.OrphanGrace},
	} {
		if d.in == nil {
			continue
		}
		v, err := ParseDuration(d.field, *d.in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*d.out = v
	}
	if o.ProtectLabel != nil {
		p.ProtectLabel = *o.ProtectLabel
	}
	if o.CheckInUse != nil {
		p.CheckInUse = *o.CheckInUse
	}
	if err := p.Validate(); err != nil {
		errs = append(errs, err)
	}
	return p, errors.Join(errs...)
}

// normal clamps what Validate rejects, so that Plan stays safe (never more
// eager than a valid policy) even when handed an unvalidated one.
func (p Policy) normal() Policy {
	p.KeepActive = max(p.KeepActive, 1)
	p.MinAge = max(p.MinAge, 0)
	p.ObsoleteAfter = max(p.ObsoleteAfter, 0)
	p.DeleteAfter = max(p.DeleteAfter, 0)
	p.PurgeAfter = max(p.PurgeAfter, 0)
	p.OrphanGrace = max(p.OrphanGrace, 0)
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
