package usage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/smartorch/smartorch/testenv"
)

func TestMatcher(t *testing.T) {
	for _, tc := range []struct{ cluster, want string }{
		{"edge-1", `cluster_name="edge-1"`},
		{`a"}) or vector(1e9) or sum({__name__=~".+"`, `cluster_name="a\"}) or vector(1e9) or sum({__name__=~\".+\""`},
		{`back\slash`, `cluster_name="back\\slash"`},
		{"new\nline", `cluster_name="new\nline"`},
	} {
		got, err := matcher(tc.cluster)
		if err != nil || got != tc.want {
			t.Errorf("matcher(%q) = %s, %v; want %s", tc.cluster, got, err, tc.want)
		}
	}
	if _, err := matcher(""); err == nil {
		t.Error("matcher accepted an empty cluster name")
	}
}

func TestNodeIndex(t *testing.T) {
	node := func(name string, addresses ...string) corev1.Node {
		n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, a := range addresses {
			n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a})
		}
		return n
	}
	ix := newNodeIndex([]corev1.Node{node("a", "10.0.0.1"), node("b", "10.0.0.2", "fd00::2"), node("10.0.0.1")})
	for _, tc := range []struct {
		name   string
		labels model.Metric
		want   string
	}{
		{"label node (testenv)", model.Metric{"node": "a", "instance": "127.0.0.1:4000"}, "a"},
		{"label node wins over instance", model.Metric{"node": "a", "instance": "b"}, "a"},
		{"unknown label node falls back to instance", model.Metric{"node": "zz", "instance": "b"}, "b"},
		{"instance is the node name (kube-prometheus)", model.Metric{"instance": "b"}, "b"},
		{"instance name wins over an address", model.Metric{"instance": "10.0.0.1"}, "10.0.0.1"},
		{"instance host is an address (file_sd)", model.Metric{"instance": "10.0.0.2:9100"}, "b"},
		{"IPv6 instance", model.Metric{"instance": "[fd00::2]:9100"}, "b"},
		{"address without port", model.Metric{"instance": "fd00::2"}, "b"},
		{"unknown host", model.Metric{"instance": "10.0.0.9:9100"}, ""},
		{"no labels", model.Metric{}, ""},
	} {
		if got := ix.node(tc.labels); got != tc.want {
			t.Errorf("%s: node(%v) = %q, want %q", tc.name, tc.labels, got, tc.want)
		}
	}
}

func TestNoPrometheus(t *testing.T) {
	var c Client
	if _, err := c.Traffic(t.Context(), "c1"); !errors.Is(err, ErrNoPrometheus) {
		t.Errorf("Traffic: %v, want ErrNoPrometheus", err)
	}
	if _, err := c.NodeUsage(t.Context(), "c1", nil); !errors.Is(err, ErrNoPrometheus) {
		t.Errorf("NodeUsage: %v, want ErrNoPrometheus", err)
	}
}

func TestUnreachablePrometheus(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://user:secret@" + l.Addr().String()
	l.Close()
	c := Client{URL: url, Timeout: time.Second}
	_, err = c.Traffic(t.Context(), "c1")
	if err == nil || errors.Is(err, ErrNoData) || errors.Is(err, ErrNoPrometheus) {
		t.Errorf("Traffic: %v, want a connection error", err)
	} else if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
	if _, err := c.NodeUsage(t.Context(), "c1", nil); err == nil || errors.Is(err, ErrNoData) || errors.Is(err, ErrNoPrometheus) {
		t.Errorf("NodeUsage: %v, want a connection error", err)
	}
}

