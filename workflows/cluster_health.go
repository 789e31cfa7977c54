package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// SignalCheck asks a cluster's health workflow to probe now.
const SignalCheck = "check"

// probesPerRun bounds a run's history: then it continues as new.
const probesPerRun = 100

var health *activities.Health

// healthWorkflow is how activities start a cluster's health workflow: the
// id's prefix (the cluster id completes it) and the workflow's name.
var healthWorkflow = activities.Start{ID: OpClusterHealth, Workflow: "ClusterHealth"}

// ClusterHealth probes a cluster while it hosts an enabler with failover
// enabled or stale releases, and once when started by a check. Each probe
// records the cluster's health. While the cluster is Unreachable, every
// enabler with failover enabled whose grace has passed is moved off it
// (FailoverEnabler, one workflow each). When it answers again, the
// releases those moves left there are uninstalled and its global service
// mirrors synced.
func ClusterHealth(ctx workflow.Context, clusterID string) error {
	logger := workflow.GetLogger(ctx)
	check := workflow.GetSignalChannel(ctx, SignalCheck)
	started := map[string]bool{}
	ctx = workflow.WithActivityOptions(ctx, probeCall)
	for range probesPerRun {
		var p activities.Probe
		if err := workflow.ExecuteActivity(ctx, health.ProbeCluster, clusterID).Get(ctx, &p); err != nil {
			logger.Warn("probe failed; trying again later", "cluster", clusterID, "err", err)
			p = activities.Probe{Watched: true, Interval: time.Minute}
		}
		for check.ReceiveAsync(nil) {
			// answered by this probe
		}
		if p.Recover {
			recoverCluster(ctx, clusterID)
		}
		next := p.Interval
		if p.State == store.HealthUnreachable {
			next = failOver(ctx, clusterID, p, started)
		}
		if !p.Watched {
			return nil
		}
		timerCtx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(timerCtx, max(next, time.Second)), func(workflow.Future) {})
		sel.AddReceive(check, func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		cancel()
	}
	return workflow.NewContinueAsNewError(ctx, ClusterHealth, clusterID)
}

// recoverCluster removes the stale releases of a cluster that answers
// again and gives it the mirrors it missed; what fails is tried again at
// the next probe.
func recoverCluster(ctx workflow.Context, clusterID string) {
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, longClusterCall), health.RemoveStaleReleases, clusterID).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("stale releases not removed yet", "cluster", clusterID, "err", err)
	}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, clusterCall), enablers.MirrorGlobalServicesInto, clusterID).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("mirrors not synced yet", "cluster", clusterID, "err", err)
	}
}

// failOver starts the moves whose grace has passed and returns how long
// until the next probe: at most until the next grace ends.
func failOver(ctx workflow.Context, clusterID string, p activities.Probe, started map[string]bool) time.Duration {
	next := p.Interval
	down := workflow.Now(ctx).Sub(p.Since)
	for _, c := range p.Failover {
		if started[c.EnablerID] {
			continue
		}
		if left := c.Grace - down; left > 0 {
			next = min(next, left)
			continue
		}
		move := scheduler.Move{Kind: scheduler.MoveFailover, FromID: clusterID, From: p.Cluster, At: workflow.Now(ctx).UTC(),
			Reason: "Unreachable since " + p.Since.UTC().Format(time.RFC3339) + ", longer than the grace of " + c.Grace.String() + ": " + p.Reason}
		s := activities.Start{ID: WorkflowID(OpFailover, c.EnablerID), Workflow: "FailoverEnabler"}
		var ok bool
		if err := workflow.ExecuteActivity(ctx, health.StartMove, s, c.EnablerID, move).Get(ctx, &ok); err != nil {
			workflow.GetLogger(ctx).Warn("failover not started; trying again at the next probe", "enabler", c.Name, "err", err)
		}
		started[c.EnablerID] = ok
	}
	return next
}
