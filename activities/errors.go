package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// The types of the errors activities fail with for good (a retry cannot
// fix them), as Temporal records them.
const (
	// ErrorInvalid: the request is at fault (credentials, a chart, values,
	// a cluster's own configuration).
	ErrorInvalid = "Invalid"
	// ErrorConflict: another cluster, release or enabler is in the way.
	ErrorConflict = "Conflict"
	// ErrorNotFound: the release or revision to act on is not there.
	ErrorNotFound = "NotFound"
	// ErrorNoFit: no cluster has room for the enabler.
	ErrorNoFit = "NoFit"
	// ErrorNotReady is the type of WaitReady's error when the release was
	// not ready in time: waiting again would not help, so the retry policy
	// lists it as not retryable and the operator judges at once.
	ErrorNotReady = "NotReady"
)

// permanentError fails the workflow step without retries, with an error of
// errType (one of the types above).
func permanentError(errType, format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), errType, nil)
}

// heartbeat reports progress every few seconds until stop, so a worker that
// dies mid-activity is noticed by its heartbeat timeout, not its long
// start-to-close timeout.
func heartbeat(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return ctx, cancel
}
