package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is a Compute Engine error response: what clients decode into
// googleapi.Error (Code, Message, Errors[0].Reason).
type apiError struct {
	Code    int
	Reason  string
	Message string
	// Domain is errors[0].domain: "global" when empty.
	Domain string
	// Status and Details, when set, are the envelope's status (the gRPC
	// code's name) and details, which newer Compute Engine errors carry.
	Status  string
	Details []any
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

func errNotFound(resourcePath string) *apiError {
	return &apiError{Code: http.StatusNotFound, Reason: "notFound",
		Message: fmt.Sprintf("The resource '%s' was not found", resourcePath)}
}

func errAlreadyExists(resourcePath string) *apiError {
	return &apiError{Code: http.StatusConflict, Reason: "alreadyExists",
		Message: fmt.Sprintf("The resource '%s' already exists", resourcePath)}
}

func errInvalid(format string, args ...any) *apiError {
	return &apiError{Code: http.StatusBadRequest, Reason: "invalid", Message: fmt.Sprintf(format, args...)}
}

func errBadRequest(format string, args ...any) *apiError {
	return &apiError{Code: http.StatusBadRequest, Reason: "badRequest", Message: fmt.Sprintf(format, args...)}
}

func errConditionNotMet(message string) *apiError {
	return &apiError{Code: http.StatusPreconditionFailed, Reason: "conditionNotMet", Message: message}
}

func errResourceNotReady(message string) *apiError {
	return &apiError{Code: http.StatusBadRequest, Reason: "resourceNotReady", Message: message}
}

// writeError writes err in Compute Engine's error envelope. Errors that are
// not *apiError become a 500 so that a bug never looks like a client mistake.
func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{Code: http.StatusInternalServerError, Reason: "backendError", Message: err.Error()}
	}
	domain := ae.Domain
	if domain == "" {
		domain = "global"
	}
	e := map[string]any{
		"code":    ae.Code,
		"message": ae.Message,
		"errors":  []map[string]any{{"message": ae.Message, "domain": domain, "reason": ae.Reason}},
	}
	if ae.Status != "" {
		e["status"] = ae.Status
	}
	if len(ae.Details) > 0 {
		e["details"] = ae.Details
	}
	body := map[string]any{"error": e}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(ae.Code)
	_ = json.NewEncoder(w).Encode(body)
}
