package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
)

type envelope struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []struct {
			Reason string `json:"reason"`
			Domain string `json:"domain"`
		} `json:"errors"`
	} `json:"error"`
}

// do sends a raw request, as curl or a hand-written client would.
func do(t *testing.T, env *emulatortest.Env, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	return resp.StatusCode, b
}

func TestBadRequestsGetComputeEngineErrorEnvelopes(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	const images = "/compute/v1/projects/acme-images/global/images"
	if code, b := do(t, env, "POST", images, `{"name":"web-v1","rawDisk":{"source":"gs://b/o.tar.gz"}}`); code != 200 {
		t.Fatalf("fixture insert: %d %s", code, b)
	}
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		reason, contains         string
	}{
		{"malformed JSON", "POST", images, `{"name":`, 400, "parseError", "Parse Error"},
		{"body that is not an object", "POST", images, `["web-v2"]`, 400, "invalid", "JSON object"},
		{"unknown field", "POST", images, `{"name":"web-v2","colour":"blue"}`, 400, "invalid", "colour"},
		{"wrong type", "POST", images, `{"name":7}`, 400, "invalid", "Invalid JSON payload"},
		{"bad name", "POST", images, `{"name":"Web v2","rawDisk":{"source":"gs://b/o"}}`, 400, "invalid", "'resource.name': 'Web v2'"},
		{"bad label", "POST", images, `{"name":"web-v2","rawDisk":{"source":"gs://b/o"},"labels":{"team.name":"x"}}`, 400, "invalid", "'team.name'"},
		{"unknown path", "GET", "/compute/v1/projects/acme-images/global/widgets", "", 404, "notFound", "/global/widgets"},
		{"path outside the API", "GET", "/", "", 404, "notFound", "was not found"},
		{"wrong method", "PUT", images + "/web-v1", `{}`, 405, "httpMethodNotAllowed", "PUT"},
		{"deprecate as GET", "GET", images + "/web-v1/deprecate", "", 405, "httpMethodNotAllowed", "GET"},
		{"bad requestId", "DELETE", images + "/web-v1?requestId=42", "", 400, "invalid", "'requestId': '42'"},
		{"unknown filter field value", "GET", images + "?orderBy=size", "", 400, "invalid", "'orderBy': 'size'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b := do(t, env, tc.method, tc.path, tc.body)
			var e envelope
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("body %q is not JSON: %v", b, err)
			}
			if code != tc.code || e.Error.Code != tc.code || len(e.Error.Errors) != 1 || e.Error.Errors[0].Reason != tc.reason || e.Error.Errors[0].Domain != "global" {
				t.Fatalf("got %d %s, want %d %s", code, b, tc.code, tc.reason)
			}
			if !strings.Contains(e.Error.Message, tc.contains) {
				t.Errorf("message %q does not contain %q", e.Error.Message, tc.contains)
			}
		})
	}
}

func TestUnknownQueryParametersAreIgnored(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	code, b := do(t, env, "GET", "/compute/v1/projects/acme-images/global/images?alt=json&prettyPrint=false&returnPartialSuccess=true&maxResults=0", "")
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var list map[string]any
	if err := json.Unmarshal(b, &list); err != nil || list["kind"] != "compute#imageList" {
		t.Errorf("list %s (%v)", b, err)
	}
}

func TestEmptyBodyDeprecateAndNullPatchOverRawHTTP(t *testing.T) {
	env := emulatortest.Start(t, emulator.Options{})
	const img = "/compute/v1/projects/acme-images/global/images/web-v1"
	if code, b := do(t, env, "POST", "/compute/v1/projects/acme-images/global/images", `{"name":"web-v1","family":"web","description":"d","rawDisk":{"source":"gs://b/o"}}`); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	if code, b := do(t, env, "POST", img+"/deprecate", ""); code != 200 {
		t.Fatalf("empty deprecate: %d %s", code, b)
	}
	if code, b := do(t, env, "PATCH", img, `{"family":null,"description":""}`); code != 200 {
		t.Fatalf("patch: %d %s", code, b)
	}
	_, b := do(t, env, "GET", img, "")
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["family"]; ok {
		t.Errorf("family still set: %s", b)
	}
	if _, ok := got["description"]; ok {
		t.Errorf("description still set: %s", b)
	}
	for _, field := range []string{"id", "archiveSizeBytes", "diskSizeGb"} {
		if _, isString := got[field].(string); !isString {
			t.Errorf("%s = %#v: 64-bit integers are written as strings", field, got[field])
		}
	}
}

func TestInjectedFaultsReachTheClient(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		call   func(c *clients) error
		code   int
		reason string
	}{
		{"images.get=429:1", func(c *clients) error {
			_, err := c.images.Get(context.Background(), &computepb.GetImageRequest{Project: proj, Image: "x"})
			return err
		}, 429, "rateLimitExceeded"},
		{"images.insert=503:1", func(c *clients) error {
			_, err := c.images.Insert(context.Background(), &computepb.InsertImageRequest{Project: proj, ImageResource: rawImage("web-v1")})
			return err
		}, 503, "backendError"},
		{"*=500:1", func(c *clients) error {
			_, err := c.images.GetFromFamily(context.Background(), &computepb.GetFromFamilyImageRequest{Project: proj, Family: "web"})
			return err
		}, 500, "backendError"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			faults, err := emulator.ParseFaults(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			c := start(t, emulator.Options{Faults: faults})
			wantAPIErr(t, tc.call(c), tc.code, tc.reason)
		})
	}
}

func TestResetFaultClosesTheConnection(t *testing.T) {
	faults, err := emulator.ParseFaults("images.insert=reset:1")
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, emulator.Options{Faults: faults})
	_, err = c.images.Insert(ctxT(t), &computepb.InsertImageRequest{Project: proj, ImageResource: rawImage("web-v1")})
	var gerr *googleapi.Error
	if err == nil || errors.As(err, &gerr) {
		t.Fatalf("got %v, want a connection error", err)
	}
	// The same server survives it and answers the next call; the reset
	// insert created nothing.
	_, err = c.images.Get(ctxT(t), &computepb.GetImageRequest{Project: proj, Image: "web-v1"})
	wantAPIErr(t, err, http.StatusNotFound, "notFound")
}

func TestSeededFaultsAreReproducible(t *testing.T) {
	faults, err := emulator.ParseFaults("images.get=429:0.5")
	if err != nil {
		t.Fatal(err)
	}
	outcomes := func() string {
		env := emulatortest.Start(t, emulator.Options{Faults: faults, Seed: 42})
		var s strings.Builder
		for range 40 {
			code, _ := do(t, env, "GET", "/compute/v1/projects/p/global/images/x", "")
			s.WriteString(http.StatusText(code)[:1])
		}
		return s.String()
	}
	first, second := outcomes(), outcomes()
	if first != second {
		t.Errorf("same seed, different faults:\n%s\n%s", first, second)
	}
	if !strings.Contains(first, "T") || !strings.Contains(first, "N") {
		t.Errorf("p=0.5 over 40 requests gave %s: want both 429s (T) and 404s (N)", first)
	}
}
