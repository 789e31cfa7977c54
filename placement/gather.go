package placement

import (
	"context"
	"errors"
	"fmt"
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

// gather reads every cluster's state in parallel; with a horizon, each
// cluster's forecast too, in parallel with its live state.
func (p *Planner) gather(ctx context.Context, clusters []store.Cluster, held map[string]*store.Reservation, ignore string, traffic bool, horizon time.Duration) []scheduler.Cluster {
	out := make([]scheduler.Cluster, len(clusters))
	var wg sync.WaitGroup
	for i := range clusters {
		wg.Go(func() {
			out[i] = p.clusterState(ctx, &clusters[i], held[clusters[i].ID], ignore, traffic, horizon)
		})
	}
	wg.Wait()
	return out
}

func (p *Planner) clusterState(ctx context.Context, c *store.Cluster, r *store.Reservation, ignore string, traffic bool, horizon time.Duration) (state scheduler.Cluster) {
	state = scheduler.Cluster{ID: c.ID, Name: c.Name, Cloud: c.Cloud, Labels: c.Labels}
	if c.Status != store.StatusEnabled {
		state.Unavailable = "status " + c.Status
		return state
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	if horizon > 0 {
		forecast := p.startForecast(ctx, c, horizon)
		defer func() { state.Forecast = forecast() }() // state is the named result
	}
	nodes, err := readNodes(ctx, c)
	if err != nil {
		state.Unavailable = err.Error()
		return state
	}
	reserved := reservedPerNode(r, ignore)
	for i := range nodes {
		nodes[i].Reserved = reserved[nodes[i].Name]
	}
	state.Nodes = nodes
	if traffic {
		state.Traffic = p.traffic(ctx, c)
	}
	return state
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

func reservedPerNode(r *store.Reservation, ignore string) map[string]scheduler.Resources {
	out := map[string]scheduler.Resources{}
	if r == nil {
		return out
	}
	for _, h := range r.Holds {
		if h.EnablerID == ignore {
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
