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
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
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

	// commit serialises deciding and holding within this process. It
	// guards held: the reservation documents as this process last read or
	// wrote them (nil: to be read). A document changed elsewhere since
	// makes the hold's compare-and-swap fail, and the documents are read
	// again.
	commit sync.Mutex
	held   map[string]*store.Reservation
	// reads shares the reading of clusters between placements.
	reads nodeReads
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
	held, err := p.reservations(ctx)
	if err != nil {
		return scheduler.Decision{}, err
	}
	snap, err := p.snapshot(ctx, spec, held)
	if err != nil {
		return scheduler.Decision{}, err
	}
	return p.place(snap, spec, demand, held, ""), nil
}

// regatherAfter is how long gathered cluster state may serve decisions
// taken again after a conflict.
const regatherAfter = 3 * time.Second

// Reserve decides and holds the chosen cluster's capacity for enablerID
// until the hold is released or its lease (a duration from now) ends. Any
// earlier hold of enablerID is replaced.
//
// The cluster state is gathered once, outside any lock; deciding and
// writing the hold are serialised in this process (as a plan applier
// would), so placements running here never conflict with each other. A
// hold written meanwhile by another process makes the compare-and-swap
// fail: the reservations are read again and the decision taken again on
// the state already gathered, which is read again only when it is older
// than regatherAfter or predates capacity freed since.
func (p *Planner) Reserve(ctx context.Context, enablerID string, spec Spec, demand scheduler.Demand, lease time.Duration) (scheduler.Decision, error) {
	held := p.known()
	if held == nil || holding(held, enablerID) {
		if err := p.Release(ctx, enablerID); err != nil {
			return scheduler.Decision{}, err
		}
		var err error
		if held, err = p.reservations(ctx); err != nil {
			return scheduler.Decision{}, err
		}
	}
	for {
		snap, err := p.snapshot(ctx, spec, held)
		if err != nil {
			return scheduler.Decision{}, err
		}
		for {
			var decision scheduler.Decision
			decision, held, err = p.decideAndHold(ctx, snap, spec, demand, enablerID, lease)
			if !errors.Is(err, errConflict) {
				return decision, err
			}
			if errors.Is(err, errStaleState) || time.Since(snap.began) > regatherAfter {
				break
			}
			if err := sleep(ctx, time.Duration(1+rand.IntN(20))*time.Millisecond); err != nil {
				return scheduler.Decision{}, err
			}
		}
	}
}

var (
	// errConflict: another placement wrote the reservations meanwhile.
	errConflict = errors.New("reservations changed")
	// errStaleState: capacity was freed after the cluster state was read,
	// so the pods that took its place may be missing from it.
	errStaleState = fmt.Errorf("%w: capacity freed since the cluster state was read", errConflict)
)

// decideAndHold decides on snap with the reservations and writes the
// chosen cluster's hold, one placement of this process at a time. It
// returns the reservations it decided with, for the next attempt.
func (p *Planner) decideAndHold(ctx context.Context, snap *snapshot, spec Spec, demand scheduler.Demand, enablerID string, lease time.Duration) (scheduler.Decision, map[string]*store.Reservation, error) {
	p.commit.Lock()
	defer p.commit.Unlock()
	if p.held == nil {
		held, err := p.reservations(ctx)
		if err != nil {
			return scheduler.Decision{}, nil, err
		}
		p.held = held
	}
	held := maps.Clone(p.held) // for the caller, outside the lock
	if snap.predates(held) {
		return scheduler.Decision{}, held, errStaleState
	}
	decision := p.place(snap, spec, demand, held, enablerID)
	if decision.ClusterID == "" {
		return decision, held, nil
	}
	written, err := p.hold(ctx, decision, held[decision.ClusterID], enablerID, lease)
	if err != nil {
		p.held = nil
		if errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("%w: %v", errConflict, err)
		}
		return decision, held, err
	}
	p.held[decision.ClusterID] = written
	return decision, held, nil
}

