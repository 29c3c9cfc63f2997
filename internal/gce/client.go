package gce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"github.com/google/uuid"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// pageSize is Compute Engine's largest page: one list call per 500 items.
const pageSize = 500

// noRetry switches off the generated client's own retries on a call (reads
// on 503/504 without an attempt cap): Backoff is the only policy.
var noRetry = gax.WithRetry(nil)

// Option adjusts a client built by New.
type Option func(*settings)

type settings struct {
	backoff      Backoff
	opTimeout    time.Duration
	extra        []option.ClientOption
	newRequestID func() string
	httpLog      *slog.Logger
	onRetry      func(Retry)
}

// WithBackoff replaces the retry policy (tests inject seeded jitter and a
// sleep that does not sleep).
func WithBackoff(b Backoff) Option { return func(s *settings) { s.backoff = b } }

// WithOperationTimeout bounds each wait for a mutation's operation (10
// minutes by default, the generated client's own call timeout).
func WithOperationTimeout(d time.Duration) Option { return func(s *settings) { s.opTimeout = d } }

// WithClientOptions adds options after those pluginconfig.Auth gives, e.g.
// option.WithHTTPClient in tests that count requests.
func WithClientOptions(opts ...option.ClientOption) Option {
	return func(s *settings) { s.extra = append(s.extra, opts...) }
}

// client implements Compute over the generated REST clients.
type client struct {
	images    *compute.ImagesClient
	families  *compute.ImageFamilyViewsClient
	globalOps *compute.GlobalOperationsClient
	templates *compute.InstanceTemplatesClient
	instances *compute.InstancesClient
	disks     *compute.DisksClient

	retry        *retrier
	onRetry      func(Retry)
	opTimeout    time.Duration
	newRequestID func() string
	// opened are the generated clients New built, for Close.
	opened []interface{ Close() error }
}

// Dial builds a Compute client from the authentication configuration with
// the default settings and opts: what a component uses unless a test
// replaces it (a component that logs its API calls passes WithHTTPLog and
// WithRetryNotify). A missing credential is told in the template's words.
func Dial(ctx context.Context, auth pluginconfig.Auth, opts ...Option) (Compute, error) {
	c, err := New(ctx, auth, opts...)
	var nc *NoCredentialsError
	if errors.As(err, &nc) {
		nc.Options = pluginconfig.FieldCredentialsFile + ", " + pluginconfig.FieldCredentialsJSON + ", " +
			pluginconfig.FieldAccessToken + " or " + pluginconfig.FieldImpersonateServiceAccount
	}
	return c, err
}

// New builds a Compute client from the authentication configuration.
//
// Regional instance templates are read through the instanceTemplates
// aggregated list, which returns global and regional templates together; no
// separate regional client is needed.
func New(ctx context.Context, auth pluginconfig.Auth, opts ...Option) (Compute, error) {
	s := settings{backoff: DefaultBackoff(), opTimeout: 10 * time.Minute, newRequestID: func() string { return uuid.NewString() }}
	for _, o := range opts {
		o(&s)
	}
	copts, err := ClientOptions(ctx, auth)
	if err != nil {
		return nil, err
	}
	if usesDefaultCredentials(auth) {
		creds, err := DefaultCredentials()
		if err != nil {
			return nil, err
		}
		copts = append(copts, option.WithAuthCredentials(creds))
	}
	if s.httpLog != nil {
		endpoint, err := auth.Endpoint()
		if err != nil {
			return nil, err
		}
		if copts, err = loggedClientOptions(ctx, copts, endpoint, s.httpLog); err != nil {
			return nil, err
		}
	}
	copts = append(copts, s.extra...)
	c := &client{retry: newRetrier(s.backoff), onRetry: s.onRetry, opTimeout: s.opTimeout, newRequestID: s.newRequestID}
	err = errors.Join(
		open(ctx, c, &c.images, "images", compute.NewImagesRESTClient, copts),
		open(ctx, c, &c.families, "image family views", compute.NewImageFamilyViewsRESTClient, copts),
		open(ctx, c, &c.globalOps, "global operations", compute.NewGlobalOperationsRESTClient, copts),
		open(ctx, c, &c.templates, "instance templates", compute.NewInstanceTemplatesRESTClient, copts),
		open(ctx, c, &c.instances, "instances", compute.NewInstancesRESTClient, copts),
		open(ctx, c, &c.disks, "disks", compute.NewDisksRESTClient, copts),
	)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// open builds one generated client into dst and notes it for Close, so that
// a New that fails half-way closes exactly what it built.
func open[T interface{ Close() error }](ctx context.Context, c *client, dst *T, name string,
	newClient func(context.Context, ...option.ClientOption) (T, error), opts []option.ClientOption) error {
	cl, err := newClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("compute %s client: %w", name, err)
	}
	*dst = cl
	c.opened = append(c.opened, cl)
	return nil
}

// Close releases every underlying client.
func (c *client) Close() error {
	var errs []error
	for _, cl := range c.opened {
		errs = append(errs, cl.Close())
	}
	return errors.Join(errs...)
}

// call runs fn under the retry policy and maps its error for method and
// resource.
func (c *client) call(ctx context.Context, method, resource string, fn func(ctx context.Context) error) error {
	var notify func(attempt int, err error, wait time.Duration)
	if c.onRetry != nil {
		notify = func(attempt int, err error, wait time.Duration) {
			c.onRetry(Retry{Method: method, Resource: resource, Attempt: attempt, Err: err, Quota: isQuota(err), Wait: wait})
		}
	}
	n, err := c.retry.do(ctx, fn, notify)
	if err == nil {
		return nil
	}
	out := mapError(err, method, resource)
	var e *Error
	if errors.As(out, &e) && e.Attempts < n {
		e.Attempts = n
	}
	return out
}
