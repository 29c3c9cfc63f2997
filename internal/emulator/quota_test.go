package emulator_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

func TestParseQuotasReadsGroupsAndRates(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want emulator.Quotas
		bad  string
	}{
		{spec: "writes=20/s", want: emulator.Quotas{{Group: "writes", Rate: 20, Burst: 20}}},
		{spec: "mutations=20/s", want: emulator.Quotas{{Group: "writes", Rate: 20, Burst: 20}}},
		{spec: "reads=1500/min, lists=60/m", want: emulator.Quotas{{Group: "reads", Rate: 25, Burst: 1500}, {Group: "lists", Rate: 1, Burst: 60}}},
		{spec: "operations=5/s", want: emulator.Quotas{{Group: "operations", Rate: 5, Burst: 5}}},
		{spec: "", want: nil},
		{spec: "teapots=1/s", bad: "GROUP one of reads, lists, operations, writes"},
		{spec: "writes=20", bad: "per s or per min"},
		{spec: "writes=0/s", bad: "at least 1"},
		{spec: "writes=20/h", bad: "unit must be s or min"},
		{spec: "writes=1/s,mutations=2/s", bad: "a second time"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := emulator.ParseQuotas(tc.spec)
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("ParseQuotas(%q) = %v, %v; want an error saying %q", tc.spec, got, err, tc.bad)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("ParseQuotas(%q) = %v, %v; want %v", tc.spec, got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("ParseQuotas(%q)[%d] = %+v, want %+v", tc.spec, i, got[i], tc.want[i])
				}
			}
		})
	}
}

// Compute Engine answers a call over a rate quota with 403
// rateLimitExceeded, not 429 (its documentation, and its recorded errors:
// "Quota exceeded for quota metric 'Read requests' and limit 'Read requests
// per minute' of service 'compute.googleapis.com' for consumer
// 'project_number:…'").
func TestAQuotaIsATokenBucketAnsweredAsComputeEngineAnswers(t *testing.T) {
	clock := newFakeClock()
	quotas, err := emulator.ParseQuotas("writes=2/s,reads=3/s")
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, emulator.Options{Quotas: quotas, Clock: clock.Now})
	insert := func(name string) error {
		_, err := c.images.Insert(ctxT(t), &computepb.InsertImageRequest{Project: proj, ImageResource: rawImage(name)})
		return err
	}
	for _, name := range []string{"a", "b"} {
		if err := insert(name); err != nil {
			t.Fatalf("insert %s within the quota: %v", name, err)
		}
	}
	err = insert("c")
	msg := wantAPIErr(t, err, 403, "rateLimitExceeded")
	if !strings.HasPrefix(msg, "Quota exceeded for quota metric 'Global resource mutation requests' and limit 'Global resource mutation requests per minute' of service 'compute.googleapis.com' for consumer 'project_number:") {
		t.Errorf("message %q is not Compute Engine's", msg)
	}
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != 403 {
		t.Errorf("error %v: want a *googleapi.Error with code 403", err)
	}
	// A refused call changed nothing.
	_, err = c.images.Get(ctxT(t), &computepb.GetImageRequest{Project: proj, Image: "c"})
	wantAPIErr(t, err, 404, "notFound")
	// Groups are counted apart: reads still have their own tokens.
	for range 2 {
		if _, err := c.images.Get(ctxT(t), &computepb.GetImageRequest{Project: proj, Image: "a"}); err != nil {
			t.Fatalf("a read with write tokens spent: %v", err)
		}
	}
	_, err = c.images.Get(ctxT(t), &computepb.GetImageRequest{Project: proj, Image: "a"})
	msg = wantAPIErr(t, err, 403, "rateLimitExceeded")
	if !strings.Contains(msg, "quota metric 'Read requests' and limit 'Read requests per minute'") {
		t.Errorf("read refusal %q does not name the read quota", msg)
	}
	// Tokens come back at the rate: one write half a second on.
	clock.Advance(500 * time.Millisecond)
	if err := insert("c"); err != nil {
		t.Fatalf("insert after half a second at 2/s: %v", err)
	}
	wantAPIErr(t, insert("d"), 403, "rateLimitExceeded")
	// Projects have buckets of their own.
	if _, err := c.images.Insert(ctxT(t), &computepb.InsertImageRequest{Project: "other", ImageResource: rawImage("a")}); err != nil {
		t.Errorf("insert in another project: %v", err)
	}
}

// The envelope carries the status and the ErrorInfo details newer Compute
// Engine errors carry, which clients may read.
func TestAQuotaRefusalCarriesErrorInfo(t *testing.T) {
	quotas, _ := emulator.ParseQuotas("lists=1/min")
	env := emulatortest.Start(t, emulator.Options{Quotas: quotas, Clock: newFakeClock().Now})
	const path = "/compute/v1/projects/" + proj + "/global/images"
	if code, b := do(t, env, "GET", path, ""); code != 200 {
		t.Fatalf("first list: %d %s", code, b)
	}
	code, b := do(t, env, "GET", path, "")
	var e struct {
		Error struct {
			Code   int    `json:"code"`
			Status string `json:"status"`
			Errors []struct {
				Domain string `json:"domain"`
				Reason string `json:"reason"`
			} `json:"errors"`
			Details []struct {
				Type     string            `json:"@type"`
				Reason   string            `json:"reason"`
				Metadata map[string]string `json:"metadata"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || code != 403 {
		t.Fatalf("second list: %d %s (%v)", code, b, err)
	}
	d := e.Error.Details
	if len(e.Error.Errors) != 1 || e.Error.Errors[0].Domain != "usageLimits" || e.Error.Errors[0].Reason != "rateLimitExceeded" {
		t.Errorf("errors %+v, want one usageLimits rateLimitExceeded", e.Error.Errors)
	}
	if e.Error.Status != "PERMISSION_DENIED" || len(d) != 1 || d[0].Type != "type.googleapis.com/google.rpc.ErrorInfo" ||
		d[0].Reason != "RATE_LIMIT_EXCEEDED" || d[0].Metadata["quota_metric"] != "compute.googleapis.com/list_requests" {
		t.Errorf("envelope %s", b)
	}
}

func TestAQuotaCountsEachCallOfAGcloudBatch(t *testing.T) {
	quotas, _ := emulator.ParseQuotas("reads=1/min")
	c := start(t, emulator.Options{Quotas: quotas, Clock: newFakeClock().Now})
	if err := c.env.Server.PutImage(proj, &computepb.Image{Name: proto.String("a")}); err != nil {
		t.Fatal(err)
	}
	get := "GET /compute/v1/projects/" + proj + "/global/images/a HTTP/1.1\n"
	code, _, replies := postBatch(t, c.env, "multipart/mixed; boundary=b", batchBody("b", get, get))
	if code != 200 || len(replies) != 2 || replies[0].status != 200 || replies[1].status != 403 {
		t.Errorf("a batch of two reads under reads=1/min: %d %+v, want a 200 then a 403", code, replies)
	}
}
