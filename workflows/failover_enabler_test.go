package workflows

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// moveEnv is a test environment with every activity of FailoverEnabler
// mocked to succeed; it records the activities in the order they ran.
type moveEnv struct {
	*testsuite.TestWorkflowEnvironment
	ran []string
}

func newMoveEnv(t *testing.T) *moveEnv {
	var s testsuite.WorkflowTestSuite
	env := &moveEnv{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment()}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		env.ran = append(env.ran, info.ActivityType.Name)
	})
	return env
}

// mockAll makes every activity succeed, except those already mocked.
func (env *moveEnv) mockAll() {
	env.OnActivity(enablers.SetEnablerStatus, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.Placement, mock.Anything, mock.Anything).Return(scheduler.Decision{Policy: scheduler.BestFit, ClusterID: "edge-1"}, nil).Maybe()
	env.OnActivity(enablers.Demand, mock.Anything, mock.Anything).Return(scheduler.Demand{}, nil).Maybe()
	env.OnActivity(enablers.MarkStale, mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.UnmarkStale, mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.PlaceAway, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.PutBack, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.PruneMirrorsHere, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.Install, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.WaitReady, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.ReleaseReservation, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.SyncGlobalServices, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.RemoveOldRelease, mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(enablers.Uninstall, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.OnActivity(health.WatchEnabler, mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()
}

func testMove(kind string) scheduler.Move {
	return scheduler.Move{Kind: kind, FromID: "edge-1-id", From: "edge-1", Reason: "test", At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// before reports whether a ran before b, both having run.
func before(ran []string, a, b string) bool {
	i, j := slices.Index(ran, a), slices.Index(ran, b)
	return i >= 0 && j >= 0 && i < j
}

func TestDrainIsMakeBeforeBreak(t *testing.T) {
	env := newMoveEnv(t)
	env.OnActivity(enablers.RemoveOldRelease, mock.Anything, "edge-1-id", "e1").Return(nil).Once()
	env.mockAll()
	env.ExecuteWorkflow(FailoverEnabler, "e1", testMove(scheduler.MoveDrain))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	for _, order := range [][2]string{
		{"MarkStale", "PlaceAway"}, {"PlaceAway", "Install"}, {"Install", "WaitReady"},
		{"WaitReady", "RemoveOldRelease"}, {"SyncGlobalServices", "RemoveOldRelease"}, {"RemoveOldRelease", "WatchEnabler"},
	} {
		if !before(env.ran, order[0], order[1]) {
			t.Errorf("%s did not run before %s: %v", order[0], order[1], env.ran)
		}
	}
	if slices.Contains(env.ran, "Uninstall") || slices.Contains(env.ran, "PutBack") {
		t.Errorf("a successful drain undid something: %v", env.ran)
	}
	env.AssertExpectations(t)
}

// A failover leaves the old release on the dead cluster: the cluster's
// health workflow removes it when the cluster answers again.
func TestFailoverLeavesTheOldReleaseToTheHealthWorkflow(t *testing.T) {
	env := newMoveEnv(t)
	env.OnActivity(enablers.SetEnablerStatus, mock.Anything, "e1", store.StatusEnabled, "").Return(nil).Once()
	env.mockAll()
	env.ExecuteWorkflow(FailoverEnabler, "e1", testMove(scheduler.MoveFailover))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(env.ran, "RemoveOldRelease") {
		t.Errorf("a failover touched the dead cluster's release: %v", env.ran)
	}
	env.AssertExpectations(t)
}

// No cluster fits: the placement waits, and tries again by itself once
// its retries are used up, until capacity appears.
func TestFailoverWaitsForCapacity(t *testing.T) {
	env := newMoveEnv(t)
	attempts := 0
	env.OnActivity(enablers.PlaceAway, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(context.Context, string, scheduler.Demand, scheduler.Move) error {
			attempts++
			if attempts <= int(placeCall.RetryPolicy.MaximumAttempts)+2 {
				return errors.New("no cluster fits")
			}
			return nil
		})
	env.mockAll()
	env.ExecuteWorkflow(FailoverEnabler, "e1", testMove(scheduler.MoveFailover))
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := int(placeCall.RetryPolicy.MaximumAttempts) + 3; attempts != want {
		t.Errorf("%d placement attempts, want %d", attempts, want)
	}
	if !slices.Contains(env.ran, "Install") {
		t.Errorf("never installed: %v", env.ran)
	}
}

// A step that fails for good undoes the move: the new release goes, the
// enabler is put back where it was, and it ends in Error.
func TestFailoverUndoneOnPermanentFailure(t *testing.T) {
	env := newMoveEnv(t)
	env.OnActivity(enablers.Install, mock.Anything, "e1").Return(temporal.NewNonRetryableApplicationError("chart refused", "Conflict", nil))
	env.OnActivity(enablers.SetEnablerStatus, mock.Anything, "e1", store.StatusError, mock.Anything).Return(nil).Once()
	env.OnActivity(enablers.PutBack, mock.Anything, "e1", scheduler.Decision{Policy: scheduler.BestFit, ClusterID: "edge-1"}, mock.Anything).Return(nil).Once()
	env.mockAll()
	env.ExecuteWorkflow(FailoverEnabler, "e1", testMove(scheduler.MoveFailover))
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("the workflow succeeded")
	}
	for _, order := range [][2]string{{"Install", "Uninstall"}, {"Uninstall", "PutBack"}, {"PutBack", "UnmarkStale"}} {
		if !before(env.ran, order[0], order[1]) {
			t.Errorf("%s did not run before %s: %v", order[0], order[1], env.ran)
		}
	}
	if slices.Contains(env.ran, "WaitReady") {
		t.Errorf("went on after the failure: %v", env.ran)
	}
	env.AssertExpectations(t)
}
