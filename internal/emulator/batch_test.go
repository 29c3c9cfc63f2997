package emulator_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

// batchBody builds a multipart/mixed batch the way gcloud's apitools writes
// it: bare LF line endings, Content-ID "<base+N>", an embedded request with
// its own headers.
func batchBody(boundary string, calls ...string) string {
	var b strings.Builder
	for i, call := range calls {
		fmt.Fprintf(&b, "--%s\nContent-Type: application/http\nMIME-Version: 1.0\nContent-Transfer-Encoding: binary\nContent-ID: <b29c+%d>\n\n%s\n", boundary, i, call)
	}
	fmt.Fprintf(&b, "--%s--\n", boundary)
	return b.String()
}

type batchReply struct {
	contentID string
	status    int
	body      string
}

func postBatch(t *testing.T, env *emulatortest.Env, contentType, body string) (int, string, []batchReply) {
	t.Helper()
	resp, err := http.Post(env.URL+"/batch/compute/v1", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mediaType, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType != "multipart/mixed" {
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	var replies []batchReply
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ct := part.Header.Get("Content-Type"); ct != "application/http" {
			t.Errorf("part Content-Type = %q, want application/http", ct)
		}
		inner, err := http.ReadResponse(bufio.NewReader(part), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(inner.Body)
		replies = append(replies, batchReply{part.Header.Get("Content-ID"), inner.StatusCode, string(b)})
	}
	return resp.StatusCode, "", replies
}

func TestBatchAnswersEachEmbeddedCallInItsOwnPart(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	insert := `{"name":"from-batch","rawDisk":{"source":"https://storage.googleapis.com/b/o.tar.gz"}}`
	body := batchBody("===============7330845974216740156==",
		"GET /compute/v1/projects/p/zones/us-central1-a?alt=json HTTP/1.1\nContent-Type: application/json\nMIME-Version: 1.0\naccept: application/json\ncontent-length: 0\nHost: 127.0.0.1\n",
		"GET /compute/v1/projects/p/global/images/nope?alt=json HTTP/1.1\nHost: 127.0.0.1\n",
		fmt.Sprintf("POST /compute/v1/projects/p/global/images?alt=json HTTP/1.1\nContent-Type: application/json\ncontent-length: %d\n\n%s", len(insert), insert),
		"GET /compute/v1/projects/p/global/images/from-batch HTTP/1.1\n",
		"this is not an HTTP request",
		"POST /batch/compute/v1 HTTP/1.1\n",
	)
	status, _, replies := postBatch(t, env, `multipart/mixed; boundary="===============7330845974216740156=="`, body)
	if status != http.StatusOK {
		t.Fatalf("batch status %d", status)
	}
	want := []struct {
		status int
		has    string
	}{
		{200, `"name":"us-central1-a"`},
		{404, `The resource 'projects/p/global/images/nope' was not found`},
		{200, `"operationType":"insert"`},
		{200, `"name":"from-batch"`}, // calls run in order: the insert is visible
		{400, `is not METHOD /PATH HTTP/1.1`},
		{400, `cannot be nested`},
	}
	if len(replies) != len(want) {
		t.Fatalf("%d parts, want %d: %+v", len(replies), len(want), replies)
	}
	for i, w := range want {
		r := replies[i]
		if r.contentID != fmt.Sprintf("<response-b29c+%d>", i) {
			t.Errorf("part %d Content-ID = %q", i, r.contentID)
		}
		if r.status != w.status || !strings.Contains(r.body, w.has) {
			t.Errorf("part %d: %d %s, want %d containing %s", i, r.status, r.body, w.status, w.has)
		}
	}
}

func TestMalformedBatchesGetComputeEngineErrors(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = "GET /compute/v1/projects/p/zones HTTP/1.1\n"
	}
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		message                 string
	}{
		{"NotMultipart", "application/json", "{}", 400, "must have Content-Type multipart/mixed"},
		{"NoBoundary", "multipart/mixed", "--x--\n", 400, "must have Content-Type multipart/mixed"},
		{"NoParts", "multipart/mixed; boundary=x", "--x--\n", 400, "at least one call"},
		{"Truncated", "multipart/mixed; boundary=x", "--x\nContent-Type: application/http\n\nGET /compute/v1/projects/p/zones HTTP/1.1\n", 400, "Malformed multipart"},
		{"TooManyCalls", "multipart/mixed; boundary=x", batchBody("x", tooMany...), 400, "at most 1000 calls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := postBatch(t, env, tc.contentType, tc.body)
			var e envelope
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("status %d, body %q is not an error envelope", status, body)
			}
			if status != tc.status || e.Error.Code != tc.status || len(e.Error.Errors) != 1 || !strings.Contains(e.Error.Message, tc.message) {
				t.Errorf("got %d %+v, want %d with %q", status, e, tc.status, tc.message)
			}
		})
	}
	resp, err := http.Get(env.URL + "/batch/compute/v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /batch/compute/v1: %d, want 405", resp.StatusCode)
	}
}

// FuzzBatchNeverPanics feeds arbitrary batch bodies through the server: any
// input gets a multipart answer or a Compute Engine error, never a panic.
func FuzzBatchNeverPanics(f *testing.F) {
	f.Add(batchBody("x", "GET /compute/v1/projects/p/zones HTTP/1.1\n"))
	f.Add(batchBody("x", "POST /compute/v1/projects/p/global/images HTTP/1.1\ncontent-length: 5\n\n{\"na"))
	f.Add("--x\nContent-ID: <\n\nGET / HTTP/1.1\n--x--")
	f.Add("--x\n\n\n--x--")
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/batch/compute/v1", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/mixed; boundary=x")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Errorf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
