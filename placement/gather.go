package placement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/smartorch/smartorch/clusterstate"
	"github.com/smartorch/smartorch/kubeconfig"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/usage"
)

// clusterTimeout bounds reading one cluster: a dead API server makes that
// cluster unavailable, it does not stall the placement.
const clusterTimeout = 10 * time.Second

// snapshot is the state of every cluster as gathered, without the holds.
type snapshot struct {
	states []scheduler.Cluster
	// began is when the oldest read of a cluster began; read has each
	// read cluster's, by cluster id.
	began time.Time
	read  map[string]time.Time
}

// snapshot gathers the state of the clusters spec may go to. It shares
// reads of a cluster's nodes with the placements running at the same time,
// when a read began at most regatherAfter ago and after the cluster's
// capacity was last freed (held tells when).
func (p *Planner) snapshot(ctx context.Context, spec Spec, held map[string]*store.Reservation) (*snapshot, error) {
	clusters, err := p.Store.Clusters.Find(ctx, nil)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	notBefore := func(id string) time.Time {
		t := now.Add(-regatherAfter)
		if r := held[id]; r != nil && r.Freed(now).After(t) {
			t = r.Freed(now)
		}
		return t
	}
	traffic := spec.Policy == scheduler.TrafficMost && spec.Target == ""
	return p.gatherExcluding(ctx, clusters, spec, notBefore, traffic), nil
}

// predates reports whether capacity was freed on a cluster after its state
// was read.
func (s *snapshot) predates(held map[string]*store.Reservation) bool {
	now := time.Now()
	for id, began := range s.read {
		if r := held[id]; r != nil && r.Freed(now).After(began) {
			return true
		}
	}
	return false
}

// withHolds is the snapshot's state with the live holds of every enabler
// but ignore reserved on their nodes.
func (s *snapshot) withHolds(held map[string]*store.Reservation, ignore string, now time.Time) []scheduler.Cluster {
	out := slices.Clone(s.states)
	for i := range out {
		r := held[out[i].ID]
		if r == nil || len(out[i].Nodes) == 0 {
			continue
		}
		reserved := reservedPerNode(r, ignore, now)
		out[i].Nodes = slices.Clone(out[i].Nodes)
		for j := range out[i].Nodes {
			out[i].Nodes[j].Reserved = reserved[out[i].Nodes[j].Name]
		}
	}
	return out
}

// gather reads every cluster's state in parallel; with a horizon, each
// cluster's forecast too, in parallel with its live state.
func (p *Planner) gather(ctx context.Context, clusters []store.Cluster, notBefore func(id string) time.Time, traffic bool, horizon time.Duration) *snapshot {
	snap := &snapshot{states: make([]scheduler.Cluster, len(clusters)), began: time.Now(), read: map[string]time.Time{}}
	began := make([]time.Time, len(clusters))
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Go(func() {
			snap.states[i], began[i] = p.clusterState(ctx, &clusters[i], notBefore(clusters[i].ID), traffic, horizon)
		})
	}
	wg.Wait()
	for i, c := range clusters {
		if began[i].IsZero() {
			continue
		}
		snap.read[c.ID] = began[i]
		if began[i].Before(snap.began) {
			snap.began = began[i]
		}
	}
	return snap
}

// clusterState reads one cluster, and when its read of the nodes began
// (zero when they were not read).
func (p *Planner) clusterState(ctx context.Context, c *store.Cluster, notBefore time.Time, traffic bool, horizon time.Duration) (state scheduler.Cluster, began time.Time) {
	state = scheduler.Cluster{ID: c.ID, Name: c.Name, Cloud: c.Cloud, Labels: c.Labels}
	if c.Status != store.StatusEnabled {
		state.Unavailable = "status " + c.Status
		return state, began
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	if horizon > 0 {
		forecast := p.startForecast(ctx, c, horizon)
		defer func() { state.Forecast = forecast() }() // state is the named result
	}
	nodes, began, err := p.reads.get(ctx, c, notBefore)
	if err != nil {
		state.Unavailable = err.Error()
		return state, began
	}
	state.Nodes = nodes
	if traffic {
		state.Traffic = p.traffic(ctx, c)
	}
	return state, began
}

// readNodes lists the nodes with their allocatable capacity and the requests
// of the non-terminal pods bound to them.
func readNodes(ctx context.Context, c *store.Cluster) ([]scheduler.Node, error) {
	client, _, err := kubeconfig.Client(c.Credentials)
	if err != nil {
		return nil, fmt.Errorf("credentials: %v", err)
	}
	read, err := clusterstate.Nodes(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("API server unreachable: %v", err)
	}
	nodes := make([]scheduler.Node, 0, len(read))
	for _, n := range read {
		nodes = append(nodes, scheduler.Node{
			Name:        n.Name,
			Schedulable: n.Schedulable,
			Allocatable: scheduler.QuantityResources(*n.Status.Allocatable.Cpu(), *n.Status.Allocatable.Memory()),
			Requested:   scheduler.QuantityResources(*n.Requested.Cpu(), *n.Requested.Memory()),
		})
	}
	return nodes, nil
}

func reservedPerNode(r *store.Reservation, ignore string, now time.Time) map[string]scheduler.Resources {
	out := map[string]scheduler.Resources{}
	for _, h := range r.Holds {
		if h.EnablerID == ignore || !h.Live(now) {
			continue
		}
		for _, n := range h.Nodes {
			out[n.Node] = out[n.Node].Add(n.Resources)
		}
	}
	return out
}

// traffic is the cluster's receive rate, or why there is none.
func (p *Planner) traffic(ctx context.Context, c *store.Cluster) *scheduler.Traffic {
	s, err := usage.Client{URL: c.Prometheus(p.Prometheus)}.Traffic(ctx, c.Name)
	switch {
	case errors.Is(err, usage.ErrNoData):
		return &scheduler.Traffic{Error: "Prometheus has no traffic series for cluster_name=" + c.Name}
	case err != nil:
		return &scheduler.Traffic{Error: err.Error()}
	}
	return &scheduler.Traffic{BytesPerSecond: s.Value, At: s.At}
}
