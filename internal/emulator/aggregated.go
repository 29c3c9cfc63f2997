package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// aggregatePage answers an aggregated list: the resources of every scope, in
// scope order, as one list that filter, orderBy, maxResults and pageToken
// apply to (a page may span scopes, as in Compute Engine). The query is
// checked and parsed once, as listPage does, and filters and orders each
// scope in turn. Across scopes names repeat (an instance "web" in two zones),
// so the page token here names the scope as well as the last item.
// returnPartialSuccess and includeAllScopes are accepted and ignored: every
// scope is always reachable here.
func aggregatePage[T proto.Message](r *http.Request, scopes []string, itemsOf func(scope string) []T) (map[string][]T, string, error) {
	q := r.URL.Query()
	lq, err := parseListQuery(q)
	if err != nil {
		return nil, "", err
	}
	first := 0
	var after *aggregateToken
	if tok := q.Get("pageToken"); tok != "" {
		after = decodeAggregateToken(tok, lq.filterSrc, lq.orderBy)
		first = slices.Index(scopes, after.GetScope())
		if after == nil || first < 0 {
			return nil, "", errInvalid("Invalid value for field 'pageToken': '%s'. Invalid page token.", tok)
		}
	}

	type entry struct {
		scope string
		key   listKey
		item  T
	}
	var picked []entry // up to max+1: the extra one says there is a next page
collect:
	for si := first; si < len(scopes); si++ {
		items := itemsOf(scopes[si])
		for _, k := range listKeys(lq, items) {
			if after != nil && si == first && !after.precedes(k, lq.byTime) {
				continue
			}
			picked = append(picked, entry{scopes[si], k, items[k.index]})
			if len(picked) > lq.max {
				break collect
			}
		}
	}
	nextToken := ""
	if len(picked) > lq.max {
		last := picked[lq.max-1]
		nextToken = encodeAggregateToken(last.scope, last.key, lq.filterSrc, lq.orderBy)
		picked = picked[:lq.max]
	}
	out := map[string][]T{}
	for _, e := range picked {
		out[e.scope] = append(out[e.scope], proto.Clone(e.item).(T))
	}
	return out, nextToken, nil
}

// scopedPage is aggregatePage's page as an aggregated list's items: every
// scope is present, with its resources on this page in the scoped list that
// scoped makes, or, with none there, in one that carries only a
// NO_RESULTS_ON_PAGE warning (scoped(nil, warning)), as Compute Engine answers.
func scopedPage[T proto.Message, L any](r *http.Request, scopes []string, itemsOf func(scope string) []T, scoped func(items []T, warning *computepb.Warning) *L) (map[string]*L, string, error) {
	groups, next, err := aggregatePage(r, scopes, itemsOf)
	if err != nil {
		return nil, "", err
	}
	out := make(map[string]*L, len(scopes))
	for _, scope := range scopes {
		if g := groups[scope]; len(g) > 0 {
			out[scope] = scoped(g, nil)
		} else {
			out[scope] = scoped(nil, noResultsWarning(scope))
		}
	}
	return out, next, nil
}

// aggregateToken is an aggregated list's page token: the last item served,
// with its scope, and a hash of the query it belongs to.
type aggregateToken struct {
	Scope   string `json:"s"`
	Name    string `json:"n"`
	Created int64  `json:"c,omitempty"` // Unix nanoseconds, with orderBy=creationTimestamp desc
	Query   string `json:"q"`
}

func (t *aggregateToken) GetScope() string {
	if t == nil {
		return ""
	}
	return t.Scope
}

// precedes reports whether the token's item comes before k within a scope,
// in listPage's order: by name, or newest first then by the greater name.
func (t *aggregateToken) precedes(k listKey, byTime bool) bool {
	if byTime {
		if c := time.Unix(0, t.Created).UTC(); !k.created.Equal(c) {
			return k.created.Before(c)
		}
		return k.name < t.Name
	}
	return k.name > t.Name
}

func encodeAggregateToken(scope string, last listKey, filterSrc, orderBy string) string {
	t := aggregateToken{Scope: scope, Name: last.name, Query: "agg:" + queryHash(filterSrc, orderBy)}
	if !last.created.IsZero() {
		t.Created = last.created.UnixNano()
	}
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeAggregateToken(s, filterSrc, orderBy string) *aggregateToken {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	var t aggregateToken
	if err := json.Unmarshal(b, &t); err != nil || t.Query != "agg:"+queryHash(filterSrc, orderBy) {
		return nil
	}
	return &t
}

func zoneScopes() []string {
	out := make([]string, 0, len(allZones))
	for _, z := range allZones {
		out = append(out, "zones/"+z)
	}
	return out
}

func regionScopes() []string {
	out := make([]string, 0, len(allRegions))
	for _, rg := range allRegions {
		out = append(out, "regions/"+rg)
	}
	return out
}

// noResultsWarning is the per-scope warning aggregated lists carry for a
// scope with nothing in it.
func noResultsWarning(scope string) *computepb.Warning {
	return &computepb.Warning{
		Code:    proto.String("NO_RESULTS_ON_PAGE"),
		Message: proto.String(fmt.Sprintf("There are no results for scope '%s' on this page.", scope)),
		Data:    []*computepb.Data{{Key: proto.String("scope"), Value: proto.String(scope)}},
	}
}
