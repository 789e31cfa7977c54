// Package placement feeds the scheduler: it computes an enabler's demand
// from its chart rendered with its values, gathers every cluster's state
// (nodes, pod requests, traffic) and keeps the reservations that stop
// concurrent placements from promising the same capacity twice.
package placement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// Planner decides where enablers go.
type Planner struct {
	Store  *store.Store
	Charts *chartrepo.Charts
	// Prometheus is the central Prometheus URL (empty: none); a cluster's
	// own prometheusUrl takes precedence.
	Prometheus string
	// Defaults is what a container without requests is taken to need.
	Defaults scheduler.Resources
	// TrafficMaxAge is how old a traffic figure may be and still count.
	TrafficMaxAge time.Duration
	Logger        *slog.Logger
}

// DefaultPod is the request assumed for a container that declares none
// (the original's defaults).
var DefaultPod = scheduler.Resources{MilliCPU: 100, Memory: 128 << 20}

// Spec is what is to be placed.
type Spec struct {
	Name      string
	Namespace string
	HelmChart string
	Version   string
	Values    map[string]any
	Policy    scheduler.Policy
	// Target is a cluster id for a manual placement, empty for automatic.
	Target string
	// Constraints are the operator's rules on where the enabler may go.
	Constraints scheduler.Constraints
	// LiveOnly places on live values only, without forecasts.
	LiveOnly bool
	// Horizon is how far ahead forecasts look; 0: usage.DefaultHorizon.
	Horizon time.Duration
	// Exclude are clusters this placement must not choose, and why.
	Exclude []scheduler.Exclusion
}

// Demand resolves the chart and renders it with the values; the demand is
// what its pod templates request.
func (p *Planner) Demand(ctx context.Context, spec Spec) (scheduler.Demand, chartrepo.Resolved, error) {
	ch, resolved, err := p.Chart(ctx, spec.HelmChart, spec.Version)
	if err != nil {
		return scheduler.Demand{}, chartrepo.Resolved{}, err
	}
	manifest, err := release.Render(ch, spec.Values, spec.Name, spec.Namespace)
	if err != nil {
		return scheduler.Demand{}, resolved, err
	}
	demand, err := scheduler.DemandOf(manifest, p.defaults())
	if err != nil {
		return scheduler.Demand{}, resolved, fmt.Errorf("%w: %v", release.ErrInvalidValues, err)
	}
	return demand, resolved, nil
}

func (p *Planner) defaults() scheduler.Resources {
	if p.Defaults.IsZero() {
		return DefaultPod
	}
	return p.Defaults
}

// Chart loads the chart ref names at version from the registered
// repositories (with their credentials).
func (p *Planner) Chart(ctx context.Context, ref, version string) (*chart.Chart, chartrepo.Resolved, error) {
	repos, err := p.Store.Repos.Find(ctx, nil)
	if err != nil {
		return nil, chartrepo.Resolved{}, err
	}
	sources := make([]chartrepo.Repository, 0, len(repos))
	for _, r := range repos {
		sources = append(sources, chartrepo.Repository{Name: r.Name, URL: r.URL, Username: r.Username, Password: r.Password})
	}
	return p.Charts.Load(ctx, ref, version, sources)
}

// Preview decides with no side effects.
func (p *Planner) Preview(ctx context.Context, spec Spec, demand scheduler.Demand) (scheduler.Decision, error) {
	d, _, err := p.decide(ctx, spec, demand, "")
	return d, err
}

// Reserve decides and holds the chosen cluster's capacity for enablerID.
// The hold is written with compare-and-swap on the cluster's reservation
// document, read before the cluster's pods: if another placement or a
// release changed it meanwhile, the decision is taken again on fresh state.
// Any earlier hold of enablerID is replaced.
func (p *Planner) Reserve(ctx context.Context, enablerID string, spec Spec, demand scheduler.Demand) (scheduler.Decision, error) {
	if err := p.Release(ctx, enablerID); err != nil {
		return scheduler.Decision{}, err
	}
	for {
		decision, held, err := p.decide(ctx, spec, demand, enablerID)
		if err != nil || decision.ClusterID == "" {
			return decision, err
		}
		err = p.hold(ctx, decision, held[decision.ClusterID], enablerID)
		if errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrNotFound) {
			continue
		}
		return decision, err
	}
}

