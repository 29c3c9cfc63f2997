package main

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/spf13/pflag"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/apply"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/gce"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/lifecycle"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/textfmt"
)

// leaseFlags are the lease's wait and lifetime.
type leaseFlags struct {
	wait, ttl string
}

func (l *leaseFlags) register(fs *pflag.FlagSet) {
	group(fs, groupLease, func() {
		fs.StringVar(&l.wait, "lease-wait", lifecycle.FormatDuration(apply.DefaultLeaseWait),
			"wait up to `D` while another command holds the lease, then refuse (exit 5); longer than a crashed holder's lease")
		fs.StringVar(&l.ttl, "lease-ttl", lifecycle.FormatDuration(apply.DefaultLeaseTTL),
			"how long this command's lease lasts unless renewed: what a crash blocks the family for at most (`D`)")
	})
}

func (l *leaseFlags) read() (apply.LeaseOptions, error) {
	wait, err := lifecycle.ParseDuration("--lease-wait", l.wait)
	if err != nil {
		return apply.LeaseOptions{}, usageError{err.Error()}
	}
	ttl, err := lifecycle.ParseDuration("--lease-ttl", l.ttl)
	if err != nil {
		return apply.LeaseOptions{}, usageError{err.Error()}
	}
	if wait < 0 {
		return apply.LeaseOptions{}, usagef("--lease-wait %q: negative: use 0 (refuse at once) or more, e.g. 6m", l.wait)
	}
	if ttl < time.Second {
		return apply.LeaseOptions{}, usagef("--lease-ttl %q: too short to be renewed in time: use 1s or more, e.g. 5m", l.ttl)
	}
	return apply.LeaseOptions{Wait: wait, TTL: ttl, Clock: clock}, nil
}

// leaseHolder names this run's leases: the command and a random suffix.
func leaseHolder(command string) string { return lifecycle.LeaseHolder(command, rand.Uint32()) }

// acquire takes the lease of a family for this command, saying on stderr
// when it waits for another holder.
func (e *env) acquire(c gce.Compute, project, family string, opts apply.LeaseOptions) (*apply.Lease, error) {
	opts.OnWait = func(l lifecycle.Lease) {
		e.warn("family %s is leased to %s until %s: waiting (up to --lease-wait)", family, l.Holder, textfmt.Time(l.Expires))
	}
	return apply.AcquireLease(e.ctx, c, project, family, opts)
}

// isBusy reports whether err is another command's lease.
func isBusy(err error) bool {
	var held *apply.HeldError
	return errors.As(err, &held)
}

// leaseExit is the exit code of a command that could not take a lease:
// busy when another holder has it, else partial (it could not be read or
// written).
func leaseExit(err error) int {
	if isBusy(err) {
		return exitBusy
	}
	return exitPartial
}
