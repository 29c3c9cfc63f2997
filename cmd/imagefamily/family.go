package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/spf13/pflag"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
)

func checkFamily(family string) error {
	if family == "" {
		return usagef("--family is required: name the image family, e.g. --family web")
	}
	if err := lifecycle.ValidateName(family); err != nil {
		return usagef("--family %q: %v", family, err)
	}
	return nil
}

// registerAllowEmpty adds --allow-empty, for a job that means a family with
// no images.
func registerAllowEmpty(fs *pflag.FlagSet, p *bool) {
	boolVar(fs, p, "allow-empty", "a --family with no images is not an error (exit 0, not 4): for a job that means it")
}

type imageLister interface {
	ListImages(ctx context.Context, project, filter string) ([]lifecycle.Image, error)
}

// emptyFamily is the error for a --family with no images (exit 4): it names
// the project and the families there closest to the name given, as a typo
// in a cron job should be noticed.
func emptyFamily(e *env, c imageLister, project, family string) error {
	msg := fmt.Sprintf("--family %q: no images in family %s of project %s", family, family, project)
	if all, err := familiesOf(e, c, project, ""); err == nil {
		switch near := closestNames(family, all, 3); {
		case len(all) == 0:
			msg += " (the project has no image families)"
		case len(near) > 0:
			msg += "; did you mean " + orList(near) + "?"
		default:
			msg += fmt.Sprintf("; its families are %s", orList(firstN(all, 5)))
		}
	}
	return codeError{exitEmpty, fmt.Errorf("%s (pass --allow-empty if an empty family is expected)", msg)}
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("%d more", len(s)-n))
}

// closestNames are the names nearest to name by edit distance (within a
// third of its length, at least 2) or that contain it, the nearest first, at
// most n.
func closestNames(name string, names []string, n int) []string {
	type cand struct {
		s string
		d int
	}
	var cs []cand
	limit := max(2, len(name)/3)
	for _, s := range names {
		d := levenshtein.Distance(name, s, nil)
		switch {
		case d <= limit:
			cs = append(cs, cand{s, d})
		case len(name) >= 3 && (strings.Contains(s, name) || strings.Contains(name, s)):
			cs = append(cs, cand{s, limit + 1})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].s < cs[j].s
	})
	var out []string
	for _, c := range cs {
		if len(out) < n {
			out = append(out, c.s)
		}
	}
	return out
}
