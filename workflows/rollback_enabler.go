package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/store"
)

// RollbackEnabler rolls the release back to a revision (0: the previous
// one) and records the version and values now deployed.
func RollbackEnabler(ctx workflow.Context, enablerID string, revision int) error {
	op, err := newOperation(ctx)
	if err != nil {
		return err
	}
	err = rollbackEnabler(op, enablerID, revision)
	if err != nil {
		_ = op.do("record the error", storeCall, nil, enablers.SetEnablerStatus, enablerID, store.StatusError, "rollback failed: "+err.Error())
	}
	op.finish(err)
	return err
}

func rollbackEnabler(op *operation, id string, revision int) error {
	if err := op.do("roll back the release", longClusterCall, nil, enablers.Rollback, id, revision); err != nil {
		return err
	}
	if err := op.do("wait until the release is ready", waitReady, nil, enablers.WaitReady, id); err != nil {
		return err
	}
	if op.since(changeGlobalServices) {
		if err := op.do("mirror the global services", clusterCall, nil, enablers.SyncGlobalServices, id); err != nil {
			return err
		}
	}
	return op.do("mark the enabler Enabled", storeCall, nil, enablers.SetEnablerStatus, id, store.StatusEnabled, "")
}
