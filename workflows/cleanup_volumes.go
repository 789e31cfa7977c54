package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/store"
)

// CleanupVolumes deletes the persistent volume claims of the enabler's
// release and the volumes they leave behind, and returns what it deleted.
func CleanupVolumes(ctx workflow.Context, enablerID string) ([]store.Volume, error) {
	op, err := newOperation(ctx)
	if err != nil {
		return nil, err
	}
	var deleted []store.Volume
	err = op.do("delete the volumes", longClusterCall, &deleted, enablers.CleanupVolumes, enablerID)
	op.finish(err)
	return deleted, err
}
