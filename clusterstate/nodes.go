// Package clusterstate reads a cluster's nodes with the requests of the pods
// bound to them: what the API's node view, placement and the cluster
// activities need to know of a cluster's capacity and readiness.
package clusterstate

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Node is a node and what its non-terminal pods request.
type Node struct {
	corev1.Node
	Ready       bool
	Schedulable bool
	// Requested sums what the scheduler reserves for the node's pods:
	// containers, init containers (as their maximum), sidecars and overhead.
	Requested corev1.ResourceList
	Pods      int
}

// Nodes lists the cluster's nodes and the non-terminal pods bound to them.
func Nodes(ctx context.Context, client kubernetes.Interface) ([]Node, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.phase!=Succeeded,status.phase!=Failed"})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	requested := map[string]corev1.ResourceList{}
	count := map[string]int{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Spec.NodeName == "" {
			continue
		}
		count[pod.Spec.NodeName]++
		sum := requested[pod.Spec.NodeName]
		if sum == nil {
			sum = corev1.ResourceList{}
			requested[pod.Spec.NodeName] = sum
		}
		for name, q := range resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}) {
			total := sum[name]
			total.Add(q)
			sum[name] = total
		}
	}
	out := make([]Node, 0, len(nodes.Items))
	for i := range nodes.Items {
		n := &nodes.Items[i]
		r := requested[n.Name]
		if r == nil {
			r = corev1.ResourceList{}
		}
		out = append(out, Node{Node: *n, Ready: Ready(n), Schedulable: Schedulable(n), Requested: r, Pods: count[n.Name]})
	}
	return out, nil
}

// Ready reports whether the node's Ready condition is True.
func Ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Schedulable: Ready, not cordoned and without a taint that keeps new pods off.
func Schedulable(n *corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	return Ready(n)
}
