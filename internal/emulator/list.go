package emulator

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
	"weak"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/filter"
)

// maxListResults is Compute Engine's cap (and default) for maxResults.
const maxListResults = 500

// listPage applies a list request's filter, orderBy, maxResults and pageToken
// to items and returns one page plus the token of the next (empty on the last
// page). Other query parameters (alt, prettyPrint, returnPartialSuccess...)
// are ignored, as gcloud and the client libraries send them freely.
//
// items is not modified; the returned page shares its elements.
func listPage[T proto.Message](r *http.Request, items []T) (page []T, nextPageToken string, err error) {
	q := r.URL.Query()
	lq, err := parseListQuery(q)
	if err != nil {
		return nil, "", err
	}
	keys := listKeys(lq, items)

	// The token names the last item returned rather than an offset, so that
	// a caller deleting or inserting while it pages (a rotator does both)
	// neither skips nor repeats an item that was there all along.
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		after, ok := decodePageToken(tok, lq.filterSrc, lq.orderBy)
		if !ok {
			return nil, "", errInvalid("Invalid value for field 'pageToken': '%s'. Invalid page token.", tok)
		}
		start = sort.Search(len(keys), func(i int) bool { return lq.less(after, keys[i]) && !sameKey(after, keys[i]) })
	}
	end := min(start+lq.max, len(keys))
	page = make([]T, 0, end-start)
	for _, k := range keys[start:end] {
		page = append(page, items[k.index])
	}
	if end < len(keys) {
		nextPageToken = encodePageToken(keys[end-1], lq.filterSrc, lq.orderBy)
	}
	return page, nextPageToken, nil
}

// listQuery is a list request's filter, orderBy and maxResults, checked and
// parsed once per request: a list applies it to its items, an aggregated
// list to each scope's.
type listQuery struct {
	filterSrc string
	orderBy   string // with its spaces normalised
	expr      *filter.Expr
	filtering bool // the filter is not blank
	byTime    bool // orderBy=creationTimestamp desc
	max       int  // maxResults, the default applied
}

func parseListQuery(q url.Values) (listQuery, error) {
	lq := listQuery{
		filterSrc: q.Get("filter"),
		orderBy:   strings.Join(strings.Fields(q.Get("orderBy")), " "),
		max:       maxListResults,
	}
	switch lq.orderBy {
	case "", "name":
	case "creationTimestamp desc":
		lq.byTime = true
	default:
		return listQuery{}, errInvalid("Invalid value for field 'orderBy': '%s'. Only 'name' and 'creationTimestamp desc' are supported.", q.Get("orderBy"))
	}

	// Google documents 0 to 500 as acceptable, 0 meaning the default.
	if s := q.Get("maxResults"); s != "" {
		n, convErr := strconv.Atoi(s)
		if convErr != nil || n < 0 || n > maxListResults {
			return listQuery{}, errInvalid("Invalid value for field 'maxResults': '%s'. Must be in the range [0, %d].", s, maxListResults)
		}
		if n > 0 {
			lq.max = n
		}
	}

	expr, err := filter.Parse(lq.filterSrc)
	if err != nil {
		return listQuery{}, errInvalid("%s", err.Error())
	}
	lq.expr = expr
	lq.filtering = strings.TrimSpace(lq.filterSrc) != ""
	return lq, nil
}

// listKeys returns the keys of the items the filter matches, in list order;
// each key's index is its item's position in items.
func listKeys[T proto.Message](lq listQuery, items []T) []listKey {
	keys := make([]listKey, 0, len(items))
	// Images failing the filter's condition on their name, family or a
	// label (what a family listing, a batch of names and the search for a
	// lease or an orphan ask) are skipped before they are converted: a
	// listing then costs what it returns, not the project.
	var pre []imagePrefilter
	if lq.filtering {
		pre = imagePrefilters(lq.expr)
	}
	for i, it := range items {
		if img, ok := any(it).(*computepb.Image); ok && !passes(pre, img) {
			continue
		}
		if lq.filtering && !lq.expr.Match(genericObject(it)) {
			continue
		}
		keys = append(keys, keyOf(it, i, lq.byTime))
	}
	sort.Slice(keys, func(i, j int) bool { return lq.less(keys[i], keys[j]) })
	return keys
}

