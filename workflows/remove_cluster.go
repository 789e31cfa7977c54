package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/store"
)

// RemoveCluster undoes a join: it first uninstalls the enablers on the
// cluster (the API asks for force when any is still installed) and keeps
// their records, Terminated and on no cluster; then it
// disconnects the cluster from its mesh peers on both sides, restores its
// Cilium identity, unregisters the metrics target and deletes the record
// (which frees its ClusterMesh id). The API refuses the removal of a
// cluster with enablers without force, and of the cloud cluster while edges
// are joined.
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
	if err := removeEnablers(op, id); err != nil {
		return err
	}
	if op.since(changeGlobalServices) {
		if err := op.do("remove the global service mirrors in the cluster", clusterCall, nil, enablers.RemoveMirrorsFrom, id); err != nil {
			return err
		}
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

func removeEnablers(op *operation, clusterID string) error {
	var on []activities.EnablerRef
	if err := op.do("list the enablers on the cluster", storeCall, &on, enablers.EnablersOn, clusterID); err != nil {
		return err
	}
	mirrors := op.since(changeGlobalServices)
	for _, e := range on {
		if mirrors {
			if err := op.do("remove the global service mirrors of enabler "+e.Name, clusterCall, nil, enablers.RemoveGlobalServices, e.ID); err != nil {
				return err
			}
		}
		if err := op.do("uninstall enabler "+e.Name, longClusterCall, nil, enablers.Uninstall, e.ID); err != nil {
			return err
		}
		if err := op.do("mark enabler "+e.Name+" Terminated", storeCall, nil, enablers.Detach, e.ID, "its cluster was removed"); err != nil {
			return err
		}
	}
	return nil
}
