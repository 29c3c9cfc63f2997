package gce

import (
	"context"
	"errors"
	"fmt"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"github.com/google/uuid"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
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
}

// WithBackoff replaces the retry policy (tests inject seeded jitter and a
// sleep that does not sleep).
func WithBackoff(b Backoff) Option { return func(s *settings) { s.backoff = b } }

// WithOperationTimeout bounds each wait for a mutation's operation (10
// minutes by default, the generated client's own call timeout).
func WithOperationTimeout(d time.Duration) Option { return func(s *settings) { s.opTimeout = d } }

// WithClientOptions adds options after those AuthConfig gives, e.g.
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
	opTimeout    time.Duration
	newRequestID func() string
}

// New builds a Compute client from the authentication configuration.
//
// Regional instance templates are read through the instanceTemplates
// aggregated list, which returns global and regional templates together; no
// separate regional client is needed.
func New(ctx context.Context, auth AuthConfig, opts ...Option) (Compute, error) {
	s := settings{backoff: DefaultBackoff(), opTimeout: 10 * time.Minute, newRequestID: func() string { return uuid.NewString() }}
	for _, o := range opts {
		o(&s)
	}
	copts, err := auth.ClientOptions(ctx)
	if err != nil {
		return nil, err
	}
	copts = append(copts, s.extra...)
	c := &client{retry: newRetrier(s.backoff), opTimeout: s.opTimeout, newRequestID: s.newRequestID}
	var errs []error
	build := func(name string, f func() error) {
		if err := f(); err != nil {
			errs = append(errs, fmt.Errorf("compute %s client: %w", name, err))
		}
	}
	build("images", func() (err error) { c.images, err = compute.NewImagesRESTClient(ctx, copts...); return })
	build("image family views", func() (err error) {
		c.families, err = compute.NewImageFamilyViewsRESTClient(ctx, copts...)
		return
	})
	build("global operations", func() (err error) {
		c.globalOps, err = compute.NewGlobalOperationsRESTClient(ctx, copts...)
		return
	})
	build("instance templates", func() (err error) {
		c.templates, err = compute.NewInstanceTemplatesRESTClient(ctx, copts...)
		return
	})
	build("instances", func() (err error) { c.instances, err = compute.NewInstancesRESTClient(ctx, copts...); return })
	build("disks", func() (err error) { c.disks, err = compute.NewDisksRESTClient(ctx, copts...); return })
	if len(errs) > 0 {
		_ = c.Close()
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// Close releases every underlying client.
func (c *client) Close() error {
	var errs []error
	for _, cl := range []interface{ Close() error }{c.images, c.families, c.globalOps, c.templates, c.instances, c.disks} {
		if cl != nil && !isNilCloser(cl) {
			errs = append(errs, cl.Close())
		}
	}
	return errors.Join(errs...)
}

// isNilCloser catches typed nil pointers left by a failed New.
func isNilCloser(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *compute.ImagesClient:
		return v == nil
	case *compute.ImageFamilyViewsClient:
		return v == nil
	case *compute.GlobalOperationsClient:
		return v == nil
	case *compute.InstanceTemplatesClient:
		return v == nil
	case *compute.InstancesClient:
		return v == nil
	case *compute.DisksClient:
		return v == nil
	}
	return false
}

// call runs fn under the retry policy and maps its error for method and
// resource.
func (c *client) call(ctx context.Context, method, resource string, fn func(ctx context.Context) error) error {
	n, err := c.retry.do(ctx, fn)
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
