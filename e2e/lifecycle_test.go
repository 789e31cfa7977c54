package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/testenv"
)

type volumeView struct {
	Claim, Namespace, Volume string
	VolumeDeleted            bool
}

type lifecycleView struct {
	enablerView
	Version, Namespace string
	ReleaseRevision    int
	VolumeCleanup      *struct{ Deleted []volumeView }
	Health             *struct {
		ReleaseStatus string
		Ready         bool
		Error         string
	}
}

func (o *orchestrator) lifecycle(name string) lifecycleView {
	o.t.Helper()
	var e lifecycleView
	if code := o.call("GET", "/api/enabler/"+name, nil, &e); code != 200 {
		o.t.Fatalf("enabler %s: %d", name, code)
	}
	return e
}

// op sends an operation request with ?wait and returns the status code and
// the enabler the answer carries.
func (o *orchestrator) op(method, path string, body any) (int, lifecycleView) {
	o.t.Helper()
	var a struct {
		OperationID string
		Enabler     lifecycleView
	}
	code := o.call(method, path, body, &a)
	a.Enabler.OperationID = a.OperationID
	return code, a.Enabler
}

func deploymentReplicas(t *testing.T, c *testenv.Cluster, name string) int32 {
	t.Helper()
	d, err := c.Client.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
	must(t, err)
	return *d.Spec.Replicas
}