// hold writes the cluster's reservation document r (nil: none yet) with
// enablerID's hold added and the holds whose lease has ended swept, and
// returns what it wrote.
func (p *Planner) hold(ctx context.Context, d scheduler.Decision, r *store.Reservation, enablerID string, lease time.Duration) (*store.Reservation, error) {
	now := time.Now().UTC()
	h := store.Hold{EnablerID: enablerID, Nodes: d.Nodes, Since: now, Expires: now.Add(lease)}
	if r == nil {
		r = &store.Reservation{Meta: store.Meta{ID: d.ClusterID}, Holds: []store.Hold{h}}
		return r, p.Store.Reservations.Insert(ctx, r)
	}
	next := *r
	next.FreedAt = r.Freed(now)
	next.Holds = append(slices.DeleteFunc(slices.Clone(r.Holds), func(h store.Hold) bool { return !h.Live(now) }), h)
	return &next, p.Store.Reservations.Update(ctx, &next)
}

// known is a copy of the reservation documents kept between placements,
// nil when there are none. A hold another process wrote since is missing
// from them: deciding on them is checked by the hold's compare-and-swap, and
// an earlier hold of the enabler being placed, missed, is only capacity
// counted twice until the enabler's holds are released.
func (p *Planner) known() map[string]*store.Reservation {
	p.commit.Lock()
	defer p.commit.Unlock()
	return maps.Clone(p.held)
}

func holding(held map[string]*store.Reservation, enablerID string) bool {
	for _, r := range held {
		if slices.ContainsFunc(r.Holds, func(h store.Hold) bool { return h.EnablerID == enablerID }) {
			return true
		}
	}
	return false
}

// forget drops the reservation documents kept between placements: they
// changed in the store.
func (p *Planner) forget() {
	p.commit.Lock()
	p.held = nil
	p.commit.Unlock()
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
			n := len(r.Holds)
			r.Holds = slices.DeleteFunc(r.Holds, func(h store.Hold) bool { return h.EnablerID == enablerID })
			if len(r.Holds) == n {
				continue
			}
			r.FreedAt = time.Now().UTC()
			err := p.Store.Reservations.Update(ctx, &r)
			p.forget()
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

// OtherHolds counts the live holds of enablers other than enablerID.
func (p *Planner) OtherHolds(ctx context.Context, enablerID string) (int, error) {
	return p.countHolds(ctx, func(h store.Hold) bool { return h.EnablerID != enablerID })
}

// Holds reports whether enablerID holds capacity somewhere.
func (p *Planner) Holds(ctx context.Context, enablerID string) (bool, error) {
	n, err := p.countHolds(ctx, func(h store.Hold) bool { return h.EnablerID == enablerID })
	return n > 0, err
}

func (p *Planner) countHolds(ctx context.Context, match func(store.Hold) bool) (int, error) {
	all, err := p.Store.Reservations.Find(ctx, nil)
	if err != nil {
		return 0, err
	}
	now, n := time.Now(), 0
	for _, r := range all {
		for _, h := range r.Holds {
			if h.Live(now) && match(h) {
				n++
			}
		}
	}
	return n, nil
}

// reservations reads every cluster's reservation document, by cluster id.
func (p *Planner) reservations(ctx context.Context) (map[string]*store.Reservation, error) {
	all, err := p.Store.Reservations.Find(ctx, nil)
	if err != nil {
		return nil, err
	}
	held := make(map[string]*store.Reservation, len(all))
	for i := range all {
		held[all[i].ID] = &all[i]
	}
	return held, nil
}

// place runs the scheduler on the gathered state with the live holds of
// every enabler but ignore.
func (p *Planner) place(snap *snapshot, spec Spec, demand scheduler.Demand, held map[string]*store.Reservation, ignore string) scheduler.Decision {
	now := time.Now()
	return scheduler.Place(scheduler.Request{
		Policy:        spec.Policy,
		Demand:        demand,
		Clusters:      snap.withHolds(held, ignore, now),
		Target:        spec.Target,
		Now:           now,
		TrafficMaxAge: p.trafficMaxAge(),
		Constraints:   spec.Constraints,
		LiveOnly:      spec.LiveOnly,
		Horizon:       spec.horizon(),
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (p *Planner) trafficMaxAge() time.Duration {
	if p.TrafficMaxAge == 0 {
		return 5 * time.Minute
	}
	return p.TrafficMaxAge
}