// imagePrefilter is one necessary condition of a filter on a field of an
// image read without converting it.
type imagePrefilter struct {
	read func(*computepb.Image) (string, bool)
	test func(value string, present bool) bool
}

func imagePrefilters(expr *filter.Expr) []imagePrefilter {
	var out []imagePrefilter
	for _, field := range expr.PrefilterFields() {
		var read func(*computepb.Image) (string, bool)
		switch key, isLabel := strings.CutPrefix(field, "labels."); {
		case field == "name":
			read = func(img *computepb.Image) (string, bool) { return img.GetName(), img.Name != nil }
		case field == "family":
			read = func(img *computepb.Image) (string, bool) { return img.GetFamily(), img.Family != nil }
		case isLabel && !strings.Contains(key, "."):
			read = func(img *computepb.Image) (string, bool) { v, ok := img.GetLabels()[key]; return v, ok }
		default:
			continue
		}
		test, _ := expr.Prefilter(field)
		out = append(out, imagePrefilter{read: read, test: test})
	}
	return out
}

func passes(pre []imagePrefilter, img *computepb.Image) bool {
	for _, p := range pre {
		if !p.test(p.read(img)) {
			return false
		}
	}
	return true
}

// less is the list order: by name, or with orderBy=creationTimestamp desc
// newest first, where between equal creation times the greater name is the
// newer: the rule getFromFamily's "newest" follows too (familyHeadLocked),
// so that the first ACTIVE image such a listing shows is the family head.
func (lq listQuery) less(a, b listKey) bool {
	if lq.byTime {
		if !a.created.Equal(b.created) {
			return a.created.After(b.created)
		}
		if a.name != b.name {
			return a.name > b.name
		}
		return a.index < b.index
	}
	if a.name != b.name {
		return a.name < b.name
	}
	return a.index < b.index
}

// listKey is what a list sorts on. index keeps the order total (and the
// result stable) when names repeat, as they may across zones in one list.
type listKey struct {
	name    string
	created time.Time
	index   int
}

func sameKey(a, b listKey) bool { return a.name == b.name && a.created.Equal(b.created) }

// named is what every Compute Engine resource message offers; asserting it is
// much cheaper than reflection on a list of 10,000.
type named interface {
	GetName() string
	GetCreationTimestamp() string
}

func keyOf(m proto.Message, index int, byTime bool) listKey {
	k := listKey{index: index}
	var ts string
	if n, ok := m.(named); ok {
		k.name = n.GetName()
		if byTime {
			ts = n.GetCreationTimestamp()
		}
	} else {
		msg := m.ProtoReflect()
		fields := msg.Descriptor().Fields()
		if fd := fields.ByName("name"); fd != nil && fd.Kind() == protoreflect.StringKind {
			k.name = msg.Get(fd).String()
		}
		if fd := fields.ByName("creation_timestamp"); byTime && fd != nil && fd.Kind() == protoreflect.StringKind {
			ts = msg.Get(fd).String()
		}
	}
	if ts != "" {
		// Parsed, not compared as text: fixtures may carry other UTC offsets
		// (Compute Engine itself writes -07:00 on some resources).
		k.created, _ = time.Parse(time.RFC3339Nano, ts)
	}
	return k
}

// pageToken is opaque to clients; it carries the last key served and a hash of
// the query it belongs to, so a token reused with another filter is refused
// instead of silently paging through a different list.
type pageToken struct {
	Name    string `json:"n"`
	Created int64  `json:"c,omitempty"` // Unix nanoseconds
	Query   string `json:"q"`
}

func queryHash(filterSrc, orderBy string) string {
	sum := sha256.Sum256([]byte(filterSrc + "\x00" + orderBy))
	return base64.RawURLEncoding.EncodeToString(sum[:8])
}

