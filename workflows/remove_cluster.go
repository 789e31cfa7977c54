package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// RemoveCluster undoes a join: it unregisters the metrics target and
// deletes the record. The API refuses the removal when enablers run on the
// cluster or when it is the cloud cluster with edges still joined.
func RemoveCluster(ctx workflow.Context, clusterID string) error {
	op, err := newOperation(ctx)
	if err != nil {
		return err
	}
	err = removeCluster(op, clusterID)
	op.finish(err)
	return err
}

func removeCluster(op *operation, id string) error {
	if err := op.do("unregister the metrics target", storeCall, nil, clusters.UnregisterMetrics, id); err != nil {
		return err
	}
	return op.do("delete the record", storeCall, nil, clusters.Delete, id)
}
