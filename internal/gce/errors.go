package gce

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
)

// The kinds of failure callers act on. Test with errors.Is; the *Error that
// carries them keeps Compute Engine's own message for the user.
var (
	ErrNotFound            = errors.New("not found")
	ErrAlreadyExists       = errors.New("already exists")
	ErrFingerprintMismatch = errors.New("fingerprint mismatch (changed concurrently)")
	ErrInvalid             = errors.New("invalid request")
	ErrPermissionDenied    = errors.New("permission denied")
	ErrQuota               = errors.New("quota or rate limit exceeded")
	// ErrOperationFailed marks a mutation that Compute Engine accepted and
	// whose operation then ended in error.
	ErrOperationFailed = errors.New("operation failed")
)

// Error is a failed Compute Engine call.
type Error struct {
	// Kind is one of the Err* values above, or nil when none applies.
	Kind error
	// Method is the API method, e.g. "images.setLabels".
	Method string
	// Resource is what the call concerned, e.g. "projects/p/global/images/x".
	Resource string
	// Code is the HTTP status (0 for a transport failure).
	Code int
	// Reason is Google's reason, e.g. "conditionNotMet" (or an operation
	// error code such as "RESOURCE_NOT_FOUND").
	Reason string
	// Message is Google's message, verbatim.
	Message string
	// Operation names the operation when the failure came from one.
	Operation string
	// Attempts is how many times the call was sent (1 unless retried).
	Attempts int
	// Err is the underlying error (an *apierror.APIError, a transport error).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Method)
	if e.Resource != "" {
		b.WriteString(" " + e.Resource)
	}
	b.WriteString(": ")
	if e.Operation != "" {
		b.WriteString("operation " + e.Operation + " failed: ")
	}
	if e.Message != "" {
		b.WriteString(e.Message)
	} else if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	}
	var tags []string
	if e.Code != 0 {
		tags = append(tags, fmt.Sprint(e.Code))
	}
	if e.Reason != "" {
		tags = append(tags, e.Reason)
	}
	if len(tags) > 0 {
		b.WriteString(" (" + strings.Join(tags, " ") + ")")
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) and friends work.
func (e *Error) Is(target error) bool {
	return target != nil && (target == e.Kind || (target == ErrOperationFailed && e.Operation != ""))
}

func (e *Error) Unwrap() error { return e.Err }

// mapError wraps err from a call to method on resource as an *Error (an
// error already mapped passes through). Context and transport errors stay
// reachable through Unwrap.
func mapError(err error, method, resource string) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	out := &Error{Method: method, Resource: resource, Err: err, Attempts: 1}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		out.Code = ge.Code
		out.Message = ge.Message
		if len(ge.Errors) > 0 {
			out.Reason = ge.Errors[0].Reason
			if out.Message == "" {
				out.Message = ge.Errors[0].Message
			}
		}
		out.Kind = kindOf(out.Code, out.Reason)
	}
	return out
}

// kindOf classifies an HTTP status and Google reason.
func kindOf(code int, reason string) error {
	switch code {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		if reason == "" || reason == "alreadyExists" {
			return ErrAlreadyExists
		}
	case http.StatusPreconditionFailed:
		return ErrFingerprintMismatch
	case http.StatusBadRequest:
		return ErrInvalid
	case http.StatusTooManyRequests:
		return ErrQuota
	case http.StatusUnauthorized:
		return ErrPermissionDenied
	case http.StatusForbidden:
		if isRateOrQuotaReason(reason) {
			return ErrQuota
		}
		return ErrPermissionDenied
	}
	return nil
}

func isRateOrQuotaReason(reason string) bool {
	switch reason {
	case "quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded":
		return true
	}
	return false
}

// operationError builds the error of an operation that finished with one.
// httpErrorStatusCode may be missing (then Wait reports success), so the
// error list is the authority; the status code only sharpens the kind.
func operationError(op *computepb.Operation, method, resource string) error {
	errs := op.GetError().GetErrors()
	code := int(op.GetHttpErrorStatusCode())
	if len(errs) == 0 && (code == 0 || (code >= 200 && code < 300)) {
		return nil
	}
	out := &Error{Method: method, Resource: resource, Code: code, Operation: op.GetName(), Attempts: 1}
	var msgs []string
	for _, e := range errs {
		if e.GetMessage() != "" {
			msgs = append(msgs, e.GetMessage())
		}
		if out.Reason == "" {
			out.Reason = e.GetCode()
		}
	}
	out.Message = strings.Join(msgs, "; ")
	if out.Message == "" {
		out.Message = op.GetHttpErrorMessage()
	}
	out.Kind = kindOf(code, "")
	if out.Kind == nil || code == http.StatusForbidden || code == http.StatusConflict {
		if k := kindOfOperationCode(out.Reason); k != nil {
			out.Kind = k
		}
	}
	return out
}

// kindOfOperationCode classifies an operation error code (RESOURCE_NOT_FOUND,
// ALREADY_EXISTS, QUOTA_EXCEEDED, ...). Spellings vary, so compare loosely.
func kindOfOperationCode(code string) error {
	c := strings.ReplaceAll(strings.ToUpper(code), "_", "")
	switch {
	case strings.Contains(c, "NOTFOUND"):
		return ErrNotFound
	case strings.Contains(c, "ALREADYEXISTS"):
		return ErrAlreadyExists
	case strings.Contains(c, "QUOTA") || strings.Contains(c, "RATELIMIT"):
		return ErrQuota
	case strings.Contains(c, "CONDITIONNOTMET") || strings.Contains(c, "FINGERPRINT"):
		return ErrFingerprintMismatch
	case strings.Contains(c, "PERMISSION") || strings.Contains(c, "FORBIDDEN"):
		return ErrPermissionDenied
	case strings.Contains(c, "INVALID") || strings.Contains(c, "BADREQUEST"):
		return ErrInvalid
	}
	return nil
}