func TestEnablerLifecycle(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{
			{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}},
			{Name: "edge-1", Workloads: true, StorageClass: "standard"},
		},
	})
	o := startOrchestrator(t, env)
	cloud, edge := env.Clusters[0], env.Clusters[1]
	o.joinAll(env, nil)
	o.addTestRepo(env.ChartRepo.URL)

	t.Run("terminate uninstalls and keeps the record; instantiating again works elsewhere", func(t *testing.T) {
		if e := o.instantiate(map[string]any{"enablerName": "web", "helmChart": "test/web", "vim": "cloud"}); e.Status != "Enabled" {
			t.Fatalf("instantiate: %+v", e)
		}
		if code, e := o.op("POST", "/api/enabler/web/terminate?wait=2m", nil); code != 202 || e.Status != "Terminated" {
			t.Fatalf("terminate: %d %+v", code, e)
		}
		if n := helmReleases(t, cloud, "web"); n != 0 {
			t.Errorf("release web still on cloud (%d revisions)", n)
		}
		if code, e := o.op("POST", "/api/enabler/web/instantiate?wait=3m", map[string]any{"vim": "edge-1"}); code != 202 || e.Status != "Enabled" || e.Cluster != "edge-1" {
			t.Fatalf("instantiate again: %d %+v", code, e)
		}
		if pods := releasePods(t, edge, "web"); len(pods) != 1 {
			t.Errorf("%d pods of web on edge-1, want 1", len(pods))
		}
	})

	t.Run("volume cleanup deletes the claims and their volumes, and says which", func(t *testing.T) {
		e := o.instantiate(map[string]any{"enablerName": "db", "helmChart": "test/stateful", "vim": "cloud", "additionalParams": map[string]any{"replicaCount": 2}})
		if e.Status != "Enabled" {
			t.Fatalf("instantiate db: %+v", e)
		}
		claims, err := cloud.Client.CoreV1().PersistentVolumeClaims("default").List(context.Background(), metav1.ListOptions{})
		must(t, err)
		volumes := map[string]string{}
		for _, c := range claims.Items {
			volumes[c.Name] = c.Spec.VolumeName
		}
		if len(volumes) != 2 {
			t.Fatalf("claims before: %v, want 2", volumes)
		}
		if code, e := o.op("POST", "/api/enabler/db/terminate?wait=2m", nil); code != 202 || e.Status != "Terminated" {
			t.Fatalf("terminate db: %d %+v", code, e)
		}
		code, got := o.op("DELETE", "/api/enabler/pv/db", nil)
		if code != 202 || got.VolumeCleanup == nil || len(got.VolumeCleanup.Deleted) != 2 {
			t.Fatalf("cleanup: %d %+v", code, got.VolumeCleanup)
		}
		for _, v := range got.VolumeCleanup.Deleted {
			if volumes[v.Claim] != v.Volume || !v.VolumeDeleted {
				t.Errorf("reported %+v, want claim %s with volume %s deleted", v, v.Claim, volumes[v.Claim])
			}
			if _, err := cloud.Client.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), v.Claim, metav1.GetOptions{}); err == nil {
				t.Errorf("claim %s still exists", v.Claim)
			}
			if _, err := cloud.Client.CoreV1().PersistentVolumes().Get(context.Background(), v.Volume, metav1.GetOptions{}); err == nil {
				t.Errorf("volume %s still exists", v.Volume)
			}
		}
		if code, again := o.op("DELETE", "/api/enabler/pv/db", nil); code != 202 || again.VolumeCleanup == nil || len(again.VolumeCleanup.Deleted) != 0 {
			t.Errorf("second cleanup: %d %+v, want nothing deleted", code, again.VolumeCleanup)
		}
	})

	t.Run("upgrade changes the values in the cluster, rollback restores them, history lists the revisions", func(t *testing.T) {
		e := o.instantiate(map[string]any{"enablerName": "app", "helmChart": "test/web", "version": "0.1.0", "vim": "cloud"})
		if e.Status != "Enabled" || e.ChartVersion != "0.1.0" {
			t.Fatalf("instantiate app: %+v", e)
		}
		code, up := o.op("POST", "/api/enabler/app/upgrade?wait=3m", map[string]any{"additionalParams": map[string]any{"replicaCount": 2}, "version": "0.2.0", "reuseValues": true})
		if code != 202 || up.Status != "Enabled" || up.ChartVersion != "0.2.0" {
			t.Fatalf("upgrade: %d %+v", code, up)
		}
		if n := deploymentReplicas(t, cloud, "app-web"); n != 2 {
			t.Errorf("replicas after upgrade: %d, want 2", n)
		}
		code, back := o.op("POST", "/api/enabler/app/rollback?wait=3m", map[string]any{"revision": 1})
		if code != 202 || back.Status != "Enabled" || back.ChartVersion != "0.1.0" {
			t.Fatalf("rollback: %d %+v", code, back)
		}
		if n := deploymentReplicas(t, cloud, "app-web"); n != 1 {
			t.Errorf("replicas after rollback: %d, want 1", n)
		}
		var history []struct {
			Revision     int
			Status       string
			ChartVersion string
		}
		if code := o.call("GET", "/api/enabler/app/history", nil, &history); code != 200 || len(history) != 3 {
			t.Fatalf("history: %d %+v, want 3 revisions", code, history)
		}
		if history[1].ChartVersion != "0.2.0" || history[2].ChartVersion != "0.1.0" || history[2].Status != "deployed" {
			t.Errorf("history = %+v", history)
		}
	})

	t.Run("a release removed behind the orchestrator's back shows Missing once its cluster is probed", func(t *testing.T) {
		e := o.lifecycle("app")
		if e.Status != "Enabled" || e.Health == nil || !e.Health.Ready {
			t.Fatalf("app before: %+v", e)
		}
		must(t, release.Uninstall(context.Background(), release.Target{Kubeconfig: cloud.Kubeconfig, Namespace: "default"}, "app", e.ID))
		eventually(t, 30*time.Second, "the read to see the release gone", func() bool {
			h := o.lifecycle("app").Health
			return h != nil && h.Error == "" && !h.Ready && h.ReleaseStatus == ""
		})
		if got := o.lifecycle("app"); got.Status != "Enabled" {
			t.Errorf("after a read, app is %s: a read changed it", got.Status)
		}
		if code := o.call("POST", "/api/k8sclusters/cloud/check?wait=1m", nil, nil); code != 202 {
			t.Fatalf("check: %d", code)
		}
		if got := o.lifecycle("app"); got.Status != "Missing" || !strings.Contains(got.StatusReason, "removed outside the orchestrator") {
			t.Errorf("after the check, app is %s (%q), want Missing", got.Status, got.StatusReason)
		}
		var list []enablerView
		o.call("GET", "/api/enabler/instanced", nil, &list)
		for _, l := range list {
			if l.Name == "app" && l.Status != "Missing" {
				t.Errorf("the list shows app %s, want Missing", l.Status)
			}
		}
	})

	t.Run("delete with the cluster down waits for the operator; abort keeps the record in Error; one operation at a time", func(t *testing.T) {
		if e := o.instantiate(map[string]any{"enablerName": "remote", "helmChart": "test/web", "vim": "edge-1"}); e.Status != "Enabled" {
			t.Fatalf("instantiate remote: %+v", e)
		}
		must(t, edge.StopAPIServer())
		code, e := o.op("DELETE", "/api/enabler/remote", nil)
		if code != 202 {
			t.Fatalf("delete: %d", code)
		}
		var e409 struct{ Message string }
		if code := o.call("POST", "/api/enabler/remote/terminate", nil, &e409); code != 409 || !strings.Contains(e409.Message, "running") {
			t.Errorf("terminate during delete: %d %q, want 409", code, e409.Message)
		}
		eventually(t, 2*time.Minute, "the delete to wait for the operator", func() bool {
			return o.operation(e.OperationID).State == "WaitingForOperator"
		})
		if code := o.call("POST", "/api/operations/"+e.OperationID+"/abort", nil, nil); code != 202 {
			t.Fatalf("abort: %d", code)
		}
		eventually(t, time.Minute, "the record to show the failed delete", func() bool {
			got := o.enabler("remote")
			return got.Status == "Error" && strings.Contains(got.StatusReason, "record is kept")
		})
		must(t, edge.StartAPIServer())
		if code, e := o.op("DELETE", "/api/enabler/remote?wait=2m", nil); code != 202 || e.Status != "Deleted" {
			t.Fatalf("delete again: %d %+v", code, e)
		}
		if n := helmReleases(t, edge, "remote"); n != 0 {
			t.Errorf("release remote still on edge-1 (%d revisions)", n)
		}
		if code := o.call("GET", "/api/enabler/remote", nil, nil); code != 404 {
			t.Errorf("deleted enabler: %d, want 404", code)
		}
	})
}
