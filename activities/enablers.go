package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// Enablers are the activities of the enabler workflows.
type Enablers struct {
	Store   *store.Store
	Planner *placement.Planner
	Logger  *slog.Logger
}

func (a *Enablers) spec(e *store.Enabler) placement.Spec {
	return placement.Spec{
		Name: e.Name, Namespace: e.Namespace, HelmChart: e.HelmChart, Version: e.Version,
		Values: e.Values, Policy: scheduler.Policy(e.Policy), Target: e.Target,
		Constraints: scheduler.Constraints{ClusterSelector: e.ClusterSelector, AvoidClusters: e.AvoidClusters},
		LiveOnly:    e.Forecast != nil && !*e.Forecast,
		Horizon:     horizon(e.ForecastHorizon),
	}
}

// horizon parses the stored forecast horizon (checked by the API); empty
// means the default.
func horizon(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

// chartError makes the caller's mistakes (no such chart or version, values
// the chart refuses) permanent; anything else is worth retrying.
func chartError(err error) error {
	if errors.Is(err, chartrepo.ErrChartNotFound) || errors.Is(err, release.ErrInvalidValues) {
		return permanentError(ErrorInvalid, "%v", err)
	}
	return err
}

// Demand resolves the chart version, records it, and returns what the
// chart rendered with the enabler's values requests.
func (a *Enablers) Demand(ctx context.Context, id string) (scheduler.Demand, error) {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil {
		return scheduler.Demand{}, err
	}
	demand, resolved, err := a.Planner.Demand(ctx, a.spec(e))
	if err != nil {
		return scheduler.Demand{}, chartError(err)
	}
	err = a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) { e.ChartVersion = resolved.Version })
	return demand, err
}

// Place chooses the cluster, holds its capacity and records the decision.
// Run again after a crash, it keeps the decision already recorded.
func (a *Enablers) Place(ctx context.Context, id string, demand scheduler.Demand) error {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil {
		return err
	}
	if e.Placement != nil && e.ClusterID != "" {
		if held, err := a.Planner.Holds(ctx, id); err != nil || held {
			return err
		}
	}
	ctx, stop := heartbeat(ctx)
	defer stop()
	decision, err := a.Planner.Reserve(ctx, id, a.spec(e), demand, a.lease(e))
	if err != nil {
		return err
	}
	err = a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
		e.Placement = &decision
		e.ClusterID, e.Cluster = decision.ClusterID, decision.Cluster
	})
	if err != nil {
		return err
	}
	if decision.ClusterID == "" {
		// Capacity held for placements in flight is counted twice while
		// their pods start: nothing fitting is final only once they settle.
		if n, err := a.Planner.OtherHolds(ctx, id); err != nil || n > 0 {
			return errors.Join(err, fmt.Errorf("%s; %d other placements are in flight: trying again once they settle", decision.Reason, n))
		}
		return permanentError(ErrorNoFit, "%s", decision.Reason)
	}
	return nil
}

// holdMargin is added to an enabler's timeout to make the lease of its
// hold: time for the install before the wait for readiness starts.
const holdMargin = 10 * time.Minute

// lease is how long the enabler's placement holds capacity unless released
// sooner: its install and its wait for readiness.
func (a *Enablers) lease(e *store.Enabler) time.Duration {
	return time.Duration(e.TimeoutSeconds)*time.Second + holdMargin
}

// ReleaseReservation drops the enabler's hold on capacity: its pods run (and
// count) or it was given up.
func (a *Enablers) ReleaseReservation(ctx context.Context, id string) error {
	return a.Planner.Release(ctx, id)
}

// load reads the enabler and where its release is.
func (a *Enablers) load(ctx context.Context, id string) (*store.Enabler, release.Target, error) {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil {
		return nil, release.Target{}, err
	}
	t, err := a.target(ctx, e)
	return e, t, err
}

// target is the release's cluster and namespace.
func (a *Enablers) target(ctx context.Context, e *store.Enabler) (release.Target, error) {
	c, err := a.Store.Clusters.Get(ctx, e.ClusterID)
	if err != nil {
		return release.Target{}, err
	}
	return release.Target{Kubeconfig: c.Credentials, Namespace: e.Namespace, Logger: a.Logger}, nil
}

