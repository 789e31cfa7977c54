package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/store"
)

// DeleteEnabler removes an enabler: its release, then its volumes when
// asked, then its record. (Volumes go after the release: a claim in use by
// a pod is not deleted until the pod is.) If a step fails for good or the
// operator aborts, the record stays, in Error, saying what may be left.
func DeleteEnabler(ctx workflow.Context, enablerID string, volumes bool) error {
	op, err := newOperation(ctx)
	if err != nil {
		return err
	}
	err = deleteEnabler(op, enablerID, volumes)
	if err != nil {
		_ = op.do("record the error", storeCall, nil, enablers.SetEnablerStatus, enablerID, store.StatusError,
			"delete failed, the record is kept and the release may still be installed: "+err.Error())
	}
	op.finish(err)
	return err
}

func deleteEnabler(op *operation, id string, volumes bool) error {
	if op.since(changeGlobalServices) {
		if err := op.do("remove the global service mirrors", clusterCall, nil, enablers.RemoveGlobalServices, id); err != nil {
			return err
		}
	}
	if err := op.do("uninstall the release", longClusterCall, nil, enablers.Uninstall, id); err != nil {
		return err
	}
	if volumes {
		if err := op.do("delete the volumes", longClusterCall, nil, enablers.CleanupVolumes, id); err != nil {
			return err
		}
	}
	if err := op.do("release the reserved capacity", storeCall, nil, enablers.ReleaseReservation, id); err != nil {
		return err
	}
	return op.do("delete the record", storeCall, nil, enablers.DeleteEnablerRecord, id)
}
