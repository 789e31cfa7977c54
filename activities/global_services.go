package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/smartorch/smartorch/activities/mirror"
	"github.com/smartorch/smartorch/kubeconfig"
	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/store"
)

// SyncGlobalServices mirrors the global services of the enabler's release
// into its target clusters, updates mirrors that changed and removes the
// ones no longer wanted. Conflicts are recorded, not failed on; a cluster
// that cannot be reached is an error worth retrying.
func (a *Enablers) SyncGlobalServices(ctx context.Context, id string) error {
	e, t, err := a.load(ctx, id)
	if err != nil {
		return err
	}
	rel, err := release.Get(ctx, t, e.Name)
	if err != nil {
		return releaseError(e, err)
	}
	found, err := mirror.Find(rel.Manifest, e.Namespace)
	if err != nil {
		return permanentError(ErrorInvalid, "release %s: %v", e.Name, err)
	}
	services := make([]store.GlobalService, 0, len(found))
	for _, s := range found {
		services = append(services, toStored(s))
	}
	return a.syncMirrors(ctx, e, services, rel.Revision, "")
}

// RemoveGlobalServices deletes every mirror of the enabler's global
// services, whatever its status.
func (a *Enablers) RemoveGlobalServices(ctx context.Context, id string) error {
	e, err := a.Store.Enablers.Get(ctx, id)
	if err != nil {
		return err
	}
	return a.syncMirrors(ctx, e, nil, e.ReleaseRevision, "")
}

// MirrorGlobalServicesInto gives a newly joined cluster the mirrors of the
// global services it is a target of.
func (a *Enablers) MirrorGlobalServicesInto(ctx context.Context, clusterID string) error {
	c, err := a.Store.Clusters.Get(ctx, clusterID)
	if err != nil {
		return err
	}
	installed, err := a.Store.Enablers.Find(ctx, store.WithStatus(store.StatusEnabled, store.StatusDegraded))
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range installed {
		if len(e.GlobalServices) == 0 || e.ClusterID == "" || e.ClusterID == c.ID {
			continue
		}
		errs = append(errs, a.syncMirrors(ctx, &e, e.GlobalServices, e.ReleaseRevision, c.Name))
	}
	return errors.Join(errs...)
}

