package gce

import (
	"context"
	"errors"

	"google.golang.org/api/iterator"
)

// pages walks a list one page (one HTTP call) at a time. Each page is its own
// retried call, so a failure on page 3 re-fetches page 3, not the whole
// list. fetch returns the next page token, "" at the end.
func (c *client) pages(ctx context.Context, method, resource string, fetch func(ctx context.Context, token string) (string, error)) error {
	token := ""
	for {
		var next string
		err := c.call(ctx, method, resource, func(ctx context.Context) error {
			var err error
			next, err = fetch(ctx, token)
			return err
		})
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// pageIterator is what every generated list iterator offers.
type pageIterator[T any] interface {
	Next() (T, error)
	PageInfo() *iterator.PageInfo
}

// onePage reads exactly one page from an iterator created with the page's
// token and maxResults in its request, and returns it with the next token.
// The first Next fetches the page; the items it buffered are then taken
// without another call. (iterator.Pager would keep fetching until it holds
// 500 items, which for aggregated lists, counted in scopes, means the whole
// listing in one retried unit.) Only a page that comes back empty with a
// next token makes the iterator fetch on by itself.
func onePage[T any](it pageIterator[T]) ([]T, string, error) {
	first, err := it.Next()
	if errors.Is(err, iterator.Done) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	out := []T{first}
	for n := it.PageInfo().Remaining(); n > 0; n-- {
		v, err := it.Next()
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	return out, it.PageInfo().Token, nil
}
