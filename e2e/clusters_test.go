package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/testenv"
)

func TestClusterLifecycle(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true,
		Clusters: []testenv.ClusterOptions{
			{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}},
			{Name: "edge-1", Workloads: true, StorageClass: "standard"},
			{Name: "edge-2", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.101.0.128/25"}}},
			{Name: "edge-3", Workloads: true, StorageClass: "standard"},
		},
	})
	o := startOrchestrator(t, env)
	cloud, edge1, edge2, edge3 := env.Clusters[0], env.Clusters[1], env.Clusters[2], env.Clusters[3]

	t.Run("first cluster is the cloud and is enabled", func(t *testing.T) {
		code, a := o.join(cloud, nil, "2m")
		if code != 202 || a.OperationID == "" {
			t.Fatalf("join cloud: %d %+v", code, a)
		}
		_, c := o.cluster("cloud")
		if !c.Cloud || c.Status != "Enabled" || c.NodeCount != 1 {
			t.Errorf("cloud = %+v, want the Enabled cloud cluster with 1 node", c)
		}
		want := []string{
			"wait for the request to be recorded", "reach the API server", "check the nodes are Ready", "check for a default StorageClass", "check the pod CIDRs",
			"register the metrics target", "detect Cilium ClusterMesh", "enable the cluster",
		}
		if op := o.operation(a.OperationID); op.State != "Completed" || !slices.Equal(op.Done, want) {
			t.Errorf("operation = %+v, want Completed with the steps %q", op, want)
		}
	})

	t.Run("the nodes route reports capacity and pod requests", func(t *testing.T) {
		node := cloud.Nodes[0].Name
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "requester", Namespace: "default"},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
				Name: "app", Image: "app",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
				}},
			}}},
		}
		_, err := cloud.Client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{})
		must(t, err)
		var nodes []struct {
			Name                             string
			Ready                            bool
			Capacity, Allocatable, Requested map[string]string
			PodCIDRs                         []string
		}
		if code := o.call("GET", "/api/k8sclusters/node/cloud", nil, &nodes); code != 200 || len(nodes) != 1 {
			t.Fatalf("nodes: %d %+v", code, nodes)
		}
		n := nodes[0]
		if n.Name != node || !n.Ready || n.Capacity["cpu"] != "8" || n.Capacity["memory"] != "16Gi" || n.Requested["cpu"] != "250m" || n.Requested["memory"] != "64Mi" {
			t.Errorf("node = %+v, want 8 CPUs, 16Gi, 250m and 64Mi requested", n)
		}
		if len(n.PodCIDRs) != 1 || n.PodCIDRs[0] != "10.217.0.0/24" {
			t.Errorf("pod CIDRs = %v", n.PodCIDRs)
		}
		if code := o.call("GET", "/api/k8sclusters/node/nope", nil, nil); code != 404 {
			t.Errorf("nodes of an unknown cluster: %d, want 404", code)
		}
	})

	t.Run("an edge joins and is registered for metrics", func(t *testing.T) {
		code, _ := o.join(edge1, map[string]any{"metricsTargets": []string{"127.0.0.1:9100"}}, "2m")
		_, c := o.cluster("edge-1")
		if code != 202 || c.Cloud || c.Status != "Enabled" {
			t.Fatalf("join edge-1: %d %+v", code, c)
		}
		data, err := os.ReadFile(filepath.Join(o.metricsDir, "edge-1.json"))
		must(t, err)
		var groups []struct {
			Targets []string
			Labels  map[string]string
		}
		must(t, json.Unmarshal(data, &groups))
		if len(groups) != 1 || groups[0].Labels["cluster_name"] != "edge-1" || strings.Join(groups[0].Targets, ",") != "127.0.0.1:9100" {
			t.Errorf("file_sd for edge-1 = %s", data)
		}
	})

	t.Run("bad joins are refused at once", func(t *testing.T) {
		// The kubeconfig's names must be the cluster's.
		var e struct{ Message string }
		body := map[string]any{"name": "edge-9", "description": "x", "credentials": json.RawMessage(edge3.KubeconfigJSON), "k8s_version": "1.34"}
		if code := o.call("POST", "/api/k8sclusters/", body, &e); code != 400 || !strings.Contains(e.Message, "current-context") {
			t.Errorf("mismatched names: %d %q, want 400 naming current-context", code, e.Message)
		}
		if code, _ := o.join(edge3, map[string]any{"cloud": true}, ""); code != 409 {
			t.Errorf("second cloud: %d, want 409", code)
		}
		if code, _ := o.join(edge1, nil, ""); code != 409 {
			t.Errorf("duplicate name: %d, want 409", code)
		}
		for _, bad := range []map[string]any{
			{"name": "Bad Name", "credentials": json.RawMessage(edge3.KubeconfigJSON)},
			{"name": "edge-3"},
			{"name": "edge-3", "credentials": 42},
			{"name": "edge-3", "credentials": json.RawMessage(edge3.KubeconfigJSON), "cloud": "maybe"},
		} {
			if code := o.call("POST", "/api/k8sclusters/", bad, nil); code != 400 {
				t.Errorf("%v: %d, want 400", bad["name"], code)
			}
		}
	})

	t.Run("an overlapping pod CIDR ends in Error naming both clusters", func(t *testing.T) {
		code, a := o.join(edge2, map[string]any{"metricsTargets": []string{"127.0.0.1:9100"}}, "2m")
		if code != 202 {
			t.Fatalf("join edge-2: %d", code)
		}
		_, c := o.cluster("edge-2")
		for _, want := range []string{"edge-2", "10.101.0.128/25", "edge-1", "10.101.0.0/24"} {
			if !strings.Contains(c.StatusReason, want) {
				t.Errorf("reason %q lacks %q", c.StatusReason, want)
			}
		}
		if c.Status != "Error" {
			t.Errorf("status = %s, want Error", c.Status)
		}
		if _, err := os.Stat(filepath.Join(o.metricsDir, "edge-2.json")); !os.IsNotExist(err) {
			t.Errorf("edge-2's metrics target was left behind: %v", err)
		}
		// Nothing was changed before the check failed: nothing to undo.
		want := []string{"wait for the request to be recorded", "reach the API server", "check the nodes are Ready", "check for a default StorageClass", "record the error"}
		if op := o.operation(a.OperationID); op.State != "Failed" || !slices.Equal(op.Done, want) {
			t.Errorf("operation = %+v, want Failed with the steps %q", op, want)
		}
		// A cluster in Error can be removed.
		if code := o.call("DELETE", "/api/k8sclusters/edge-2?wait=1m", nil, nil); code != 202 {
			t.Errorf("remove edge-2: %d", code)
		}
	})

	t.Run("a dead API server makes the join wait for the operator", func(t *testing.T) {
		must(t, edge3.StopAPIServer())
		code, a := o.join(edge3, nil, "")
		if code != 202 {
			t.Fatalf("join edge-3: %d", code)
		}
		eventually(t, 3*time.Minute, "the operation to wait for the operator", func() bool {
			op := o.operation(a.OperationID)
			return op.State == "WaitingForOperator"
		})
		op := o.operation(a.OperationID)
		if op.Waiting == nil || op.Waiting.Step != "reach the API server" || op.LastError == "" {
			t.Errorf("waiting operation = %+v", op)
		}
		// The Temporal CLI sends the same signal as the API.
		cli := exec.Command(filepath.Join(os.Getenv("SMARTORCH_TOOLS_BIN"), "temporal"), "workflow", "signal",
			"--address", env.Temporal.Address, "--workflow-id", a.OperationID, "--name", "retry")
		if out, err := cli.CombinedOutput(); err != nil {
			t.Fatalf("temporal workflow signal: %v\n%s", err, out)
		}
		// Still down: it waits again.
		eventually(t, 3*time.Minute, "the second wait", func() bool {
			op := o.operation(a.OperationID)
			return op.State == "WaitingForOperator" && op.Step == "reach the API server" && op.OperatorRetries == 1
		})
		must(t, edge3.StartAPIServer())
		if code := o.call("POST", "/api/operations/"+a.OperationID+"/retry", nil, nil); code != 202 {
			t.Fatalf("retry: %d", code)
		}
		eventually(t, 2*time.Minute, "edge-3 to be Enabled", func() bool {
			_, c := o.cluster("edge-3")
			return c.Status == "Enabled"
		})
		if code := o.call("POST", "/api/operations/"+a.OperationID+"/retry", nil, nil); code != 409 {
			t.Errorf("retry of a completed operation: %d, want 409", code)
		}
	})

	t.Run("the cloud cannot go while edges remain; an edge can", func(t *testing.T) {
		if code := o.call("DELETE", "/api/k8sclusters/cloud", nil, nil); code != 409 {
			t.Errorf("remove cloud with edges: %d, want 409", code)
		}
		var a accepted
		if code := o.call("DELETE", "/api/k8sclusters/edge-1?wait=1m", nil, &a); code != 202 {
			t.Fatalf("remove edge-1: %d", code)
		}
		if code, _ := o.cluster("edge-1"); code != 404 {
			t.Errorf("edge-1 after removal: %d, want 404", code)
		}
		if _, err := os.Stat(filepath.Join(o.metricsDir, "edge-1.json")); !os.IsNotExist(err) {
			t.Errorf("edge-1's metrics target is still there: %v", err)
		}
	})

	t.Run("no response carries credentials", func(t *testing.T) {
		var list []map[string]any
		o.call("GET", "/api/k8sclusters/", nil, &list)
		for _, b := range o.bodies {
			for _, c := range env.Clusters {
				if strings.Contains(b, "client-key-data") || strings.Contains(b, string(c.KubeconfigJSON[:40])) {
					t.Fatalf("a response carries a kubeconfig: %.200s", b)
				}
			}
		}
	})
}
