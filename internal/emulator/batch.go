package emulator

import "net/http"

// serveBatch answers POST /batch/compute/v1 (multipart/mixed), which gcloud
// uses for some list and multi-resource commands.
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Code: http.StatusNotImplemented, Reason: "notImplemented", Message: "batch is not implemented yet"})
}
