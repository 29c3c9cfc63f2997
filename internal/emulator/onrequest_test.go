package emulator_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// requestLog collects what Options.OnRequest reports.
type requestLog struct {
	mu  sync.Mutex
	got []string
}

func (l *requestLog) record(method string, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, method+" "+http.StatusText(status))
}

func (l *requestLog) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

func TestOnRequestReportsEachCallByMethodAndStatus(t *testing.T) {
	var log requestLog
	faults, err := emulator.ParseFaults("images.get=429:1,images.delete=reset:1")
	if err != nil {
		t.Fatal(err)
	}
	env := emulatortest.Start(t, emulator.Options{OnRequest: log.record, Faults: faults})
	const images = "/compute/v1/projects/p/global/images"
	do(t, env, "POST", images, `{"name":"web-v1","rawDisk":{"source":"gs://b/o.tar.gz"}}`)
	do(t, env, "GET", images+"?maxResults=500", "")
	do(t, env, "GET", images+"/web-v1", "")
	do(t, env, "GET", "/compute/v1/projects/p/nothing/here", "")
	req, _ := http.NewRequest("DELETE", env.URL+images+"/web-v1", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the reset fault answered %d", resp.StatusCode)
	}
	postBatch(t, env, `multipart/mixed; boundary="b"`, batchBody("b",
		"GET /compute/v1/projects/p/zones/us-central1-a HTTP/1.1\n",
		"GET /compute/v1/projects/p/global/images/nope HTTP/1.1\n"))

	want := []string{
		"images.insert OK", "images.list OK", "images.get Too Many Requests", "unknown Not Found",
		"images.delete ", // reset: no status
		"zones.get OK", "images.get Too Many Requests", "batch OK",
	}
	got := log.calls()
	if len(got) != len(want) {
		t.Fatalf("reported %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d reported as %q, want %q", i, got[i], want[i])
		}
	}
}