// Install installs the release on the chosen cluster, or adopts the one an
// earlier attempt installed.
func (a *Enablers) Install(ctx context.Context, id string) error {
	e, t, err := a.load(ctx, id)
	if err != nil {
		return err
	}
	ch, _, err := a.Planner.Chart(ctx, e.HelmChart, e.ChartVersion)
	if err != nil {
		return chartError(err)
	}
	ctx, stop := heartbeat(ctx)
	defer stop()
	rel, err := release.Install(ctx, t, ch, e.Name, e.ID, e.Values)
	if err != nil {
		return releaseError(e, err)
	}
	return a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) { e.ReleaseRevision = rel.Revision })
}

// WaitReady waits until the release's workloads are ready, within the
// enabler's timeout, heartbeating meanwhile.
func (a *Enablers) WaitReady(ctx context.Context, id string) error {
	e, t, err := a.load(ctx, id)
	if err != nil {
		return err
	}
	ctx, stop := heartbeat(ctx)
	defer stop()
	timeout := time.Duration(e.TimeoutSeconds) * time.Second
	err = release.WaitReady(ctx, t, e.Name, timeout)
	if errors.Is(err, release.ErrNotReady) {
		return temporal.NewApplicationError(fmt.Sprintf("release %s on %s not ready within %s: %v", e.Name, e.Cluster, timeout, err), ErrorNotReady)
	}
	if err != nil {
		return fmt.Errorf("release %s on %s: %w", e.Name, e.Cluster, err)
	}
	return nil
}

// Uninstall removes the release if it is there and ours.
func (a *Enablers) Uninstall(ctx context.Context, id string) error {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil || e.ClusterID == "" {
		return err
	}
	t, err := a.target(ctx, e)
	if err != nil {
		return err
	}
	ctx, stop := heartbeat(ctx)
	defer stop()
	err = release.Uninstall(ctx, t, e.Name, e.ID)
	if errors.Is(err, release.ErrNotOwned) {
		// Not ours: nothing of ours to undo.
		return nil
	}
	return err
}

// SetEnablerStatus records the enabler's status and its reason.
func (a *Enablers) SetEnablerStatus(ctx context.Context, id, status, reason string) error {
	return a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
		e.Status, e.StatusReason = status, reason
		if reason == "" {
			setMirrorReason(e)
		}
	})
}

// EnablerRef names an enabler.
type EnablerRef struct {
	ID   string
	Name string
}

// EnablersOn lists the enablers placed on a cluster.
func (a *Enablers) EnablersOn(ctx context.Context, clusterID string) ([]EnablerRef, error) {
	on, err := a.Store.Enablers.Find(ctx, store.OnCluster(clusterID))
	if err != nil {
		return nil, err
	}
	refs := make([]EnablerRef, 0, len(on))
	for _, e := range on {
		refs = append(refs, EnablerRef{ID: e.ID, Name: e.Name})
	}
	return refs, nil
}

// Detach marks an enabler whose release is gone Terminated and no longer
// on any cluster; its record (values, last placement) stays, so it can be
// instantiated again.
func (a *Enablers) Detach(ctx context.Context, id, reason string) error {
	return a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
		e.Status, e.StatusReason = store.StatusTerminated, reason
		e.ClusterID, e.Cluster = "", ""
	})
}

// DeleteEnablerRecord deletes the enabler's record; gone already is done.
func (a *Enablers) DeleteEnablerRecord(ctx context.Context, id string) error {
	err := a.Store.Enablers.Delete(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// CleanupVolumes deletes the release's claims and the volumes they leave
// behind, waits until they are gone, and records and returns the report.
func (a *Enablers) CleanupVolumes(ctx context.Context, id string) ([]store.Volume, error) {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	deleted := []store.Volume{}
	if e.ClusterID != "" {
		t, err := a.target(ctx, e)
		if err != nil {
			return nil, err
		}
		ctx, stop := heartbeat(ctx)
		defer stop()
		vols, err := release.DeleteVolumes(ctx, t, e.Name)
		if errors.Is(err, release.ErrVolumesInUse) {
			return nil, permanentError(ErrorConflict, "%v: terminate the enabler first", err)
		}
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			deleted = append(deleted, store.Volume(v))
		}
	}
	err = a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
		e.VolumeCleanup = &store.VolumeCleanup{At: time.Now().UTC(), Deleted: deleted}
	})
	return deleted, err
}

