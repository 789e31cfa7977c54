package scheduler

import (
	"cmp"
	"fmt"
	"slices"
)

// maxSimulatedPods bounds the work of one simulation; a chart asking for
// more pods is refused rather than simulated for minutes.
const maxSimulatedPods = 10_000

// plan is the demand in simulation order.
type plan struct {
	perNode []Workload // placed first: they are pinned, one pod per node
	pods    []Workload // largest pod first, then manifest order
	count   int        // pods of pods
	largest Resources  // the largest pod of all workloads
}

func planOf(d Demand) plan {
	var p plan
	for _, w := range d.Workloads {
		switch {
		case w.PerNode:
			p.perNode = append(p.perNode, w)
		case w.Replicas > 0:
			p.pods = append(p.pods, w)
			p.count += w.Replicas
		default:
			continue
		}
		if larger(w.Pod, p.largest) {
			p.largest = w.Pod
		}
	}
	slices.SortStableFunc(p.pods, func(a, b Workload) int {
		return cmp.Or(-cmp.Compare(a.Pod.MilliCPU, b.Pod.MilliCPU), -cmp.Compare(a.Pod.Memory, b.Pod.Memory))
	})
	return p
}

// larger orders pods by cpu, then memory.
func larger(a, b Resources) bool {
	return a.MilliCPU > b.MilliCPU || a.MilliCPU == b.MilliCPU && a.Memory > b.Memory
}

// needed is how many pods the plan places on a cluster of n nodes.
func (p plan) needed(n int) int { return p.count + n*len(p.perNode) }

// simulate is the fit stage: it places every pod of the plan on nodes,
// subtracting as it goes, and returns why it could not, or "".
func simulate(nodes []node, p plan) string {
	if p.count > maxSimulatedPods {
		return fmt.Sprintf("the demand has %d pods, more than the %d a placement simulates", p.count, maxSimulatedPods)
	}
	for _, w := range p.perNode {
		for i := range nodes {
			if !w.Pod.Fits(nodes[i].free) {
				return fmt.Sprintf("node %s has %s free, less than one pod of %s (%s)", nodes[i].name, nodes[i].free, w, w.Pod)
			}
			nodes[i].take(w.Pod)
		}
	}
	placed := 0
	for _, w := range p.pods {
		for range w.Replicas {
			i := roomiest(nodes, w.Pod)
			if i < 0 {
				return noRoom(nodes, w, placed, p.count)
			}
			nodes[i].take(w.Pod)
			placed++
		}
	}
	return ""
}

func (n *node) take(pod Resources) {
	n.free = n.free.Sub(pod)
	n.placed = n.placed.Add(pod)
}

// roomiest returns the node that pod fits on with the most room left,
// or -1. Room is kube-scheduler's LeastAllocated measure: the free share of
// allocatable, cpu and memory averaged. Nodes are sorted by name, so the
// first of equals wins ties.
func roomiest(nodes []node, pod Resources) int {
	best, bestRoom := -1, 0.0
	for i, n := range nodes {
		if !pod.Fits(n.free) {
			continue
		}
		left := n.free.Sub(pod)
		room := share(left.MilliCPU, n.allocatable.MilliCPU) + share(left.Memory, n.allocatable.Memory)
		if best < 0 || room > bestRoom {
			best, bestRoom = i, room
		}
	}
	return best
}

func share(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// noRoom explains a failed placement, naming the node closest to taking
// the pod.
func noRoom(nodes []node, w Workload, placed, count int) string {
	closest, best := nodes[0], -1.0
	for _, n := range nodes {
		r := 1.0
		if w.Pod.MilliCPU > 0 {
			r = share(n.free.MilliCPU, w.Pod.MilliCPU)
		}
		if w.Pod.Memory > 0 {
			r = min(r, share(n.free.Memory, w.Pod.Memory))
		}
		if r > best {
			closest, best = n, r
		}
	}
	s := ""
	if placed > 0 {
		s = fmt.Sprintf("after placing %d of %d pods, ", placed, count)
	}
	return s + fmt.Sprintf("no schedulable node has %s free for one pod of %s (closest: %s with %s free)",
		w.Pod, w, closest.name, closest.free)
}

// headroom is how many more copies of pod fit after the simulation.
func headroom(nodes []node, pod Resources) int {
	n := 0
	for _, nd := range nodes {
		n += copies(nd.free, pod)
	}
	return n
}
