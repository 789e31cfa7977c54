package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/store"
)

// RemoveCluster undoes a join: it disconnects the cluster from its mesh
// peers on both sides, restores its Cilium identity, unregisters the
// metrics target and deletes the record (which frees its ClusterMesh id). The API refuses the removal when enablers run on the
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
	if err := op.do("mark the cluster Removing", storeCall, nil, clusters.SetStatus, id, store.StatusRemoving, ""); err != nil {
		return err
	}
	if err := op.do("disconnect the mesh peers", clusterCall, nil, clusters.DisconnectMesh, id); err != nil {
		return err
	}
	if err := op.do("restore the Cilium cluster name and id", clusterCall, nil, clusters.RestoreMeshIdentity, id); err != nil {
		return err
	}
	if err := op.do("unregister the metrics target", storeCall, nil, clusters.UnregisterMetrics, id); err != nil {
		return err
	}
	return op.do("delete the record", storeCall, nil, clusters.Delete, id)
}
