package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/testenv"
)

// A worker killed with SIGKILL in the middle of a join loses nothing: a new
// worker finishes the same workflow run, once.
func TestJoinSurvivesWorkerKill(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true,
		Clusters: []testenv.ClusterOptions{{Name: "cloud", Workloads: true, StorageClass: "standard", Cilium: true, Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}}},
	})
	o := start(t, env, false)
	cloud := env.Clusters[0]
	first := o.startWorkerProcess()

	// With the API server down the join is stuck retrying its first step.
	must(t, cloud.StopAPIServer())
	code, a := o.join(cloud, map[string]any{"metricsTargets": []string{"127.0.0.1:9100"}}, "")
	if code != 202 {
		t.Fatalf("join: %d", code)
	}
	eventually(t, time.Minute, "a second attempt of the first step", func() bool {
		return o.operation(a.OperationID).Attempts >= 2
	})
	must(t, first.Process.Kill())
	_ = first.Wait()

	must(t, cloud.StartAPIServer())
	o.startWorkerProcess()
	eventually(t, 3*time.Minute, "the cluster to be Enabled", func() bool {
		_, c := o.cluster("cloud")
		return c.Status == "Enabled"
	})

	runs, err := o.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", a.OperationID),
	})
	must(t, err)
	if n := len(runs.GetExecutions()); n != 1 {
		t.Errorf("%d runs of %s, want 1", n, a.OperationID)
	}
	if op := o.operation(a.OperationID); op.State != "Completed" {
		t.Errorf("operation = %+v, want Completed", op)
	}
	if n, err := o.store.Clusters.Count(context.Background(), map[string]any{"name": "cloud"}); err != nil || n != 1 {
		t.Errorf("%d cluster records named cloud (%v), want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(o.metricsDir, "cloud.json")); err != nil {
		t.Errorf("metrics target: %v", err)
	}
}

// A worker killed with SIGKILL while it installs a release: a new worker
// finishes the instantiation with one release and one record.
func TestInstallSurvivesWorkerKill(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}}},
	})
	o := start(t, env, false)
	cloud := env.Clusters[0]
	first := o.startWorkerProcess()
	if code, a := o.join(cloud, nil, "2m"); code != 202 || a.Cluster.Status != "Enabled" {
		t.Fatalf("join: %d %+v", code, a)
	}
	if code := o.call("POST", "/api/chartrepo", map[string]any{"name": "test", "url": env.ChartRepo.URL}, nil); code != 201 {
		t.Fatalf("add chart repository: %d", code)
	}
	var a struct {
		OperationID string
		Enabler     enablerView
	}
	if code := o.call("POST", "/api/enabler", map[string]any{"enablerName": "web", "helmChart": "test/web", "vim": "cloud"}, &a); code != 202 {
		t.Fatalf("instantiate: %d", code)
	}
	// Kill the worker as soon as Helm has recorded the release: the install
	// is under way, or just done and not yet reported to Temporal.
	deadline := time.Now().Add(2 * time.Minute)
	for helmReleases(t, cloud, "web") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the release never appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, first.Process.Kill())
	_ = first.Wait()
	o.startWorkerProcess()

	eventually(t, 3*time.Minute, "the enabler to be Enabled", func() bool { return o.enabler("web").Status == "Enabled" })
	runs, err := o.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", a.OperationID),
	})
	must(t, err)
	if n := len(runs.GetExecutions()); n != 1 {
		t.Errorf("%d runs of %s, want 1", n, a.OperationID)
	}
	if n, err := o.store.Enablers.Count(context.Background(), map[string]any{"name": "web"}); err != nil || n != 1 {
		t.Errorf("%d enabler records named web (%v), want 1", n, err)
	}
	secrets, err := cloud.Client.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=web,status=deployed"})
	must(t, err)
	if len(secrets.Items) != 1 {
		t.Errorf("%d deployed revisions of release web, want 1", len(secrets.Items))
	}
	if pods := releasePods(t, cloud, "web"); len(pods) != 1 {
		t.Errorf("%d pods of release web, want 1", len(pods))
	}
}