// RemoveMirrorsFrom deletes every mirror in a cluster that is being
// removed, and drops them from their enablers' records.
func (a *Enablers) RemoveMirrorsFrom(ctx context.Context, clusterID string) error {
	c, err := a.Store.Clusters.Get(ctx, clusterID)
	if err != nil {
		return err
	}
	client, _, err := kubeconfig.Client(c.Credentials)
	if err != nil {
		return permanentError(ErrorInvalid, "cluster %s: credentials: %v", c.Name, err)
	}
	owners, err := mirror.RemoveAll(ctx, client)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	recorded, err := a.Store.Enablers.Find(ctx, store.WithGlobalServices())
	if err != nil {
		return err
	}
	for _, e := range recorded {
		if slices.ContainsFunc(e.GlobalServices, func(s store.GlobalService) bool {
			return slices.ContainsFunc(s.Mirrors, func(m store.Mirror) bool { return m.Cluster == c.Name })
		}) {
			owners = append(owners, e.ID)
		}
	}
	slices.Sort(owners)
	for _, id := range slices.Compact(owners) {
		err := a.Store.Enablers.Modify(ctx, id, func(e *store.Enabler) {
			for i := range e.GlobalServices {
				s := &e.GlobalServices[i]
				s.Mirrors = slices.DeleteFunc(s.Mirrors, func(m store.Mirror) bool { return m.Cluster == c.Name })
			}
			setMirrorReason(e)
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// syncMirrors makes the clusters hold exactly the mirrors of services that
// the enabler's targets should have, and records the outcome. With only
// set, it touches that cluster alone and keeps what is recorded for others.
func (a *Enablers) syncMirrors(ctx context.Context, e *store.Enabler, services []store.GlobalService, revision int, only string) error {
	targets, unreachable, err := a.mirrorTargets(ctx, e)
	if err != nil {
		return err
	}
	byName, err := a.clustersByName(ctx)
	if err != nil {
		return err
	}
	// Visit the targets and wherever mirrors were recorded, to prune.
	visit := slices.Clone(targets)
	for _, s := range e.GlobalServices {
		for _, m := range s.Mirrors {
			visit = append(visit, m.Cluster)
		}
	}
	slices.Sort(visit)
	visit = slices.Compact(visit)
	if only != "" {
		visit = slices.DeleteFunc(visit, func(name string) bool { return name != only })
	}

	mirrors := make([][]store.Mirror, len(services))
	var failed []error
	for _, name := range visit {
		c, ok := byName[name]
		if !ok {
			continue // removed: its removal took its mirrors
		}
		var want []store.GlobalService
		if slices.Contains(targets, name) {
			want = services
		}
		if c.Health != nil && c.Health.State == store.HealthUnreachable {
			// A dead cluster does not hold the others up: it is synced when it answers again.
			for i := range want {
				mirrors[i] = append(mirrors[i], store.Mirror{Cluster: name, State: store.MirrorFailed, Reason: "cluster is Unreachable: mirrored when it answers again"})
			}
			continue
		}
		states, err := a.mirrorInto(ctx, c, e, want, revision)
		if err != nil {
			failed = append(failed, fmt.Errorf("cluster %s: %w", name, err))
		}
		for i, m := range states {
			mirrors[i] = append(mirrors[i], m)
		}
	}
	for i := range services {
		for _, name := range unreachable {
			if only == "" || only == name {
				mirrors[i] = append(mirrors[i], store.Mirror{Cluster: name, State: store.MirrorNotConnected, Reason: unreachableReason(name, byName, e.Cluster)})
			}
		}
	}

	err = a.Store.Enablers.Modify(ctx, e.ID, func(rec *store.Enabler) {
		next := make([]store.GlobalService, len(services))
		for i, s := range services {
			next[i] = s
			next[i].Mirrors = mirrors[i]
			if only != "" {
				// Keep what is recorded for the other clusters.
				next[i].Mirrors = append(othersOf(rec.GlobalServices, s, only), mirrors[i]...)
			}
			slices.SortFunc(next[i].Mirrors, func(x, y store.Mirror) int { return strings.Compare(x.Cluster, y.Cluster) })
		}
		rec.GlobalServices = next
		setMirrorReason(rec)
	})
	return errors.Join(append(failed, err)...)
}

// mirrorInto applies want in cluster c and prunes the enabler's other
// mirrors there; it returns one state per service of want.
func (a *Enablers) mirrorInto(ctx context.Context, c store.Cluster, e *store.Enabler, want []store.GlobalService, revision int) ([]store.Mirror, error) {
	states := make([]store.Mirror, len(want))
	client, _, err := kubeconfig.Client(c.Credentials)
	if err != nil {
		for i := range states {
			states[i] = store.Mirror{Cluster: c.Name, State: store.MirrorFailed, Reason: "credentials: " + err.Error()}
		}
		return states, fmt.Errorf("credentials: %w", err)
	}
	owner := mirror.Owner{EnablerID: e.ID, Revision: revision, Source: e.Cluster}
	keep := make([]mirror.Service, 0, len(want))
	var failed []error
	for i, s := range want {
		svc := fromStored(s)
		err := mirror.Apply(ctx, client, svc, owner)
		switch {
		case err == nil:
			states[i] = store.Mirror{Cluster: c.Name, State: store.MirrorSynced}
			keep = append(keep, svc)
		case errors.Is(err, mirror.ErrConflict):
			states[i] = store.Mirror{Cluster: c.Name, State: store.MirrorConflict, Reason: err.Error()}
		default:
			states[i] = store.Mirror{Cluster: c.Name, State: store.MirrorFailed, Reason: err.Error()}
			keep = append(keep, svc) // what is there may still be right
			failed = append(failed, err)
		}
	}
	if err := mirror.Prune(ctx, client, e.ID, keep); err != nil {
		failed = append(failed, err)
	}
	return states, errors.Join(failed...)
}

// mirrorTargets are the names of the clusters the enabler's global
// services go to, and the named targets they cannot go to. Only clusters
// mesh-connected to the enabler's cluster can reach its backends; one that
// is being removed gets none.
func (a *Enablers) mirrorTargets(ctx context.Context, e *store.Enabler) (targets, unreachable []string, err error) {
	if e.ClusterID == "" {
		return nil, nil, nil
	}
	host, err := a.Store.Clusters.Get(ctx, e.ClusterID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	all, err := a.Store.Clusters.Find(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	connected := func(c store.Cluster) bool {
		return host.Mesh != nil && slices.Contains(host.Mesh.Peers, c.Name) && c.Status != store.StatusRemoving
	}
	if e.GlobalTargets == nil {
		for _, c := range all {
			if connected(c) && !c.Cloud {
				targets = append(targets, c.Name)
			}
		}
		return targets, nil, nil
	}
	for _, name := range *e.GlobalTargets {
		i := slices.IndexFunc(all, func(c store.Cluster) bool { return c.Name == name || c.ID == name })
		if i >= 0 && connected(all[i]) {
			targets = append(targets, all[i].Name)
		} else {
			unreachable = append(unreachable, name)
		}
	}
	return targets, unreachable, nil
}

func (a *Enablers) clustersByName(ctx context.Context) (map[string]store.Cluster, error) {
	all, err := a.Store.Clusters.Find(ctx, nil)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]store.Cluster, len(all))
	for _, c := range all {
		byName[c.Name] = c
	}
	return byName, nil
}

func unreachableReason(name string, byName map[string]store.Cluster, host string) string {
	if _, joined := byName[name]; !joined {
		return "no cluster " + name + " is joined"
	}
	return name + " is not mesh-connected to " + host
}

// othersOf are the recorded mirrors of s in clusters other than except.
func othersOf(recorded []store.GlobalService, s store.GlobalService, except string) []store.Mirror {
	var others []store.Mirror
	for _, r := range recorded {
		if r.Name == s.Name && r.Namespace == s.Namespace {
			for _, m := range r.Mirrors {
				if m.Cluster != except {
					others = append(others, m)
				}
			}
		}
	}
	return others
}

// setMirrorReason makes an installed enabler's reason say which mirrors are
// missing (a conflict does not fail the enabler).
func setMirrorReason(e *store.Enabler) {
	if e.Status == store.StatusEnabled {
		e.StatusReason = e.MirrorProblems()
	}
}

func toStored(s mirror.Service) store.GlobalService {
	g := store.GlobalService{Name: s.Name, Namespace: s.Namespace, Ports: make([]store.ServicePort, 0, len(s.Ports)), Mirrors: []store.Mirror{}}
	for _, p := range s.Ports {
		protocol := string(p.Protocol)
		if protocol == "" {
			protocol = string(corev1.ProtocolTCP)
		}
		g.Ports = append(g.Ports, store.ServicePort{Name: p.Name, Port: p.Port, Protocol: protocol})
	}
	return g
}

func fromStored(g store.GlobalService) mirror.Service {
	s := mirror.Service{Name: g.Name, Namespace: g.Namespace}
	for _, p := range g.Ports {
		s.Ports = append(s.Ports, corev1.ServicePort{Name: p.Name, Port: p.Port, Protocol: corev1.Protocol(p.Protocol)})
	}
	return s
}
