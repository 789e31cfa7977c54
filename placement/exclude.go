package placement

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// exclusions are the clusters no placement may choose now: cordoned by the
// operator, found unreachable by their health probes, or excluded by the
// spec (the cluster a failover or a drain moves an enabler off).
func exclusions(clusters []store.Cluster, spec Spec) []scheduler.Exclusion {
	out := slices.Clone(spec.Exclude)
	for _, c := range clusters {
		if c.Cordon != nil {
			why := "cordoned by the operator since " + c.Cordon.Since.UTC().Format(time.RFC3339)
			if c.Cordon.Reason != "" {
				why += ": " + c.Cordon.Reason
			}
			out = append(out, scheduler.Exclusion{ClusterID: c.ID, Reason: why})
		}
		if h := c.Health; h != nil && h.State == store.HealthUnreachable {
			out = append(out, scheduler.Exclusion{ClusterID: c.ID, Reason: fmt.Sprintf("health Unreachable since %s: %s", h.Since.UTC().Format(time.RFC3339), h.Reason)})
		}
	}
	return out
}

// gatherExcluding gathers the state of the clusters not excluded (an
// excluded cluster is not read: it may be dead) and marks the others
// unavailable with the exclusions' reasons.
func (p *Planner) gatherExcluding(ctx context.Context, clusters []store.Cluster, spec Spec, notBefore func(id string) time.Time, traffic bool) *snapshot {
	excluded := exclusions(clusters, spec)
	var read []store.Cluster
	var skipped []scheduler.Cluster
	for _, c := range clusters {
		if slices.ContainsFunc(excluded, func(x scheduler.Exclusion) bool { return x.ClusterID == c.ID }) {
			skipped = append(skipped, scheduler.Cluster{ID: c.ID, Name: c.Name, Cloud: c.Cloud})
		} else {
			read = append(read, c)
		}
	}
	snap := p.gather(ctx, read, notBefore, traffic, spec.horizon())
	snap.states = scheduler.Exclude(append(snap.states, skipped...), excluded)
	return snap
}
