package emulator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Batch limits: gcloud sends at most 1000 calls per batch (its
// _BATCH_SIZE_LIMIT), each a small JSON request.
const (
	maxBatchParts = 1000
	maxBatchBody  = 32 << 20
)

// serveBatch answers POST /batch/compute/v1 (multipart/mixed), which gcloud
// uses for some list and multi-resource commands. Each part is an embedded
// HTTP request ("GET /compute/v1/... HTTP/1.1", headers, optional body); it
// is dispatched through the server's own routes, one after the other, so
// that latency and fault injection apply per call exactly as they would
// outside a batch (an injected "reset" drops the whole batch connection, as a
// reset would). The answer has one application/http part per call, in order,
// each with Content-ID "<response-ID>" for the request's "<ID>".
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{Code: http.StatusMethodNotAllowed, Reason: "httpMethodNotAllowed",
			Message: "HTTP method " + r.Method + " is not supported by this URL"})
		return
	}
	parts, err := readBatch(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var out bytes.Buffer
	mw := multipart.NewWriter(&out)
	for _, part := range parts {
		rec := newBufferedResponse()
		if part.err != nil {
			writeError(rec, part.err)
		} else {
			inner := part.req.WithContext(r.Context())
			inner.RemoteAddr = r.RemoteAddr
			s.ServeHTTP(rec, inner)
		}
		header := textproto.MIMEHeader{}
		header.Set("Content-Type", "application/http")
		if part.contentID != "" {
			header.Set("Content-ID", "<response-"+part.contentID+">")
		}
		pw, err := mw.CreatePart(header)
		if err != nil {
			writeError(w, err)
			return
		}
		_ = rec.writeTo(pw)
	}
	if err := mw.Close(); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}

// batchPart is one call of a batch: the embedded request, or the error that
// makes it unusable (answered in its own part, as Google's batch endpoint
// does for a part it cannot parse).
type batchPart struct {
	contentID string
	req       *http.Request
	err       error
}

func readBatch(r *http.Request) ([]batchPart, error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.EqualFold(mediaType, "multipart/mixed") || params["boundary"] == "" {
		return nil, errBadRequest("A batch request must have Content-Type multipart/mixed with a boundary, got %q", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBatchBody+1))
	if err != nil {
		return nil, errBadRequest("Could not read the batch request body: %v", err)
	}
	if len(body) > maxBatchBody {
		return nil, &apiError{Code: http.StatusRequestEntityTooLarge, Reason: "badRequest",
			Message: fmt.Sprintf("Batch request body too large (limit %d bytes)", maxBatchBody)}
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var parts []batchPart
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errBadRequest("Malformed multipart/mixed batch body: %v", err)
		}
		if len(parts) == maxBatchParts {
			return nil, errBadRequest("A batch request may contain at most %d calls", maxBatchParts)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			return nil, errBadRequest("Malformed multipart/mixed batch body: %v", err)
		}
		part := batchPart{contentID: strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p.Header.Get("Content-ID")), "<"), ">")}
		part.req, part.err = parseEmbeddedRequest(raw)
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return nil, errBadRequest("A batch request must contain at least one call")
	}
	return parts, nil
}

// parseEmbeddedRequest reads "METHOD /compute/v1/... HTTP/1.1", headers and
// an optional body. Clients differ in line endings (gcloud's apitools writes
// bare LF) and in whether they send Content-Length, so the body is what
// follows the blank line, cut to Content-Length when one is given.
func parseEmbeddedRequest(raw []byte) (*http.Request, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, errBadRequest("Batch part has no request line")
	}
	method, rest, ok1 := strings.Cut(strings.TrimSpace(line), " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || !strings.HasPrefix(proto, "HTTP/") || !strings.HasPrefix(target, "/") {
		return nil, errBadRequest("Batch part request line %q is not METHOD /PATH HTTP/1.1", line)
	}
	header, err := tp.ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, errBadRequest("Batch part %s %s has malformed headers: %v", method, target, err)
	}
	body, _ := io.ReadAll(br)
	if cl := header.Get("Content-Length"); cl != "" {
		if n, err := strconv.Atoi(cl); err == nil && n >= 0 && n <= len(body) {
			body = body[:n]
		}
	} else {
		body = bytes.TrimRight(body, "\r\n")
	}
	if strings.HasPrefix(target, "/batch") {
		return nil, errBadRequest("Batch requests cannot be nested")
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		return nil, errBadRequest("Batch part %s %s: %v", method, target, err)
	}
	req.Header = http.Header(header)
	req.Host = header.Get("Host")
	req.ContentLength = int64(len(body))
	req.RequestURI = target
	return req, nil
}

// bufferedResponse records an embedded call's response so it can be written
// into its part, and the answer ServeHTTP asks the mux for without sending
// it. It deliberately does not implement http.Hijacker: an injected
// connection reset then aborts the whole batch (see serveBatch).
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// writeTo writes the response in application/http form.
func (b *bufferedResponse) writeTo(w io.Writer) error {
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	b.header.Set("Content-Length", strconv.Itoa(b.body.Len()))
	if err := b.header.Write(&hdr); err != nil {
		return err
	}
	hdr.WriteString("\r\n")
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	_, err := w.Write(b.body.Bytes())
	return err
}
