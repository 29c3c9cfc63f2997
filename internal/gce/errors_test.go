package gce

import (
	"errors"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/immutable-infra/packer-plugin-imagefamily/internal/emulator"
)

// Errors as the emulator returns them, through the real client.
func TestErrorsFromComputeEngineMapToKindsKeepingGooglesWords(t *testing.T) {
	tests := []struct {
		name    string
		faults  string
		call    func(t *testing.T, h *harness) error
		kind    error
		code    int
		reason  string
		message string
		res     string
	}{
		{name: "missing image", kind: ErrNotFound, code: 404, reason: "notFound",
			call:    func(t *testing.T, h *harness) error { _, err := h.c.GetImage(t.Context(), "acme", "nope"); return err },
			message: "The resource 'projects/acme/global/images/nope' was not found", res: "projects/acme/global/images/nope"},
		{name: "duplicate name", kind: ErrAlreadyExists, code: 409, reason: "alreadyExists",
			call: func(t *testing.T, h *harness) error {
				_, err := h.c.InsertImageFromImage(t.Context(), "acme", ImageSpec{Name: "web-v1", SourceImage: "web-v1"})
				return err
			},
			message: "The resource 'projects/acme/global/images/web-v1' already exists", res: "projects/acme/global/images/web-v1"},
		{name: "label with upper case", kind: ErrInvalid, code: 400, reason: "invalid",
			call: func(t *testing.T, h *harness) error {
				return h.c.setLabels(t.Context(), "acme", "web-v1", nil, func(map[string]string) (map[string]string, error) {
					return map[string]string{"Team": "web"}, nil
				})
			}, res: "projects/acme/global/images/web-v1"},
		{name: "bad list filter", kind: ErrInvalid, code: 400,
			call: func(t *testing.T, h *harness) error {
				_, err := h.c.ListImages(t.Context(), "acme", "name = (")
				return err
			},
			message: "Invalid list filter expression"},
		{name: "forbidden", faults: "images.get=403:1", kind: ErrPermissionDenied, code: 403,
			call: func(t *testing.T, h *harness) error {
				_, err := h.c.GetImage(t.Context(), "acme", "web-v1")
				return err
			},
			message: "Injected fault for images.get"},
		{name: "rate limited", faults: "images.getFromFamily=429:1", kind: ErrQuota, code: 429, reason: "rateLimitExceeded",
			call: func(t *testing.T, h *harness) error {
				_, err := h.c.GetFromFamily(t.Context(), "acme", "web")
				return err
			},
			message: "Injected fault for images.getFromFamily", res: "projects/acme/global/images/family/web"},
		{name: "stale fingerprint", kind: ErrFingerprintMismatch, code: 412, reason: "conditionNotMet",
			call: func(t *testing.T, h *harness) error {
				_, err := h.c.images.SetLabels(t.Context(), &computepb.SetLabelsImageRequest{Project: "acme", Resource: "web-v1",
					GlobalSetLabelsRequestResource: &computepb.GlobalSetLabelsRequest{LabelFingerprint: proto.String("c3RhbGU=")}})
				return mapError(err, "images.setLabels", "projects/acme/global/images/web-v1")
			},
			message: "Labels fingerprint either invalid or resource labels have changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := emulator.Options{}
			if tt.faults != "" {
				opts.Faults = faults(t, tt.faults)
			}
			h := newHarness(t, opts)
			h.putImage(t, "acme", "web-v1", "web", nil)
			err := tt.call(t, h)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if !errors.Is(err, tt.kind) || e.Code != tt.code {
				t.Errorf("%v: kind %v code %d, want %v %d", err, e.Kind, e.Code, tt.kind, tt.code)
			}
			if tt.reason != "" && e.Reason != tt.reason {
				t.Errorf("reason %q, want %q", e.Reason, tt.reason)
			}
			if !strings.Contains(e.Message, tt.message) || !strings.Contains(err.Error(), e.Message) {
				t.Errorf("message %q (error %q), want it to hold %q", e.Message, err, tt.message)
			}
			if tt.res != "" && e.Resource != tt.res {
				t.Errorf("resource %q, want %q", e.Resource, tt.res)
			}
			var ge *googleapi.Error
			if !errors.As(err, &ge) {
				t.Errorf("the client's *googleapi.Error is not reachable through %v", err)
			}
		})
	}
}

// The classification itself, for codes and reasons the emulator does not
// produce (quota, 401) and for operation error codes.
func TestKindsForCodesReasonsAndOperationCodes(t *testing.T) {
	tests := []struct {
		code   int
		reason string
		want   error
	}{
		{403, "quotaExceeded", ErrQuota},
		{403, "rateLimitExceeded", ErrQuota},
		{403, "forbidden", ErrPermissionDenied},
		{401, "authError", ErrPermissionDenied},
		{429, "rateLimitExceeded", ErrQuota},
		{409, "alreadyExists", ErrAlreadyExists},
		{409, "resourceInUseByAnotherResource", nil},
		{412, "conditionNotMet", ErrFingerprintMismatch},
		{400, "resourceNotReady", ErrInvalid},
		{404, "notFound", ErrNotFound},
		{503, "backendError", nil},
	}
	for _, tt := range tests {
		err := mapError(&googleapi.Error{Code: tt.code, Message: "Google says", Errors: []googleapi.ErrorItem{{Reason: tt.reason}}}, "images.get", "projects/p/global/images/i")
		var e *Error
		if !errors.As(err, &e) || e.Kind != tt.want || e.Message != "Google says" {
			t.Errorf("%d %s: %v (kind %v), want kind %v", tt.code, tt.reason, err, e.Kind, tt.want)
		}
	}
	ops := []struct {
		code   int32
		opCode string
		want   error
	}{
		{0, "RESOURCE_NOT_FOUND", ErrNotFound},
		{0, "QUOTA_EXCEEDED", ErrQuota},
		{403, "QUOTA_EXCEEDED", ErrQuota},
		{409, "ALREADY_EXISTS", ErrAlreadyExists},
		{400, "INVALID_FIELD_VALUE", ErrInvalid},
		{500, "INTERNAL_ERROR", nil},
	}
	for _, tt := range ops {
		op := &computepb.Operation{Name: proto.String("operation-1"), Error: &computepb.Error{Errors: []*computepb.Errors{{Code: proto.String(tt.opCode), Message: proto.String("why")}}}}
		if tt.code != 0 {
			op.HttpErrorStatusCode = proto.Int32(tt.code)
		}
		err := operationError(op, "images.insert", "projects/p/global/images/i")
		var e *Error
		if !errors.As(err, &e) || e.Kind != tt.want || !errors.Is(err, ErrOperationFailed) || e.Message != "why" {
			t.Errorf("operation %d %s: %v (kind %v), want %v", tt.code, tt.opCode, err, e.Kind, tt.want)
		}
	}
	if err := operationError(&computepb.Operation{Status: computepb.Operation_DONE.Enum()}, "m", "r"); err != nil {
		t.Errorf("a clean operation gave %v", err)
	}
}
