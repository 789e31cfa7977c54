package workflows_test

import (
	"testing"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

func TestRemoveCluster(t *testing.T) {
	clusterSteps := []string{
		"remove the global service mirrors in the cluster",
		"disconnect the mesh peers",
		"restore the Cilium cluster name and id",
		"unregister the metrics target",
		"delete the record",
	}

	t.Run("uninstalls its enablers, keeping their records, then undoes the join", func(t *testing.T) {
		r := newRun(t)
		r.returns("EnablersOn", []activities.EnablerRef{{ID: "e1", Name: "web"}, {ID: "e2", Name: "db"}})
		r.env.ExecuteWorkflow(workflows.RemoveCluster, "c1")
		r.ends(workflows.StateCompleted, "", append([]string{
			"mark the cluster Removing",
			"list the enablers on the cluster",
			"remove the global service mirrors of enabler web",
			"uninstall enabler web",
			"mark enabler web Terminated",
			"remove the global service mirrors of enabler db",
			"uninstall enabler db",
			"mark enabler db Terminated",
		}, clusterSteps...)...)
		if got := r.callsOf("Detach"); len(got) != 2 || got[0][0] != "e1" || got[1][0] != "e2" {
			t.Errorf("Detach calls = %v, want e1 then e2", got)
		}
		r.lastCall("Delete", "c1")
	})

	t.Run("a permanent error stops it where it is, with nothing to undo", func(t *testing.T) {
		r := newRun(t)
		r.fails("DisconnectMesh", errConflict)
		r.env.ExecuteWorkflow(workflows.RemoveCluster, "c1")
		r.ends(workflows.StateFailed, "disconnect the mesh peers: pod CIDR overlaps",
			"mark the cluster Removing", "list the enablers on the cluster", "remove the global service mirrors in the cluster")
		r.lastCall("DisconnectMesh", "c1")
		if got := r.callsOf("SetStatus"); len(got) != 1 || got[0][1] != store.StatusRemoving {
			t.Errorf("SetStatus calls = %v, want only Removing: the cluster stays Removing, for another removal", got)
		}
	})
}