func (p *Planner) hold(ctx context.Context, d scheduler.Decision, r *store.Reservation, enablerID string) error {
	h := store.Hold{EnablerID: enablerID, Nodes: d.Nodes, Since: time.Now().UTC()}
	if r == nil {
		r = &store.Reservation{Meta: store.Meta{ID: d.ClusterID}, Holds: []store.Hold{h}}
		return p.Store.Reservations.Insert(ctx, r)
	}
	r.Holds = append(r.Holds, h)
	return p.Store.Reservations.Update(ctx, r)
}

// Release drops enablerID's hold, wherever it is.
func (p *Planner) Release(ctx context.Context, enablerID string) error {
	for {
		all, err := p.Store.Reservations.Find(ctx, nil)
		if err != nil {
			return err
		}
		stale := false
		for _, r := range all {
			kept := r.Holds[:0]
			for _, h := range r.Holds {
				if h.EnablerID != enablerID {
					kept = append(kept, h)
				}
			}
			if len(kept) == len(r.Holds) {
				continue
			}
			r.Holds = kept
			err := p.Store.Reservations.Update(ctx, &r)
			if errors.Is(err, store.ErrStale) {
				stale = true
				break
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if !stale {
			return nil
		}
	}
}

// OtherHolds counts the holds of enablers other than enablerID.
func (p *Planner) OtherHolds(ctx context.Context, enablerID string) (int, error) {
	all, err := p.Store.Reservations.Find(ctx, nil)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range all {
		for _, h := range r.Holds {
			if h.EnablerID != enablerID {
				n++
			}
		}
	}
	return n, nil
}

// Holds reports whether enablerID holds capacity somewhere.
func (p *Planner) Holds(ctx context.Context, enablerID string) (bool, error) {
	all, err := p.Store.Reservations.Find(ctx, nil)
	if err != nil {
		return false, err
	}
	for _, r := range all {
		for _, h := range r.Holds {
			if h.EnablerID == enablerID {
				return true, nil
			}
		}
	}
	return false, nil
}

// decide gathers the inputs and runs the scheduler. The reservations are
// read first, so a hold released after its pods appeared is counted twice
// rather than not at all; ignore is an enabler whose own hold does not count.
func (p *Planner) decide(ctx context.Context, spec Spec, demand scheduler.Demand, ignore string) (scheduler.Decision, map[string]*store.Reservation, error) {
	reservations, err := p.Store.Reservations.Find(ctx, nil)
	if err != nil {
		return scheduler.Decision{}, nil, err
	}
	held := map[string]*store.Reservation{}
	for i := range reservations {
		held[reservations[i].ID] = &reservations[i]
	}
	clusters, err := p.Store.Clusters.Find(ctx, nil)
	if err != nil {
		return scheduler.Decision{}, nil, err
	}
	states := p.gatherExcluding(ctx, clusters, spec, held, ignore, spec.Policy == scheduler.TrafficMost && spec.Target == "")
	decision := scheduler.Place(scheduler.Request{
		Policy:        spec.Policy,
		Demand:        demand,
		Clusters:      states,
		Target:        spec.Target,
		Now:           time.Now(),
		TrafficMaxAge: p.trafficMaxAge(),
		Constraints:   spec.Constraints,
		LiveOnly:      spec.LiveOnly,
		Horizon:       spec.horizon(),
	})
	return decision, held, nil
}

func (p *Planner) trafficMaxAge() time.Duration {
	if p.TrafficMaxAge == 0 {
		return 5 * time.Minute
	}
	return p.TrafficMaxAge
}