// CurrentRevision is the release's latest revision, which an upgrade that
// fails rolls back to.
func (a *Enablers) CurrentRevision(ctx context.Context, id string) (int, error) {
	e, t, err := a.load(ctx, id)
	if err != nil {
		return 0, err
	}
	rel, err := release.Get(ctx, t, e.Name)
	if errors.Is(err, release.ErrReleaseNotFound) {
		return 0, permanentError(ErrorNotFound, "release %s is not installed on %s: instantiate the enabler again", e.Name, e.Cluster)
	}
	return rel.Revision, err
}

// Upgrade upgrades the release to the version and values now in the record.
func (a *Enablers) Upgrade(ctx context.Context, id string) error {
	e, t, err := a.load(ctx, id)
	if err != nil {
		return err
	}
	ch, resolved, err := a.Planner.Chart(ctx, e.HelmChart, e.Version)
	if err != nil {
		return chartError(err)
	}
	ctx, stop := heartbeat(ctx)
	defer stop()
	rel, err := release.Upgrade(ctx, t, ch, e.Name, e.ID, e.Values, release.ReplaceValues)
	if err != nil {
		return releaseError(e, err)
	}
	return a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) { e.ChartVersion, e.ReleaseRevision = resolved.Version, rel.Revision })
}

// RevertUpgrade rolls the release back to revision and puts the version
// and values the upgrade replaced back into the record.
func (a *Enablers) RevertUpgrade(ctx context.Context, id string, revision int) error {
	e, t, err := a.load(ctx, id)
	if err != nil {
		return err
	}
	ctx, stop := heartbeat(ctx)
	defer stop()
	rel, err := release.Rollback(ctx, t, e.Name, e.ID, revision)
	if err != nil {
		return releaseError(e, err)
	}
	return a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
		if p := e.Previous; p != nil {
			e.Version, e.ChartVersion, e.Values = p.Version, p.ChartVersion, p.Values
		}
		e.Previous, e.ReleaseRevision = nil, rel.Revision
	})
}

// Rollback rolls the release back to revision (0: the previous one) and
// records the version and values now deployed.
func (a *Enablers) Rollback(ctx context.Context, id string, revision int) error {
	e, t, err := a.load(ctx, id)
	if err != nil {
		return err
	}
	ctx, stop := heartbeat(ctx)
	defer stop()
	rel, err := release.Rollback(ctx, t, e.Name, e.ID, revision)
	if err != nil {
		return releaseError(e, err)
	}
	return a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
		e.ChartVersion, e.Values, e.ReleaseRevision, e.Previous = rel.ChartVersion, rel.Values, rel.Revision, nil
	})
}

// releaseError makes the errors no retry can fix permanent.
func releaseError(e *store.Enabler, err error) error {
	switch {
	case errors.Is(err, release.ErrNotOwned):
		return permanentError(ErrorConflict, "cluster %s: release %s was not installed by this enabler: %v", e.Cluster, e.Name, err)
	case errors.Is(err, release.ErrReleaseNotFound), errors.Is(err, release.ErrRevisionNotFound):
		return permanentError(ErrorNotFound, "cluster %s: %v", e.Cluster, err)
	}
	return err
}

// EnablerRecorded fails, to be retried, until the enabler's record exists:
// the API starts a new enabler's workflow before it writes the record.
func (a *Enablers) EnablerRecorded(ctx context.Context, id string) error {
	return untilRecorded(ctx, func(ctx context.Context) error {
		_, err := a.Store.Enablers.Get(ctx, id)
		return err
	})
}

// untilRecorded calls get until it finds the record, for up to five seconds:
// the API writes it right after starting the workflow, and an attempt that
// fails is logged as an error.
func untilRecorded(ctx context.Context, get func(context.Context) error) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := get(ctx)
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