func encodePageToken(last listKey, filterSrc, orderBy string) string {
	t := pageToken{Name: last.name, Query: queryHash(filterSrc, orderBy)}
	if !last.created.IsZero() {
		t.Created = last.created.UnixNano()
	}
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s, filterSrc, orderBy string) (listKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return listKey{}, false
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.Query != queryHash(filterSrc, orderBy) {
		return listKey{}, false
	}
	k := listKey{name: t.Name, index: -1}
	if t.Created != 0 {
		k.created = time.Unix(0, t.Created).UTC()
	}
	return k, true
}

// Filtering converts every resource to its generic JSON form, which costs a
// protojson round trip (several microseconds an image: a 10,000-image project
// would pay that on every page). Two caches avoid most of it:
//
//   - frozen: resources whose owner promises never to modify them in place
//     (images are copy-on-write in this package) are found by identity. The
//     key is the object's address, validated through a weak pointer so that a
//     new object reusing the address of a collected one never matches.
//   - byContent: anything else is keyed by its deterministic binary encoding;
//     equal bytes mean equal JSON, so a resource changed in place misses.
var (
	frozen = struct {
		sync.RWMutex
		m map[uintptr]*frozenEntry
	}{m: map[uintptr]*frozenEntry{}}
	byContent = struct {
		sync.Mutex
		m map[string]map[string]any
	}{m: map[string]map[string]any{}}
)

type frozenEntry struct {
	same func(proto.Message) bool
	once sync.Once
	obj  map[string]any
}

// byContentMax bounds the content cache; it is dropped whole when full, which
// is rare and only costs the next list its conversions.
const byContentMax = 100_000

var deterministic = proto.MarshalOptions{Deterministic: true}

// freeze records that m will never be modified again (mutations replace it
// with a changed copy), so its generic form can be cached by identity.
// Freezing the same object twice is cheap.
func freeze[T any, P interface {
	*T
	proto.Message
}](m P) {
	addr := uintptr(unsafe.Pointer(m))
	frozen.RLock()
	e, ok := frozen.m[addr]
	frozen.RUnlock()
	if ok && e.same(m) {
		return
	}
	wp := weak.Make((*T)(m))
	e = &frozenEntry{same: func(x proto.Message) bool { p, ok := x.(P); return ok && wp.Value() == (*T)(p) }}
	frozen.Lock()
	frozen.m[addr] = e
	frozen.Unlock()
	runtime.AddCleanup((*T)(m), func(addr uintptr) {
		frozen.Lock()
		if frozen.m[addr] == e {
			delete(frozen.m, addr)
		}
		frozen.Unlock()
	}, addr)
}

// genericObject returns m as the API writes it, decoded by encoding/json
// (what filter.Expr.Match evaluates). Callers must not modify the result.
func genericObject(m proto.Message) map[string]any {
	if rv := reflect.ValueOf(m); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		frozen.RLock()
		e, ok := frozen.m[rv.Pointer()]
		frozen.RUnlock()
		if ok && e.same(m) {
			// Converted on first use: freezing is on every list's path,
			// conversion only on filtered ones.
			e.once.Do(func() { e.obj = toGeneric(m) })
			return e.obj
		}
	}
	bin, err := deterministic.Marshal(m)
	if err != nil {
		return toGeneric(m)
	}
	key := string(bin)
	byContent.Lock()
	obj, ok := byContent.m[key]
	byContent.Unlock()
	if ok {
		return obj
	}
	obj = toGeneric(m)
	byContent.Lock()
	if len(byContent.m) >= byContentMax {
		byContent.m = map[string]map[string]any{}
	}
	byContent.m[key] = obj
	byContent.Unlock()
	return obj
}

func toGeneric(m proto.Message) map[string]any {
	b, err := protojson.Marshal(m)
	if err != nil {
		return map[string]any{}
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return map[string]any{}
	}
	return obj
}
