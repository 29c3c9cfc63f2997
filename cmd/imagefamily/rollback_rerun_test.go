package main

import (
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// TestRollbackReRunMakesNoSecondCopy: re-running a rollback to a DEPRECATED
// target, after it partly failed or succeeded, finishes it with the copy the
// first run made; it used to copy the target again and deprecate the first
// copy (found by reliability.TestChaosRollback).
func TestRollbackReRunMakesNoSecondCopy(t *testing.T) {
	env := emu(t, emulator.Options{})
	put(t, env, "acme-images", "web", "web-v3", day)
	put(t, env, "acme-images", "web", "web-v2", 2*day, deprecated("DEPRECATED", t0.Add(-day), t0.Add(6*day), t0.Add(36*day)))
	// A first run made the copy, and was interrupted before deprecating web-v3.
	const copyName = "web-v2-rb20261126t064730"
	put(t, env, "acme-images", "web", copyName, 0, labels("imagefamily-rollback-of", "web-v2"))

	setNow(t, t0.Add(time.Minute))
	r := mustCLI(t, env, exitOK, "rollback", "--project", "acme-images", "--family", "web", "--to", "web-v2")
	if strings.Contains(r.stdout, "-rb20261126t064830") {
		t.Errorf("the re-run made another copy:\n%s", r.stdout)
	}
	if _, ok := image(t, env, "acme-images", "web-v2-rb20261126t064830"); ok {
		t.Fatal("the re-run made a second copy")
	}
	if got := head(t, env, "acme-images", "web"); got != copyName {
		t.Errorf("head = %s, want the first copy %s", got, copyName)
	}
	if img, _ := image(t, env, "acme-images", "web-v3"); img.State != "DEPRECATED" || !strings.HasSuffix(img.Replacement, "/"+copyName) {
		t.Errorf("web-v3 = %+v, want DEPRECATED, replaced by the first copy", img)
	}

	setNow(t, t0.Add(2*time.Minute))
	r = mustCLI(t, env, exitUsage, "rollback", "--project", "acme-images", "--family", "web", "--to", "web-v2")
	if !strings.Contains(r.stderr, "already the head of family web through its re-released copy "+copyName) {
		t.Errorf("a finished rollback run again: %q", r.stderr)
	}
}
