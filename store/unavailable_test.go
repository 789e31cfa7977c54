package store

import (
	"context"
	"fmt"
	"testing"
)

func TestUnavailable(t *testing.T) {
	for err, want := range map[error]bool{
		context.DeadlineExceeded:                         true,
		fmt.Errorf("find: %w", context.DeadlineExceeded): true,
		ErrNotFound:                            false,
		fmt.Errorf("enablers x: %w", ErrStale): false,
		context.Canceled:                       false,
	} {
		if got := Unavailable(err); got != want {
			t.Errorf("Unavailable(%v) = %v, want %v", err, got, want)
		}
	}
}