func TestAgainstPrometheus(t *testing.T) {
	begin := time.Now()
	env := testenv.Start(t, testenv.Options{
		Clusters: []testenv.ClusterOptions{
			{Name: "c1", Nodes: []testenv.NodeOptions{{Name: "c1-a", CPU: "4", Memory: "8Gi"}, {Name: "c1-b", CPU: "2", Memory: "4Gi"}}},
			{Name: "c2", Nodes: []testenv.NodeOptions{{Name: "c2-a"}}},
		},
		Prometheus: true,
	})
	c1, c2 := env.Clusters[0], env.Clusters[1]
	c1.Metrics.SetReceiveRate("c1-a", 3e6)
	c1.Metrics.SetReceiveRate("c1-b", 1e6)
	c2.Metrics.SetReceiveRate("c2-a", 5e5)
	c1.Metrics.SetCPUUsage("c1-a", 1.5)
	c1.Metrics.SetCPUUsage("c1-b", 0.5)
	c1.Metrics.SetMemoryAvailable("c1-a", 6<<30)
	c1.Metrics.SetMemoryAvailable("c1-b", 1<<30)
	client := Client{URL: env.Prometheus.URL}

	near := func(got, want float64) bool { return math.Abs(got-want) <= 0.03*want+1e-3 }

	t.Run("traffic per cluster without loopback", func(t *testing.T) {
		want := map[string]float64{"c1": 4e6, "c2": 5e5}
		got := map[string]Sample{}
		poll(t, "traffic", func(ctx context.Context) (bool, error) {
			for cluster, w := range want {
				s, err := client.Traffic(ctx, cluster)
				if errors.Is(err, ErrNoData) {
					return false, nil
				}
				if err != nil {
					return false, err
				}
				got[cluster] = s
				if !near(s.Value, w) {
					return false, nil
				}
			}
			return true, nil
		}, func() string { return fmt.Sprint(got) })
		for cluster, s := range got {
			if s.At.Before(begin) || s.At.After(time.Now()) {
				t.Errorf("%s: sample time %v is not the time of a recorded sample of this test", cluster, s.At)
			}
			// With loopback the figure would be LoopbackReceiveRate per node higher.
			if s.Value >= want[cluster]+testenv.LoopbackReceiveRate/2 {
				t.Errorf("%s: %v includes loopback", cluster, s.Value)
			}
		}
	})

	t.Run("unknown cluster has no data", func(t *testing.T) {
		if _, err := client.Traffic(t.Context(), "nope"); !errors.Is(err, ErrNoData) {
			t.Errorf("Traffic: %v, want ErrNoData", err)
		}
		if _, err := client.NodeUsage(t.Context(), "nope", nil); !errors.Is(err, ErrNoData) {
			t.Errorf("NodeUsage: %v, want ErrNoData", err)
		}
		if _, err := client.Traffic(t.Context(), ""); err == nil || errors.Is(err, ErrNoData) {
			t.Errorf("Traffic of an empty name: %v, want a refusal", err)
		}
	})

	t.Run("node usage", func(t *testing.T) {
		list, err := c1.Client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]NodeUsage{"c1-a": {CPU: 1.5, Memory: 2 << 30}, "c1-b": {CPU: 0.5, Memory: 3 << 30}}
		var got map[string]NodeUsage
		poll(t, "node usage", func(ctx context.Context) (bool, error) {
			got, err = client.NodeUsage(ctx, "c1", list.Items)
			if errors.Is(err, ErrNoData) {
				return false, nil
			}
			if err != nil || len(got) != len(want) {
				return false, err
			}
			for node, w := range want {
				u := got[node]
				if !near(u.CPU, w.CPU) || u.Memory != w.Memory {
					return false, nil
				}
			}
			return true, nil
		}, func() string { return fmt.Sprint(got) })
		for node, u := range got {
			if u.At.Before(begin) || u.At.After(time.Now()) {
				t.Errorf("%s: sample time %v is not the time of a recorded sample of this test", node, u.At)
			}
		}

		// Series of nodes not asked about are ignored.
		only, err := client.NodeUsage(t.Context(), "c1", list.Items[:1])
		if err != nil || len(only) != 1 || only[list.Items[0].Name].Memory == 0 {
			t.Errorf("usage of %s alone = %v, %v", list.Items[0].Name, only, err)
		}
	})
}

// poll runs cond every half second until it holds, fails or a minute passes.
func poll(t *testing.T, what string, cond wait.ConditionWithContextFunc, last func() string) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, time.Minute, true, cond); err != nil {
		t.Fatalf("%s: %v; last seen %s", what, err, last())
	}
}
