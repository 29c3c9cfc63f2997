// Command container packs the imagefamily CLI that goreleaser built into a
// container image, written as an OCI image layout under dist/: an image per
// Linux platform goreleaser built the CLI for, on an empty base (the CLI is
// a static Go binary), with the CA certificates it needs to reach Compute
// Engine over TLS. Nothing is pulled and nothing is pushed: load the layout
// with any OCI tool (`crane push dist/imagefamily_v1.2.3_oci REPO:TAG`,
// `skopeo copy oci:dist/imagefamily_v1.2.3_oci docker://REPO:TAG`).
//
// It packs goreleaser's binaries rather than building its own, so that the
// image holds exactly the released CLI (same ldflags, same version). make
// runs it after goreleaser: `make release-container`, part of make test, and
// `make release-snapshot`.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths and the user inside the image. 65532 is the "nonroot" user of
// distroless images, a convention Kubernetes policies recognise.
const (
	binPath   = "/usr/local/bin/imagefamily"
	certsPath = "/etc/ssl/certs/ca-certificates.crt"
	uid       = 65532
	user      = "65532:65532"
)

func main() {
	var o options
	flag.StringVar(&o.dist, "dist", "dist", "goreleaser's dist directory (artifacts.json, metadata.json)")
	flag.StringVar(&o.id, "id", "cli", "the goreleaser build id of the CLI")
	flag.StringVar(&o.certs, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to put in the image (PEM)")
	flag.StringVar(&o.out, "out", "", "where to write the OCI layout (default DIST/imagefamily_vVERSION_oci)")
	flag.StringVar(&o.source, "source", "https://github.com/immutable-infra/packer-plugin-imagefamily", "the org.opencontainers.image.source label")
	flag.Parse()
	// SOURCE_DATE_EPOCH (reproducible-builds.org): the files' and the
	// image's time, so that the same commit makes the same image.
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fail(fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", s))
		}
		o.created = time.Unix(sec, 0).UTC()
	}
	path, idx, err := build(o)
	if err != nil {
		fail(err)
	}
	d, err := idx.Digest()
	if err != nil {
		fail(err)
	}
	fmt.Printf("container: wrote %s (index %s)\n", path, d)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "container: %v\n", err)
	os.Exit(1)
}

type options struct {
	dist, id, certs, out, source string
	created                      time.Time
}

// artifact is the part of an entry of goreleaser's artifacts.json read here.
type artifact struct {
	Path   string `json:"path"`
	Goos   string `json:"goos"`
	Goarch string `json:"goarch"`
	Type   string `json:"type"`
	Extra  struct {
		ID string `json:"ID"`
	} `json:"extra"`
}

type metadata struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

func build(o options) (string, v1.ImageIndex, error) {
	var meta metadata
	if err := readJSON(filepath.Join(o.dist, "metadata.json"), &meta); err != nil {
		return "", nil, err
	}
	var arts []artifact
	if err := readJSON(filepath.Join(o.dist, "artifacts.json"), &arts); err != nil {
		return "", nil, err
	}
	certs, err := os.ReadFile(o.certs)
	if err != nil {
		return "", nil, fmt.Errorf("the CA certificates the CLI needs for TLS: %w (install the ca-certificates package, or pass -ca-certificates)", err)
	}
	var bins []artifact
	for _, a := range arts {
		if a.Type == "Binary" && a.Extra.ID == o.id && a.Goos == "linux" {
			bins = append(bins, a)
		}
	}
	if len(bins) == 0 {
		return "", nil, fmt.Errorf("%s/artifacts.json lists no linux binary of build %q: run goreleaser with --id %s first (make release-container does)", o.dist, o.id, o.id)
	}
	sort.Slice(bins, func(i, j int) bool { return bins[i].Goarch < bins[j].Goarch })

	labels := map[string]string{
		"org.opencontainers.image.title":       "imagefamily",
		"org.opencontainers.image.description": "The imagefamily CLI: status, rotation, rollback and revocation of Compute Engine image families",
		"org.opencontainers.image.version":     meta.Version,
		"org.opencontainers.image.revision":    meta.Commit,
		"org.opencontainers.image.source":      o.source,
		"org.opencontainers.image.licenses":    "MPL-2.0",
		"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, b := range bins {
		p := b.Path
		if !filepath.IsAbs(p) {
			// Relative to where goreleaser ran: dist's parent.
			p = filepath.Join(filepath.Dir(o.dist), p)
		}
		bin, err := os.ReadFile(p)
		if err != nil {
			return "", nil, err
		}
		img, err := image(bin, certs, b.Goarch, o.created, labels)
		if err != nil {
			return "", nil, fmt.Errorf("linux/%s: %w", b.Goarch, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: b.Goarch}}})
	}

	out := o.out
	if out == "" {
		out = filepath.Join(o.dist, fmt.Sprintf("imagefamily_v%s_oci", meta.Version))
	}
	// A layout is appended to; a fresh one holds this build only.
	if err := os.RemoveAll(out); err != nil {
		return "", nil, err
	}
	// index.json names the multi-platform index by the version, which is
	// how OCI tools address an image in a layout (oci:DIR:0.1.0).
	lp, err := layout.Write(out, empty.Index)
	if err == nil {
		err = lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": meta.Version}))
	}
	if err != nil {
		return "", nil, fmt.Errorf("writing the OCI layout %s: %w", out, err)
	}
	return out, idx, nil
}

// image is one platform's image: an empty base, one layer holding the CLI,
// the CA bundle, a passwd entry for the non-root user and /tmp.
func image(bin, certs []byte, arch string, created time.Time, labels map[string]string) (v1.Image, error) {
	files, err := layerTar(bin, certs, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(files)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: created}, CreatedBy: "tools/container: the imagefamily CLI from goreleaser's build", Comment: "imagefamily " + labels["org.opencontainers.image.version"],
	}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint: []string{binPath},
		User:       user,
		WorkingDir: "/tmp",
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"SSL_CERT_FILE=" + certsPath,
		},
		Labels: labels,
	}
	return mutate.ConfigFile(img, cf)
}

// layerTar is the layer's files, in a fixed order with fixed owners and
// times, so that the same inputs make the same layer.
func layerTar(bin, certs []byte, mtime time.Time) ([]byte, error) {
	type entry struct {
		name  string
		mode  int64
		owner int
		body  []byte // nil for a directory
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, uid)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", uid)
	entries := []entry{
		{"etc/", 0o755, 0, nil},
		{"etc/group", 0o644, 0, []byte(group)},
		{"etc/passwd", 0o644, 0, []byte(passwd)},
		{"etc/ssl/", 0o755, 0, nil},
		{"etc/ssl/certs/", 0o755, 0, nil},
		{certsPath[1:], 0o644, 0, certs},
		{"home/", 0o755, 0, nil},
		{"home/nonroot/", 0o700, uid, nil},
		// The CLI's working directory: --report files land here unless a
		// volume is mounted elsewhere.
		{"tmp/", 0o1777, 0, nil},
		{"usr/", 0o755, 0, nil},
		{"usr/local/", 0o755, 0, nil},
		{"usr/local/bin/", 0o755, 0, nil},
		{binPath[1:], 0o755, 0, bin},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Uid: e.owner, Gid: e.owner,
			Size: int64(len(e.body)), ModTime: mtime, Format: tar.FormatPAX}
		if e.body == nil {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is missing: run goreleaser first (make release-container does)", path)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
