package scheduler

import (
	"fmt"
	"slices"
	"strings"
)

// node is a schedulable node during the simulation.
type node struct {
	name        string
	allocatable Resources
	free        Resources // shrinks as pods are placed
	placed      Resources
}

// filter is the first stage: it returns the cluster's schedulable nodes,
// sorted by name, or why the cluster is no candidate at all.
func filter(c Cluster) (nodes []node, reason string) {
	if c.Unavailable != "" {
		return nil, c.Unavailable
	}
	nodes = make([]node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		if !n.Schedulable {
			continue
		}
		nodes = append(nodes, node{
			name:        n.Name,
			allocatable: n.Allocatable,
			free:        n.Allocatable.Sub(n.Requested).Sub(n.Reserved).floor(),
		})
	}
	if len(nodes) == 0 {
		return nil, fmt.Sprintf("no schedulable node (of %d)", len(c.Nodes))
	}
	slices.SortFunc(nodes, func(a, b node) int { return strings.Compare(a.name, b.name) })
	return nodes, ""
}

// copies is how many pods of size pod fit in free; a dimension the pod
// does not request does not limit it, and a pod requesting nothing counts 0.
func copies(free, pod Resources) int {
	n := int64(-1)
	if pod.MilliCPU > 0 {
		n = free.MilliCPU / pod.MilliCPU
	}
	if pod.Memory > 0 {
		if m := free.Memory / pod.Memory; n < 0 || m < n {
			n = m
		}
	}
	return int(max(n, 0))
}

// capacity sums the nodes' allocatable and free room, and the copies of
// pod that fit node by node.
func capacity(nodes []node, pod Resources) (allocatable, free Resources, fits int) {
	for _, n := range nodes {
		allocatable = allocatable.Add(n.allocatable)
		free = free.Add(n.free)
		fits += copies(n.free, pod)
	}
	return allocatable, free, fits
}
