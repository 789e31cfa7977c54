package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// Placement is the enabler's current decision record (zero if none), kept
// by a move to put back if the move is undone.
func (a *Enablers) Placement(ctx context.Context, id string) (scheduler.Decision, error) {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil || e.Placement == nil {
		return scheduler.Decision{}, err
	}
	return *e.Placement, nil
}

// PlaceAway re-places the enabler with its own policy (a manual one by
// worst-fit), excluding the cluster it moves off, holds the capacity and
// records the decision with the move. Until a cluster fits it fails, to be
// retried: the enabler stays where it is, its reason says it waits.
func (a *Enablers) PlaceAway(ctx context.Context, id string, demand scheduler.Demand, move scheduler.Move) error {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil {
		return err
	}
	if m := movedBy(e); m != nil && m.At.Equal(move.At) && e.ClusterID != move.FromID {
		if held, err := a.Planner.Holds(ctx, id); err != nil || held {
			return err // placed by an earlier attempt of this move
		}
	}
	spec := a.spec(e)
	if spec.Target != "" || spec.Policy == scheduler.Manual || spec.Policy == "" {
		spec.Target, spec.Policy = "", scheduler.WorstFit
	}
	spec.Exclude = []scheduler.Exclusion{{ClusterID: move.FromID, Reason: fmt.Sprintf("the enabler is moving off it (%s: %s)", move.Kind, move.Reason)}}
	ctx, stop := heartbeat(ctx)
	defer stop()
	decision, err := a.Planner.Reserve(ctx, id, spec, demand, a.lease(e))
	if err != nil {
		return err
	}
	decision.Move = &move
	if decision.ClusterID == "" {
		reason := fmt.Sprintf("%s from %s waits for a cluster that fits: %s", move.Kind, move.From, decision.Reason)
		if err := a.SetEnablerStatus(ctx, id, store.StatusMoving, reason); err != nil {
			return err
		}
		return errors.New(reason)
	}
	return a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
		e.Placement = &decision
		e.ClusterID, e.Cluster = decision.ClusterID, decision.Cluster
	})
}

func movedBy(e *store.Enabler) *scheduler.Move {
	if e.Placement == nil {
		return nil
	}
	return e.Placement.Move
}

// PutBack undoes PlaceAway: the enabler is on the cluster it was to leave,
// with its previous decision.
func (a *Enablers) PutBack(ctx context.Context, id string, previous scheduler.Decision, move scheduler.Move) error {
	return a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
		e.ClusterID, e.Cluster = move.FromID, move.From
		e.Placement = nil
		if previous.Policy != "" {
			e.Placement = &previous
		}
	})
}

// MarkStale records on the cluster the enabler leaves that its release
// there is to be removed, by the move itself (drain) or when the cluster
// answers again (failover).
func (a *Enablers) MarkStale(ctx context.Context, clusterID, id string) error {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil {
		return err
	}
	return a.Store.Clusters.Modify(ctx, clusterID, func(c *store.Cluster) {
		if !slices.ContainsFunc(c.Stale, func(s store.StaleRelease) bool { return s.EnablerID == id }) {
			c.Stale = append(c.Stale, store.StaleRelease{EnablerID: id, Name: e.Name, Namespace: e.Namespace})
		}
	})
}

// UnmarkStale forgets the enabler's stale release on the cluster.
func (a *Enablers) UnmarkStale(ctx context.Context, clusterID, id string) error {
	err := a.Store.Clusters.Modify(ctx, clusterID, func(c *store.Cluster) {
		c.Stale = slices.DeleteFunc(c.Stale, func(s store.StaleRelease) bool { return s.EnablerID == id })
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// RemoveOldRelease uninstalls the enabler's release on the cluster it has
// left, once its new release is ready (make-before-break), and forgets it.
func (a *Enablers) RemoveOldRelease(ctx context.Context, clusterID, id string) error {
	c, err := a.Store.Clusters.Get(ctx, clusterID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(c.Stale, func(s store.StaleRelease) bool { return s.EnablerID == id })
	if i < 0 {
		return nil // removed already
	}
	if err := removeRelease(ctx, c, c.Stale[i], a.Logger); err != nil {
		return err
	}
	return a.UnmarkStale(ctx, clusterID, id)
}

// PruneMirrorsHere removes the enabler's global service mirrors from the
// cluster it now is on, where its own Services are about to be installed.
func (a *Enablers) PruneMirrorsHere(ctx context.Context, id string) error {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil || len(e.GlobalServices) == 0 {
		return err
	}
	return a.syncMirrors(ctx, e, e.GlobalServices, e.ReleaseRevision, e.Cluster)
}
