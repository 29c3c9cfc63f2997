package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Rate quotas (Options.Quotas, --quota GROUP=N/s).
//
// Compute Engine limits API calls per project with rate quotas, each over a
// group of methods, and answers a call over its group's quota with 403
// rateLimitExceeded ("Quota exceeded for quota metric 'Read requests' and
// limit 'Read requests per minute' of service 'compute.googleapis.com' for
// consumer 'project_number:N'."), not 429: that is how its documentation
// and recorded errors spell it. The emulator gives each project a token
// bucket per group that is limited: N tokens a second (or a minute), at
// most N held, one spent per call; a call that finds none is answered as
// Compute Engine answers it and changes nothing. Compute Engine counts in
// fixed minute windows; a bucket refills smoothly, so that a client's
// sustained rate can be measured against the limit without minute-long
// steps. Time is Options.Clock.

// QuotaGroup is one group of methods a --quota item may limit.
type QuotaGroup struct {
	// Name is how --quota names the group.
	Name string
	// Methods says which methods the group counts.
	Methods string
	// metric and limit are the quota's display names in Compute Engine's
	// error; metricID and limitID its ids in the error's details.
	metric, limit, metricID, limitID string
}

// QuotaGroups are the groups --quota accepts, after Compute Engine's rate
// quota groups of the same methods. Calls inside a gcloud batch count one
// by one; the batch envelope counts for nothing.
var QuotaGroups = []QuotaGroup{
	{"reads", "gets: *.get, getFromFamily, imageFamilyViews, getSerialPortOutput, zones...",
		"Read requests", "Read requests per minute", "read_requests", "ReadRequestsPerMinutePerProject"},
	{"lists", "lists: *.list, *.aggregatedList, *.listManagedInstances",
		"List requests", "List requests per minute", "list_requests", "ListRequestsPerMinutePerProject"},
	{"operations", "operation reads: *Operations.get and *Operations.wait",
		"Operation read requests", "Operation read requests per minute", "operation_read_requests", "OperationReadRequestsPerMinutePerProject"},
	{"writes", "every mutation (insert, delete, patch, setLabels...); alias mutations",
		"Queries", "Queries per minute", "default", "defaultPerMinutePerProject"},
}

// Quota limits one group: Rate calls a second, at most Burst in a row.
type Quota struct {
	Group string
	Rate  float64
	Burst int
}

// Quotas is a parsed --quota spec.
type Quotas []Quota

// ParseQuotas parses "GROUP=N/s,GROUP=N/min", e.g. "writes=20/s,reads=1500/min".
// The burst is N: a bucket holds one unit's worth. mutations is another
// name for writes.
func ParseQuotas(spec string) (Quotas, error) {
	var out Quotas
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		group, rate, ok := strings.Cut(item, "=")
		if group == "mutations" {
			group = "writes"
		}
		if !ok || quotaGroup(group) == nil {
			return nil, fmt.Errorf("--quota: %q is not GROUP=N/s or GROUP=N/min with GROUP one of %s", item, quotaGroupNames())
		}
		if seen[group] {
			return nil, fmt.Errorf("--quota: %q limits %s a second time", item, group)
		}
		seen[group] = true
		ns, unit, ok := strings.Cut(rate, "/")
		n, err := strconv.Atoi(ns)
		if !ok || err != nil || n < 1 {
			return nil, fmt.Errorf("--quota: %q: the limit must be a whole number of calls, at least 1, per s or per min, e.g. %s=20/s", item, group)
		}
		var per time.Duration
		switch unit {
		case "s":
			per = time.Second
		case "min", "m":
			per = time.Minute
		default:
			return nil, fmt.Errorf("--quota: %q: the unit must be s or min, e.g. %s=20/s", item, group)
		}
		out = append(out, Quota{Group: group, Rate: float64(n) / per.Seconds(), Burst: n})
	}
	return out, nil
}

func quotaGroup(name string) *QuotaGroup {
	for i := range QuotaGroups {
		if QuotaGroups[i].Name == name {
			return &QuotaGroups[i]
		}
	}
	return nil
}

func quotaGroupNames() string {
	names := make([]string, len(QuotaGroups))
	for i, g := range QuotaGroups {
		names[i] = g.Name
	}
	return strings.Join(names, ", ")
}

// quotaGroupOf names the group a method (a discovery name) counts in.
func quotaGroupOf(method string) string {
	_, verb, _ := strings.Cut(method, ".")
	switch {
	case strings.HasSuffix(method, "Operations.get"), strings.HasSuffix(method, "Operations.wait"):
		return "operations"
	case verb == "list", verb == "aggregatedList", verb == "listManagedInstances":
		return "lists"
	case isMutationName(method):
		return "writes"
	}
	return "reads"
}

type bucket struct {
	tokens float64
	last   time.Time
}

type quotas struct {
	limits  map[string]Quota
	buckets map[[2]string]*bucket // project, group
}

func newQuotas(qs Quotas) *quotas {
	if len(qs) == 0 {
		return nil
	}
	q := &quotas{limits: map[string]Quota{}, buckets: map[[2]string]*bucket{}}
	for _, l := range qs {
		q.limits[l.Group] = l
	}
	return q
}

// takeLocked spends a token of the project's bucket for group, or reports
// that there is none.
func (q *quotas) takeLocked(project, group string, now time.Time) bool {
	l, ok := q.limits[group]
	if !ok {
		return true
	}
	k := [2]string{project, group}
	b := q.buckets[k]
	if b == nil {
		b = &bucket{tokens: float64(l.Burst), last: now}
		q.buckets[k] = b
	}
	if now.After(b.last) {
		b.tokens = min(float64(l.Burst), b.tokens+now.Sub(b.last).Seconds()*l.Rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// overQuota answers a call over its group's quota, as Compute Engine does,
// or returns nil.
func (s *Server) overQuota(r *http.Request, method string) *apiError {
	st := s.store
	if st.quotas == nil || method == "batch" {
		return nil
	}
	project := r.PathValue("project")
	group := quotaGroupOf(method)
	st.lock()
	ok := st.quotas.takeLocked(project, group, st.clock())
	if !ok {
		st.countFaultLocked(method, "quota")
	}
	st.unlock()
	if ok {
		return nil
	}
	g := *quotaGroup(group)
	if group == "writes" && strings.HasPrefix(method, "images.") {
		// Compute Engine counts image mutations in a group of their own.
		g.metric, g.limit = "Global resource mutation requests", "Global resource mutation requests per minute"
		g.metricID, g.limitID = "global_resource_write_requests", "GlobalResourceWriteRequestsPerMinutePerProject"
	}
	number := strconv.FormatUint(projectNumber(project), 10)
	return &apiError{
		Code:   http.StatusForbidden,
		Reason: "rateLimitExceeded",
		Domain: "usageLimits",
		Status: "PERMISSION_DENIED",
		Message: fmt.Sprintf("Quota exceeded for quota metric '%s' and limit '%s' of service 'compute.googleapis.com' for consumer 'project_number:%s'.",
			g.metric, g.limit, number),
		Details: []any{map[string]any{
			"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
			"reason": "RATE_LIMIT_EXCEEDED",
			"domain": "googleapis.com",
			"metadata": map[string]string{
				"service":      "compute.googleapis.com",
				"consumer":     "projects/" + number,
				"quota_metric": "compute.googleapis.com/" + g.metricID,
				"quota_limit":  g.limitID,
			},
		}},
	}
}
