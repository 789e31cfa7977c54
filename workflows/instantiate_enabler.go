package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// InstantiateEnabler places an enabler and installs its Helm release there.
// If a step fails for good, or the operator aborts, the release is
// uninstalled, the reserved capacity freed, and the enabler left in Error
// with the reason. It first waits for the enabler's record, which the API
// writes once the workflow has started.
func InstantiateEnabler(ctx workflow.Context, enablerID string) error {
	op, err := newOperation(ctx)
	if err != nil {
		return err
	}
	if op.since(changeRecordedFirst) && !op.recorded("wait for the request to be recorded", enablers.EnablerRecorded, enablerID) {
		op.finish(nil)
		return nil
	}
	err = instantiateEnabler(op, enablerID)
	if err != nil {
		op.compensate()
		_ = op.do("record the error", storeCall, nil, enablers.SetEnablerStatus, enablerID, store.StatusError, err.Error())
	}
	op.finish(err)
	return err
}

func instantiateEnabler(op *operation, id string) error {
	var demand scheduler.Demand
	if err := op.do("resolve the chart and compute its demand", clusterCall, &demand, enablers.Demand, id); err != nil {
		return err
	}
	op.undo("release the reserved capacity", storeCall, enablers.ReleaseReservation, id)
	if err := op.do("place the enabler and record the decision", placeCall, nil, enablers.Place, id, demand); err != nil {
		return err
	}
	op.undo("uninstall the release", longClusterCall, enablers.Uninstall, id)
	if err := op.do("install the release", longClusterCall, nil, enablers.Install, id); err != nil {
		return err
	}
	if err := op.do("wait until the release is ready", waitReady, nil, enablers.WaitReady, id); err != nil {
		return err
	}
	if err := op.do("release the reserved capacity", storeCall, nil, enablers.ReleaseReservation, id); err != nil {
		return err
	}
	if op.since(changeGlobalServices) {
		op.undo("remove the global service mirrors", clusterCall, enablers.RemoveGlobalServices, id)
		if err := op.do("mirror the global services", clusterCall, nil, enablers.SyncGlobalServices, id); err != nil {
			return err
		}
	}
	if err := op.do("enable the enabler", storeCall, nil, enablers.SetEnablerStatus, id, store.StatusEnabled, ""); err != nil {
		return err
	}
	if op.since(changeClusterHealth) {
		watchHealth(op, id)
	}
	return nil
}
