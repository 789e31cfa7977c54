package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// placeRetryEvery is how often a move that found no cluster that fits
// tries again by itself (capacity may appear), besides the operator's retry.
const placeRetryEvery = time.Minute

// FailoverEnabler moves an enabler off a cluster: a dead one whose grace
// has passed (a failover) or one being drained. It re-places the enabler
// with its own policy, excluding that cluster, and installs it there; the
// old release goes only once the new one is ready (make-before-break): a
// drain uninstalls it then, a failover leaves it to the cluster's health
// workflow, which uninstalls it when the cluster answers again. If a step
// fails for good, or the operator aborts, the new release is uninstalled
// and the enabler stays where it was, in Error with the reason.
func FailoverEnabler(ctx workflow.Context, enablerID string, move scheduler.Move) error {
	op, err := newOperation(ctx)
	if err != nil {
		return err
	}
	err = moveEnabler(op, enablerID, move)
	if err != nil {
		op.compensate()
		_ = op.do("record the error", storeCall, nil, enablers.SetEnablerStatus, enablerID, store.StatusError, err.Error())
	}
	op.finish(err)
	return err
}

func moveEnabler(op *operation, id string, move scheduler.Move) error {
	if err := op.do("mark the enabler moving", storeCall, nil, enablers.SetEnablerStatus, id, store.StatusMoving, move.Kind+" from "+move.From+": "+move.Reason); err != nil {
		return err
	}
	var previous scheduler.Decision
	if err := op.do("read where the enabler is placed", storeCall, &previous, enablers.Placement, id); err != nil {
		return err
	}
	var demand scheduler.Demand
	if err := op.do("resolve the chart and compute its demand", clusterCall, &demand, enablers.Demand, id); err != nil {
		return err
	}
	op.undo("forget the release on "+move.From, storeCall, enablers.UnmarkStale, move.FromID, id)
	if err := op.do("remember the release on "+move.From+" as stale", storeCall, nil, enablers.MarkStale, move.FromID, id); err != nil {
		return err
	}
	op.undo("release the reserved capacity", storeCall, enablers.ReleaseReservation, id)
	op.undo("put the enabler back on "+move.From, storeCall, enablers.PutBack, id, previous, move)
	if err := op.doRetrying("place the enabler elsewhere and record the decision", placeRetryEvery, placeCall, nil, enablers.PlaceAway, id, demand, move); err != nil {
		return err
	}
	op.undo("uninstall the new release", longClusterCall, enablers.Uninstall, id)
	if err := op.do("remove its global service mirrors from the new cluster", clusterCall, nil, enablers.PruneMirrorsHere, id); err != nil {
		return err
	}
	if err := op.do("install the release", longClusterCall, nil, enablers.Install, id); err != nil {
		return err
	}
	if err := op.do("wait until the release is ready", waitReady, nil, enablers.WaitReady, id); err != nil {
		return err
	}
	if err := op.do("release the reserved capacity", storeCall, nil, enablers.ReleaseReservation, id); err != nil {
		return err
	}
	if err := op.do("mirror the global services", clusterCall, nil, enablers.SyncGlobalServices, id); err != nil {
		return err
	}
	if move.Kind == scheduler.MoveDrain {
		if err := op.do("uninstall the old release on "+move.From, longClusterCall, nil, enablers.RemoveOldRelease, move.FromID, id); err != nil {
			return err
		}
	}
	if err := op.do("enable the enabler", storeCall, nil, enablers.SetEnablerStatus, id, store.StatusEnabled, ""); err != nil {
		return err
	}
	watchHealth(op, id)
	return nil
}

// watchHealth starts the health workflow of the enabler's cluster if the
// enabler fails over. The enabler is installed already: an error here is
// logged, not undone.
func watchHealth(op *operation, id string) {
	if err := op.do("watch the cluster's health if the enabler fails over", probeCall, nil, health.WatchEnabler, healthWorkflow, id); err != nil {
		workflow.GetLogger(op.ctx).Error("cluster health not watched", "enabler", id, "err", err)
	}
}
