package gce

import (
	"context"
	"log"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator/emulatortest"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/pluginconfig"
)

// captureLog sends the standard log, which a plugin's Packer log is, to a
// buffer for the test.
func captureLog(t *testing.T) *lockedBuffer {
	var b lockedBuffer
	prev, flags := log.Writer(), log.Flags()
	log.SetOutput(&b)
	log.SetFlags(0)
	t.Cleanup(func() { log.SetOutput(prev); log.SetFlags(flags) })
	return &b
}

func TestStdLogPutsEachCallAndRetryInPackersLogWithoutTheToken(t *testing.T) {
	const token = "ya29.secret-token-value"
	noSleep := func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	tests := []struct {
		name      string
		faults    string
		level     string   // IMAGEFAMILY_LOG
		packerLog string   // PACKER_LOG
		want      []string // the log's lines, as regular expressions
	}{
		{"an answered call is one line", "", "", "1", []string{
			`^\[INFO\] imagefamily-release: http method=GET url=URL/compute/v1/projects/acme-images/global/images/web-v1 status=404 duration=[0-9.]+(ms|s)$`,
		}},
		{"at debug, the answer's body and the headers, the token redacted", "", "debug", "1", []string{
			`^\[INFO\] imagefamily-release: http method=GET url=URL/compute/v1/projects/acme-images/global/images/web-v1 status=404 duration=[0-9.]+(ms|s) ` +
				`request_headers=".*Authorization: Bearer REDACTED.*" .*response_body=".*web-v1.*was not found.*"$`,
		}},
		{"a throttled call: each attempt and the retry between", "images.get=429:1", "", "1", []string{
			`^\[INFO\] imagefamily-release: http method=GET url=URL/compute/v1/projects/acme-images/global/images/web-v1 status=429 duration=[0-9.]+(ms|s)$`,
			`^\[WARN\] imagefamily-release: retry: images.get projects/acme-images/global/images/web-v1: attempt 1 answered with a quota or rate-limit error \(.*429.*\): sending it again in \d+(\.\d+)?m?s$`,
			`^\[INFO\] imagefamily-release: http method=GET url=URL/compute/v1/projects/acme-images/global/images/web-v1 status=429 duration=[0-9.]+(ms|s)$`,
		}},
		{"Packer keeps no log: no request is logged, a retry is", "images.get=429:1", "", "0", []string{
			`^\[WARN\] imagefamily-release: retry: images.get projects/acme-images/global/images/web-v1: attempt 1 answered with a quota or rate-limit error \(.*429.*\): sending it again in \d+(\.\d+)?m?s$`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PACKER_LOG", tt.packerLog)
			t.Setenv("PACKER_LOG_PATH", "")
			faults, err := emulator.ParseFaults(tt.faults)
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv(LogLevelEnv, tt.level)
			env := emulatortest.Start(t, emulator.Options{Faults: faults})
			out := captureLog(t)
			opts := append(StdLog("imagefamily-release"), WithBackoff(Backoff{Attempts: 2, Sleep: noSleep}))
			c, err := New(t.Context(), pluginconfig.Auth{AccessToken: token, CustomEndpoints: map[string]string{"compute": env.URL}}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.GetImage(t.Context(), "acme-images", "web-v1"); err == nil {
				t.Fatal("GetImage found an image in an empty project")
			}
			text := out.String()
			lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(tt.want), text)
			}
			for i, w := range tt.want {
				re := regexp.MustCompile(strings.ReplaceAll(w, "URL", regexp.QuoteMeta(env.URL)))
				if !re.MatchString(lines[i]) {
					t.Errorf("log line %d:\n%s\nwant it to match\n%s", i+1, lines[i], re)
				}
			}
			if strings.Contains(text, token) {
				t.Errorf("the access token reached the log:\n%s", text)
			}
		})
	}
}
