package e2e

import (
	"math"
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/testenv"
	"github.com/smartorch/smartorch/usage"
)

type nodeUsageView struct {
	Name                             string
	Ready                            bool
	Capacity, Allocatable, Requested map[string]string
	Usage                            *struct {
		CPUCores    float64   `json:"cpuCores"`
		MemoryBytes float64   `json:"memoryBytes"`
		At          time.Time `json:"at"`
	}
}

func TestNodeUsage(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Options{
		Temporal:   true,
		Prometheus: true,
		Clusters: []testenv.ClusterOptions{
			{Name: "usage", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{
				{Name: "usage-a", CPU: "4", Memory: "8Gi"},
				{Name: "usage-b", CPU: "2", Memory: "4Gi"},
			}},
			{Name: "elsewhere", Workloads: true, StorageClass: "standard"},
		},
	})
	o := startOrchestrator(t, env)
	cluster, elsewhere := env.Clusters[0], env.Clusters[1]

	t.Run("nodes show requests and live usage", func(t *testing.T) {
		if code, _ := o.join(cluster, nil, "2m"); code != 202 {
			t.Fatalf("join: %d", code)
		}
		if _, c := o.cluster(cluster.Name); c.Status != "Enabled" {
			t.Fatalf("cluster = %+v, want Enabled", c)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "requester", Namespace: "default"},
			Spec: corev1.PodSpec{NodeName: "usage-a", Containers: []corev1.Container{{
				Name: "app", Image: "app",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi"),
				}},
			}}},
		}
		_, err := cluster.Client.CoreV1().Pods("default").Create(t.Context(), pod, metav1.CreateOptions{})
		must(t, err)
		cluster.Metrics.SetCPUUsage("usage-a", 1.25)
		cluster.Metrics.SetMemoryAvailable("usage-a", 5<<30)
		cluster.Metrics.SetCPUUsage("usage-b", 0.5)
		cluster.Metrics.SetMemoryAvailable("usage-b", 3<<30)
		want := map[string]struct{ cpu, memory float64 }{"usage-a": {1.25, 3 << 30}, "usage-b": {0.5, 1 << 30}}

		var nodes []nodeUsageView
		eventually(t, 90*time.Second, "usage as set", func() bool {
			nodes = nil
			if code := o.call("GET", "/api/k8sclusters/node/"+cluster.Name, nil, &nodes); code != 200 || len(nodes) != 2 {
				t.Fatalf("nodes: %d %+v", code, nodes)
			}
			for _, n := range nodes {
				w := want[n.Name]
				if n.Usage == nil || math.Abs(n.Usage.CPUCores-w.cpu) > 0.05*w.cpu || n.Usage.MemoryBytes != w.memory {
					return false
				}
			}
			return true
		})

		capacity := map[string][2]string{"usage-a": {"4", "8Gi"}, "usage-b": {"2", "4Gi"}}
		for _, n := range nodes {
			c := capacity[n.Name]
			if !n.Ready || n.Capacity["cpu"] != c[0] || n.Capacity["memory"] != c[1] || n.Allocatable["cpu"] != c[0] || n.Allocatable["memory"] != c[1] {
				t.Errorf("%s = %+v, want Ready with capacity and allocatable %s CPUs, %s", n.Name, n, c[0], c[1])
			}
			if n.Usage.At.IsZero() {
				t.Errorf("%s: usage without a sample time", n.Name)
			}
			if n.Name == "usage-a" && (!atLeast(n.Requested["cpu"], "500m") || !atLeast(n.Requested["memory"], "256Mi")) {
				t.Errorf("usage-a requested %v, want at least the pod's 500m and 256Mi", n.Requested)
			}
		}
	})

	t.Run("the cluster's own Prometheus comes first and its failure costs only the usage", func(t *testing.T) {
		// A Prometheus that accepts connections and never answers.
		hung, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		t.Cleanup(func() { hung.Close() })
		if code, _ := o.join(elsewhere, map[string]any{"prometheusUrl": "http://" + hung.Addr().String()}, "2m"); code != 202 {
			t.Fatalf("join: %d", code)
		}
		// The central Prometheus does have usage for the cluster, so usage
		// in the answer would mean the API asked the wrong Prometheus.
		list, err := elsewhere.Client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		must(t, err)
		eventually(t, time.Minute, "central usage of "+elsewhere.Name, func() bool {
			_, err := usage.Client{URL: env.Prometheus.URL}.NodeUsage(t.Context(), elsewhere.Name, list.Items)
			return err == nil
		})

		var nodes []nodeUsageView
		begin := time.Now()
		if code := o.call("GET", "/api/k8sclusters/node/"+elsewhere.Name, nil, &nodes); code != 200 || len(nodes) != 1 {
			t.Fatalf("nodes: %d %+v", code, nodes)
		}
		t.Logf("answered in %v with its Prometheus hung", time.Since(begin).Round(time.Millisecond))
		if n := nodes[0]; !n.Ready || n.Capacity["cpu"] != "8" || n.Usage != nil {
			t.Errorf("node = %+v, want the Ready node with its capacity and no usage", n)
		}
	})
}

func atLeast(got, want string) bool {
	q, err := resource.ParseQuantity(got)
	return err == nil && q.Cmp(resource.MustParse(want)) >= 0
}
