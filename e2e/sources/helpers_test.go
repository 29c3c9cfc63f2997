package sources_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
	"github.com/immutable-infra/packer-plugin-imagefamily/internal/testutil/packerrun"
)

// sharedPlugins is the PACKER_PLUGIN_PATH every test uses (TestMain makes
// it): this plugin and googlecompute are installed into it once.
var (
	sharedPlugins string
	installOnce   sync.Once
	installed     bool
)

// packerEnv is an isolated packer environment whose plugin path holds this
// plugin and the googlecompute plugin.
func packerEnv(t *testing.T) *packerrun.Environment {
	t.Helper()
	env := packerrun.Env(t)
	env.PluginPath = sharedPlugins
	env.Vars = packerrun.Vars(env.Home, sharedPlugins)
	installOnce.Do(func() {
		packerrun.InstallPlugins(t, env)
		installed = true
	})
	if !installed {
		t.Fatal("installing the plugins failed in an earlier test")
	}
	return env
}

// fakeGCE is an emulator on a free loopback port that records the calls it
// serves as "METHOD /path".
type fakeGCE struct {
	srv *emulator.Server
	url string
	mu  sync.Mutex
	log []string
}

func startEmulator(t *testing.T) *fakeGCE {
	t.Helper()
	srv, err := emulator.New(emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGCE{srv: srv}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.log = append(f.log, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

func (f *fakeGCE) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// count is how many recorded calls are exactly call.
func (f *fakeGCE) count(call string) int {
	n := 0
	for _, c := range f.calls() {
		if c == call {
			n++
		}
	}
	return n
}

// image lays a fixture image.
type image struct {
	project, name, family, created, state string
	labels                                map[string]string
}

func (f *fakeGCE) put(t *testing.T, imgs ...image) {
	t.Helper()
	for _, i := range imgs {
		img := &computepb.Image{
			Name: proto.String(i.name), DiskSizeGb: proto.Int64(10), Architecture: proto.String("X86_64"),
			CreationTimestamp: proto.String(i.created), Labels: i.labels,
		}
		if i.family != "" {
			img.Family = proto.String(i.family)
		}
		if i.state != "" {
			img.Deprecated = &computepb.DeprecationStatus{State: proto.String(i.state)}
		}
		if err := f.srv.PutImage(i.project, img); err != nil {
			t.Fatal(err)
		}
	}
}

// images is a Go client on the emulator, the way a user checks a result.
func (f *fakeGCE) images(t *testing.T) *compute.ImagesClient {
	t.Helper()
	c, err := compute.NewImagesRESTClient(context.Background(), option.WithEndpoint(f.url), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (f *fakeGCE) get(t *testing.T, project, name string) *computepb.Image {
	t.Helper()
	img, err := f.images(t).Get(context.Background(), &computepb.GetImageRequest{Project: project, Image: name})
	if err != nil {
		t.Fatalf("images.get %s/%s: %v", project, name, err)
	}
	return img
}

// list returns a project's images by name.
func (f *fakeGCE) list(t *testing.T, project string) map[string]*computepb.Image {
	t.Helper()
	out := map[string]*computepb.Image{}
	it := f.images(t).List(context.Background(), &computepb.ListImagesRequest{Project: project})
	for {
		img, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatalf("images.list %s: %v", project, err)
		}
		out[img.GetName()] = img
	}
}

// template writes a template into a fresh directory, with ENDPOINT standing
// for the emulator's compute endpoint.
func (f *fakeGCE) template(t *testing.T, hcl string) string {
	t.Helper()
	dir := t.TempDir()
	packerrun.WriteTemplate(t, dir, strings.ReplaceAll(hcl, "ENDPOINT", f.url+"/compute/v1/"))
	return dir
}

// packer runs packer in dir and returns its whole output.
func packer(t *testing.T, env *packerrun.Environment, dir string, args ...string) (string, error) {
	t.Helper()
	stdout, stderr, err := packerrun.Run(t, env, dir, args...)
	return stdout + stderr, err
}
