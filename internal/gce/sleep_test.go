package gce

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleepWaitsOrEndsWithItsContext(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func() context.Context
		d       time.Duration
		wantErr error
	}{
		{"a short wait ends by itself", context.Background, time.Millisecond, nil},
		{"a cancelled context ends a long wait at once", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, time.Hour, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := Sleep(tt.ctx(), tt.d)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Sleep = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && time.Since(start) > time.Minute {
				t.Errorf("Sleep took %v after its context ended", time.Since(start))
			}
		})
	}
}
