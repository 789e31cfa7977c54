package clusterstate

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func node(name string, ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		},
	}
}

func pod(name, node, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
			Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}}},
	}
}

func TestNodes(t *testing.T) {
	client := fake.NewClientset(
		node("a", corev1.ConditionTrue),
		node("b", corev1.ConditionFalse),
		node("c", corev1.ConditionTrue, corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoSchedule}),
		pod("p1", "a", "100m"), pod("p2", "a", "250m"), pod("p3", "", "1"),
	)
	nodes, err := Nodes(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		ready, schedulable bool
		cpu                string
		pods               int
	}{
		"a": {true, true, "350m", 2},
		"b": {false, false, "0", 0},
		"c": {true, false, "0", 0},
	}
	if len(nodes) != len(want) {
		t.Fatalf("got %d nodes, want %d", len(nodes), len(want))
	}
	for _, n := range nodes {
		w := want[n.Name]
		if n.Ready != w.ready || n.Schedulable != w.schedulable || n.Pods != w.pods || n.Requested.Cpu().String() != w.cpu {
			t.Errorf("%s: ready %t, schedulable %t, %d pods requesting %s; want %+v", n.Name, n.Ready, n.Schedulable, n.Pods, n.Requested.Cpu(), w)
		}
	}
}
