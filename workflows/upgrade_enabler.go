package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/store"
)

// UpgradeEnabler upgrades the release to the version and values the API
// put in the record (keeping the previous ones there). If the upgrade fails
// for good, or the operator aborts, the release is rolled back and the
// record restored: the enabler stays Enabled on its old revision, with the
// reason; only if that rollback fails too is it left in Error.
func UpgradeEnabler(ctx workflow.Context, enablerID string) error {
	op, err := newOperation(ctx)
	if err != nil {
		return err
	}
	err = upgradeEnabler(op, enablerID)
	if err != nil {
		status := store.StatusEnabled
		if !op.compensate() {
			status = store.StatusError
		}
		_ = op.do("record the error", storeCall, nil, enablers.SetEnablerStatus, enablerID, status, "upgrade failed and was rolled back: "+err.Error())
	}
	op.finish(err)
	return err
}

func upgradeEnabler(op *operation, id string) error {
	var revision int
	if err := op.do("read the deployed revision", clusterCall, &revision, enablers.CurrentRevision, id); err != nil {
		return err
	}
	mirrors := op.since(changeGlobalServices)
	if mirrors {
		// Runs after the rollback: the mirrors follow the revision restored.
		op.undo("mirror the global services of the restored revision", clusterCall, enablers.SyncGlobalServices, id)
	}
	op.undo("roll back to the previous revision", longClusterCall, enablers.RevertUpgrade, id, revision)
	if err := op.do("upgrade the release", longClusterCall, nil, enablers.Upgrade, id); err != nil {
		return err
	}
	if err := op.do("wait until the release is ready", waitReady, nil, enablers.WaitReady, id); err != nil {
		return err
	}
	if mirrors {
		if err := op.do("mirror the global services", clusterCall, nil, enablers.SyncGlobalServices, id); err != nil {
			return err
		}
	}
	return op.do("mark the enabler Enabled", storeCall, nil, enablers.SetEnablerStatus, id, store.StatusEnabled, "")
}
