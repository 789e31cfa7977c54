package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// probes answers the probes of a test in turn; the last one repeats.
func probes(env *testsuite.TestWorkflowEnvironment, answers ...func(now time.Time) activities.Probe) *int {
	n := 0
	env.OnActivity(health.ProbeCluster, mock.Anything, "c1").Return(func(context.Context, string) (activities.Probe, error) {
		p := answers[min(n, len(answers)-1)](env.Now())
		n++
		return p, nil
	})
	return &n
}

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func healthEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	return env
}

func unreachable(grace time.Duration) func(time.Time) activities.Probe {
	return func(time.Time) activities.Probe {
		return activities.Probe{Cluster: "edge-1", State: store.HealthUnreachable, Since: start, Reason: "connection refused", Watched: true, Interval: 10 * time.Second,
			Failover: []activities.FailoverCandidate{{EnablerID: "e1", Name: "web", Grace: grace}}}
	}
}

func ready(watched, recover bool) func(time.Time) activities.Probe {
	return func(time.Time) activities.Probe {
		return activities.Probe{Cluster: "edge-1", State: store.HealthReady, Watched: watched, Recover: recover, Interval: 10 * time.Second}
	}
}

func TestHealthStopsWhenNothingIsWatched(t *testing.T) {
	env := healthEnv()
	n := probes(env, ready(false, false))
	env.ExecuteWorkflow(ClusterHealth, "c1")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if *n != 1 {
		t.Errorf("%d probes, want 1", *n)
	}
}

// Unreachable past the grace: one failover starts, at the end of the
// grace; when the cluster answers again its stale releases are removed.
func TestHealthFailsOverAfterTheGraceAndCleansUp(t *testing.T) {
	env := healthEnv()
	const grace = 25 * time.Second
	var startedAt time.Time
	var moved scheduler.Move
	env.OnActivity(health.StartMove, mock.Anything, activities.Start{ID: "enabler-failover-e1", Workflow: "FailoverEnabler"}, "e1", mock.Anything).Return(
		func(_ context.Context, _ activities.Start, _ string, m scheduler.Move) (bool, error) {
			startedAt, moved = env.Now(), m
			return true, nil
		}).Once()
	env.OnActivity(health.RemoveStaleReleases, mock.Anything, "c1").Return(nil).Once()
	env.OnActivity(enablers.MirrorGlobalServicesInto, mock.Anything, "c1").Return(nil).Once()
	down := unreachable(grace)
	probes(env, down, down, down, down, down, ready(true, true), ready(false, false))
	env.ExecuteWorkflow(ClusterHealth, "c1")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if d := startedAt.Sub(start); d < grace || d > grace+time.Second {
		t.Errorf("failover started %v after the outage began, want at the grace (%v)", d, grace)
	}
	if moved.Kind != scheduler.MoveFailover || moved.FromID != "c1" || moved.From != "edge-1" {
		t.Errorf("move = %+v", moved)
	}
	env.AssertExpectations(t)
}

// Back inside the grace: nothing moves.
func TestHealthReturnInsideTheGraceMovesNothing(t *testing.T) {
	env := healthEnv()
	down := unreachable(time.Minute)
	env.OnActivity(enablers.MirrorGlobalServicesInto, mock.Anything, "c1").Return(nil)
	env.OnActivity(health.RemoveStaleReleases, mock.Anything, "c1").Return(nil)
	probes(env, down, down, ready(true, true), ready(false, false))
	env.ExecuteWorkflow(ClusterHealth, "c1")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	env.AssertNotCalled(t, "StartMove", mock.Anything, mock.Anything, mock.Anything, mock.Anything)
}

// A failover that could not start (another operation runs) is tried again
// at the next probe.
func TestHealthRetriesAFailoverThatDidNotStart(t *testing.T) {
	env := healthEnv()
	calls := 0
	env.OnActivity(health.StartMove, mock.Anything, mock.Anything, "e1", mock.Anything).Return(
		func(context.Context, activities.Start, string, scheduler.Move) (bool, error) {
			calls++
			if calls == 1 {
				return false, errors.New("temporal unavailable")
			}
			return calls == 3, nil
		})
	down := unreachable(0)
	probes(env, down, down, down, down, down, ready(false, false))
	env.ExecuteWorkflow(ClusterHealth, "c1")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("StartMove called %d times, want 3 (until it started)", calls)
	}
}

// A cluster watched for long continues as new, bounding its history.
func TestHealthContinuesAsNew(t *testing.T) {
	env := healthEnv()
	n := probes(env, ready(true, false))
	env.ExecuteWorkflow(ClusterHealth, "c1")
	var cont *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &cont) {
		t.Fatalf("error %v, want continue-as-new", err)
	}
	if *n != probesPerRun {
		t.Errorf("%d probes in the run, want %d", *n, probesPerRun)
	}
}
