package e2e

import (
	"context"
	"slices"
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/activities/mesh"
	"github.com/smartorch/smartorch/testenv"
)

// meshClusters are a cloud and two edges that run Cilium with ClusterMesh.
var meshClusters = []testenv.ClusterOptions{
	{Name: "cloud", Workloads: true, StorageClass: "standard", Cilium: true, Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}},
	{Name: "edge-1", Workloads: true, StorageClass: "standard", Cilium: true},
	{Name: "edge-2", Workloads: true, StorageClass: "standard", Cilium: true},
}

func TestClusterMesh(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Temporal: true, Clusters: meshClusters})
	o := startOrchestrator(t, env)
	ctx := context.Background()
	cloud, edge1, edge2 := env.Clusters[0], env.Clusters[1], env.Clusters[2]
	peersOf := func(c *testenv.Cluster) []string {
		t.Helper()
		p, err := mesh.Peers(ctx, mesh.Cluster{Name: c.Name, Client: c.Client})
		must(t, err)
		slices.Sort(p)
		return p
	}
	restartedAt := func(c *testenv.Cluster) string {
		t.Helper()
		ds, err := c.Client.AppsV1().DaemonSets("kube-system").Get(ctx, "cilium", metav1.GetOptions{})
		must(t, err)
		return ds.Spec.Template.Annotations[mesh.RestartedAtAnnotation]
	}
	join := func(c *testenv.Cluster, extra map[string]any) clusterView {
		t.Helper()
		if code, _ := o.join(c, extra, "3m"); code != 202 {
			t.Fatalf("join %s: %d", c.Name, code)
		}
		_, v := o.cluster(c.Name)
		if v.Status != "Enabled" || v.Mesh == nil {
			t.Fatalf("%s after join: %+v, want Enabled with a mesh id", c.Name, v)
		}
		return v
	}

	// An edge that joins before the cloud waits for it.
	e1 := join(edge1, map[string]any{"cloud": false})
	if len(peersOf(edge1)) != 0 {
		t.Errorf("edge-1 has peers before the cloud joined: %v", peersOf(edge1))
	}
	edge1Restart := restartedAt(edge1)
	if edge1Restart == "" {
		t.Error("edge-1's agents were not restarted after its identity changed")
	}

	c := join(cloud, map[string]any{"cloud": true})
	e2 := join(edge2, nil)
	if got := peersOf(cloud); !slices.Equal(got, []string{"edge-1", "edge-2"}) {
		t.Errorf("cloud's peers = %v, want edge-1 and edge-2", got)
	}
	for _, e := range []*testenv.Cluster{edge1, edge2} {
		if got := peersOf(e); !slices.Equal(got, []string{"cloud"}) {
			t.Errorf("%s's peers = %v, want cloud", e.Name, got)
		}
	}
	if restartedAt(edge1) == edge1Restart {
		t.Error("edge-1's agents were not restarted when the cloud connected")
	}
	ids := map[int]string{}
	for _, v := range []clusterView{e1, c, e2} {
		if other, dup := ids[v.Mesh.ID]; dup || v.Mesh.ID < 1 || v.Mesh.ID > 255 {
			t.Errorf("mesh id %d of %s is invalid or also %s's", v.Mesh.ID, v.Name, other)
		}
		ids[v.Mesh.ID] = v.Name
	}
	cm, err := edge2.Client.CoreV1().ConfigMaps("kube-system").Get(ctx, "cilium-config", metav1.GetOptions{})
	must(t, err)
	if cm.Data["cluster-name"] != "edge-2" || cm.Data["cluster-id"] != itoa(e2.Mesh.ID) {
		t.Errorf("edge-2 cilium-config = %v, want its name and id %d", cm.Data, e2.Mesh.ID)
	}

	// Removing an edge disconnects both sides and frees its id.
	if code := o.call("DELETE", "/api/k8sclusters/edge-1?wait=3m", nil, nil); code != 202 {
		t.Fatalf("remove edge-1: %d", code)
	}
	if got := peersOf(cloud); !slices.Equal(got, []string{"edge-2"}) {
		t.Errorf("cloud's peers after removing edge-1 = %v, want edge-2", got)
	}
	if got := peersOf(edge1); len(got) != 0 {
		t.Errorf("edge-1 still has peers after removal: %v", got)
	}
	cm, err = edge1.Client.CoreV1().ConfigMaps("kube-system").Get(ctx, "cilium-config", metav1.GetOptions{})
	must(t, err)
	if _, left := cm.Annotations[mesh.PreviousIdentityAnnotation]; left {
		t.Error("edge-1's cilium-config keeps the orchestrator's annotation after removal")
	}
	if _, err := edge1.Client.CoreV1().Secrets("kube-system").Get(ctx, mesh.ClusterMeshSecret, metav1.GetOptions{}); err == nil {
		t.Error("edge-1 keeps the cilium-clustermesh Secret the orchestrator created")
	}
	again := join(edge1, nil)
	if again.Mesh.ID != e1.Mesh.ID {
		t.Errorf("rejoined edge-1 got id %d, want the freed id %d", again.Mesh.ID, e1.Mesh.ID)
	}
	if got := peersOf(edge1); !slices.Equal(got, []string{"cloud"}) {
		t.Errorf("rejoined edge-1's peers = %v", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
