package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/store"
)

// JoinCluster checks a newly added cluster, registers it for metrics,
// connects it to the Cilium ClusterMesh when it runs one, and enables it. If a step fails for good, or the operator aborts, everything
// done so far is undone and the cluster is left in Error with the reason.
// It first waits for the cluster's record, which the API writes once the
// workflow has started.
func JoinCluster(ctx workflow.Context, clusterID string) error {
	op, err := newOperation(ctx)
	if err != nil {
		return err
	}
	if op.since(changeRecordedFirst) && !op.recorded("wait for the request to be recorded", clusters.ClusterRecorded, clusterID) {
		op.finish(nil)
		return nil
	}
	err = joinCluster(op, clusterID)
	if err != nil {
		op.compensate()
		_ = op.do("record the error", storeCall, nil, clusters.SetStatus, clusterID, store.StatusError, err.Error())
	}
	op.finish(err)
	return err
}

func joinCluster(op *operation, id string) error {
	if err := op.do("reach the API server", clusterCall, nil, clusters.Connect, id); err != nil {
		return err
	}
	if err := op.do("check the nodes are Ready", clusterCall, nil, clusters.CheckNodes, id); err != nil {
		return err
	}
	if err := op.do("check for a default StorageClass", clusterCall, nil, clusters.CheckStorageClass, id); err != nil {
		return err
	}
	if err := op.do("check the pod CIDRs", storeCall, nil, clusters.CheckPodCIDRs, id); err != nil {
		return err
	}
	op.undo("unregister the metrics target", storeCall, clusters.UnregisterMetrics, id)
	if err := op.do("register the metrics target", clusterCall, nil, clusters.RegisterMetrics, id); err != nil {
		return err
	}
	var hasMesh bool
	if err := op.do("detect Cilium ClusterMesh", clusterCall, &hasMesh, clusters.DetectMesh, id); err != nil {
		return err
	}
	if hasMesh {
		if err := joinMesh(op, id); err != nil {
			return err
		}
	}
	return op.do("enable the cluster", storeCall, nil, clusters.SetStatus, id, store.StatusEnabled, "")
}

func joinMesh(op *operation, id string) error {
	op.undo("release the ClusterMesh id", storeCall, clusters.ReleaseMeshID, id)
	if err := op.do("allocate a ClusterMesh id", storeCall, nil, clusters.AllocateMeshID, id); err != nil {
		return err
	}
	op.undo("restore the Cilium cluster name and id", clusterCall, clusters.RestoreMeshIdentity, id)
	if err := op.do("set the Cilium cluster name and id", clusterCall, nil, clusters.SetMeshIdentity, id); err != nil {
		return err
	}
	op.undo("disconnect the mesh peers", clusterCall, clusters.DisconnectMesh, id)
	if err := op.do("connect the mesh peers and restart their agents", clusterCall, nil, clusters.ConnectMesh, id); err != nil {
		return err
	}
	if !op.since(changeGlobalServices) {
		return nil
	}
	op.undo("remove the global service mirrors", clusterCall, enablers.RemoveMirrorsFrom, id)
	return op.do("mirror the global services into the cluster", clusterCall, nil, enablers.MirrorGlobalServicesInto, id)
}
