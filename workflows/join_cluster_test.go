package workflows_test

import (
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// The steps of a join before anything is changed: the wait for the
// record, then the checks.
const recorded = "wait for the request to be recorded"

var joinChecks = []string{
	recorded,
	"reach the API server",
	"check the nodes are Ready",
	"check for a default StorageClass",
	"check the pod CIDRs",
}

func TestJoinCluster(t *testing.T) {
	steps := func(more ...string) []string {
		return append(append(joinChecks[:len(joinChecks):len(joinChecks)], "register the metrics target", "detect Cilium ClusterMesh"), more...)
	}
	meshSteps := []string{
		"allocate a ClusterMesh id",
		"set the Cilium cluster name and id",
		"connect the mesh peers and restart their agents",
	}

	t.Run("the record comes late: the join waits for it, then runs", func(t *testing.T) {
		r := newRun(t)
		r.fails("ClusterRecorded", store.ErrNotFound)
		r.env.RegisterDelayedCallback(func() { r.fails("ClusterRecorded", nil) }, 20*time.Second)
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateCompleted, "", steps("enable the cluster")...)
		if n := len(r.callsOf("ClusterRecorded")); n < 2 {
			t.Errorf("ClusterRecorded ran %d times, want it retried until the record came", n)
		}
	})

	t.Run("never recorded: ends, having done nothing", func(t *testing.T) {
		r := newRun(t)
		r.fails("ClusterRecorded", store.ErrNotFound)
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateCompleted, "")
		r.doneNothingBut("ClusterRecorded", 30*time.Second)
	})

	t.Run("without a mesh", func(t *testing.T) {
		r := newRun(t)
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateCompleted, "", steps("enable the cluster")...)
		r.lastCall("SetStatus", "c1", store.StatusEnabled, "")
	})

	t.Run("with a mesh", func(t *testing.T) {
		r := newRun(t)
		r.returns("DetectMesh", true)
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateCompleted, "", steps(append(meshSteps, "mirror the global services into the cluster", "enable the cluster")...)...)
	})

	t.Run("with a mesh, started before global services", func(t *testing.T) {
		r := newRun(t)
		r.env.OnGetVersion("global-services", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		r.returns("DetectMesh", true)
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateCompleted, "", steps(append(meshSteps, "enable the cluster")...)...)
	})

	t.Run("a permanent error in the checks changes nothing and records the error", func(t *testing.T) {
		r := newRun(t)
		r.fails("CheckPodCIDRs", errConflict)
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateFailed, "check the pod CIDRs: pod CIDR overlaps", append(joinChecks[:4:4], "record the error")...)
		if n := len(r.callsOf("CheckPodCIDRs")); n != 1 {
			t.Errorf("CheckPodCIDRs ran %d times, want once: a permanent error is not retried", n)
		}
		r.lastCall("SetStatus", "c1", store.StatusError, "check the pod CIDRs: pod CIDR overlaps")
	})

	t.Run("a permanent error undoes at once, newest first, then records the error", func(t *testing.T) {
		r := newRun(t)
		r.returns("DetectMesh", true)
		r.fails("ConnectMesh", errConflict)
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateFailed, "connect the mesh peers and restart their agents: pod CIDR overlaps", steps(
			"allocate a ClusterMesh id",
			"set the Cilium cluster name and id",
			// The step that failed is undone too: it may have connected some peers.
			"disconnect the mesh peers",
			"restore the Cilium cluster name and id",
			"release the ClusterMesh id",
			"unregister the metrics target",
			"record the error",
		)...)
		r.lastCall("SetStatus", "c1", store.StatusError, "connect the mesh peers and restart their agents: pod CIDR overlaps")
	})

	t.Run("retries exhausted wait for the operator; retry runs the step again", func(t *testing.T) {
		r := newRun(t)
		r.fails("RegisterMetrics", errUnreachable)
		r.onceWaiting("register the metrics target", func() {
			r.fails("RegisterMetrics", nil)
			r.retry()
		})
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateCompleted, "", steps("enable the cluster")...)
		if n := len(r.callsOf("RegisterMetrics")); n != 6+1 {
			t.Errorf("RegisterMetrics ran %d times, want 6 attempts, then 1 after the retry", n)
		}
	})

	t.Run("abort undoes what was done and records the error", func(t *testing.T) {
		r := newRun(t)
		r.fails("RegisterMetrics", errUnreachable)
		r.onceWaiting("register the metrics target", r.abort)
		r.env.ExecuteWorkflow(workflows.JoinCluster, "c1")
		r.ends(workflows.StateFailed, "aborted by the operator", append(joinChecks, "unregister the metrics target", "record the error")...)
		r.lastCall("SetStatus", "c1", store.StatusError, "register the metrics target: aborted by the operator after: connection refused")
	})
}
