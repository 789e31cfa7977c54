package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/store"
)

// TerminateEnabler uninstalls the enabler's release and keeps its record,
// Terminated, so it can be instantiated again.
func TerminateEnabler(ctx workflow.Context, enablerID string) error {
	op, err := newOperation(ctx)
	if err != nil {
		return err
	}
	err = terminateEnabler(op, enablerID)
	if err != nil {
		_ = op.do("record the error", storeCall, nil, enablers.SetEnablerStatus, enablerID, store.StatusError,
			"terminate failed, the release may still be installed: "+err.Error())
	}
	op.finish(err)
	return err
}

func terminateEnabler(op *operation, id string) error {
	if op.since(changeGlobalServices) {
		if err := op.do("remove the global service mirrors", clusterCall, nil, enablers.RemoveGlobalServices, id); err != nil {
			return err
		}
	}
	if err := op.do("uninstall the release", longClusterCall, nil, enablers.Uninstall, id); err != nil {
		return err
	}
	if err := op.do("release the reserved capacity", storeCall, nil, enablers.ReleaseReservation, id); err != nil {
		return err
	}
	return op.do("mark the enabler Terminated", storeCall, nil, enablers.SetEnablerStatus, id, store.StatusTerminated, "")
}
