package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/activity"

	"github.com/smartorch/smartorch/activities/mesh"
	"github.com/smartorch/smartorch/kubeconfig"
	"github.com/smartorch/smartorch/store"
)

// maxMeshID is the largest Cilium cluster id of a default installation.
const maxMeshID = 255

func (a *Clusters) meshCluster(c *store.Cluster) (mesh.Cluster, error) {
	client, _, err := kubeconfig.Client(c.Credentials)
	if err != nil {
		return mesh.Cluster{}, permanentError(ErrorInvalid, "cluster %s: credentials: %v", c.Name, err)
	}
	host, err := kubeconfig.Host(c.Credentials)
	if err != nil {
		return mesh.Cluster{}, permanentError(ErrorInvalid, "cluster %s: credentials: %v", c.Name, err)
	}
	return mesh.Cluster{Name: c.Name, Client: client, Host: host}, nil
}

// loadMesh reads the cluster and its ClusterMesh handle.
func (a *Clusters) loadMesh(ctx context.Context, id string) (*store.Cluster, mesh.Cluster, error) {
	c, err := a.Store.Clusters.Get(ctx, id)
	if err != nil {
		return nil, mesh.Cluster{}, err
	}
	mc, err := a.meshCluster(c)
	return c, mc, err
}

// DetectMesh reports whether the cluster runs Cilium with ClusterMesh enabled.
func (a *Clusters) DetectMesh(ctx context.Context, id string) (bool, error) {
	c, mc, err := a.loadMesh(ctx, id)
	if err != nil {
		return false, err
	}
	info, err := mesh.Detect(ctx, mc)
	if err != nil {
		return false, err
	}
	if info.Ready() {
		if err := mesh.ValidateName(c.Name); err != nil {
			return false, permanentError(ErrorInvalid, "cluster %s: %v", c.Name, err)
		}
	}
	return info.Ready(), nil
}

// AllocateMeshID gives the cluster the lowest cluster id no other cluster
// holds, or returns the one it already has. A unique index on the id makes
// concurrent joins safe: the loser of a race takes the next free id. The id
// stays taken until ReleaseMeshID or the cluster's removal.
func (a *Clusters) AllocateMeshID(ctx context.Context, id string) (int, error) {
	for {
		c, err := a.Store.Clusters.Get(ctx, id)
		if err != nil {
			return 0, err
		}
		if c.Mesh != nil {
			return c.Mesh.ID, nil
		}
		holders, err := a.Store.Clusters.Find(ctx, store.HoldingMeshID())
		if err != nil {
			return 0, err
		}
		used := map[int]bool{}
		for _, h := range holders {
			used[h.Mesh.ID] = true
		}
		free := 0
		for n := 1; n <= maxMeshID && free == 0; n++ {
			if !used[n] {
				free = n
			}
		}
		if free == 0 {
			return 0, permanentError(ErrorConflict, "cluster %s: all %d ClusterMesh cluster ids are taken", c.Name, maxMeshID)
		}
		c.Mesh = &store.Mesh{ID: free}
		err = a.Store.Clusters.Update(ctx, c)
		if errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrStale) {
			continue // another join took it, or the record changed: look again
		}
		return free, err
	}
}

// ReleaseMeshID frees the cluster's id.
func (a *Clusters) ReleaseMeshID(ctx context.Context, id string) error {
	err := a.Store.Clusters.Modify(ctx, id, func(c *store.Cluster) { c.Mesh = nil })
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// SetMeshIdentity writes the cluster's name and id into its Cilium configuration.
func (a *Clusters) SetMeshIdentity(ctx context.Context, id string) error {
	c, mc, err := a.loadMesh(ctx, id)
	if err != nil {
		return err
	}
	if c.Mesh == nil {
		return permanentError(ErrorNotFound, "cluster %s has no ClusterMesh id", c.Name)
	}
	_, err = mesh.SetIdentity(ctx, mc, c.Mesh.ID)
	return err
}

// RestoreMeshIdentity puts back the Cilium identity the cluster had before
// it joined; a cluster not in the mesh is left alone.
func (a *Clusters) RestoreMeshIdentity(ctx context.Context, id string) error {
	c, mc, err := a.loadMesh(ctx, id)
	if c != nil && c.Mesh == nil {
		return nil
	}
	if err != nil {
		return err
	}
	return mesh.RestoreIdentity(ctx, mc)
}

// ConnectMesh connects the cluster with its peers, both ways: an edge with
// the cloud, the cloud with every edge that has a ClusterMesh id (so edges
// joined before the cloud are connected when it arrives). Then it restarts
// the Cilium agents of every cluster it changed. It returns the peers.
func (a *Clusters) ConnectMesh(ctx context.Context, id string) ([]string, error) {
	c, local, err := a.loadMesh(ctx, id)
	if err != nil {
		return nil, err
	}
	peers, err := a.Store.Clusters.Find(ctx, store.MeshPeers(c))
	if err != nil {
		return nil, err
	}
	stamp := restartStamp(ctx)
	var names []string
	for _, p := range peers {
		remote, err := a.meshCluster(&p)
		if err != nil {
			return nil, err
		}
		if err := mesh.Connect(ctx, local, remote); err != nil {
			return nil, err
		}
		if err := mesh.Connect(ctx, remote, local); err != nil {
			return nil, err
		}
		if err := a.Store.Clusters.Modify(ctx, p.ID, func(pc *store.Cluster) { pc.Mesh = addPeer(pc.Mesh, c.Name) }); err != nil {
			return nil, err
		}
		if err := mesh.RestartAgents(ctx, remote, stamp); err != nil {
			return nil, err
		}
		names = append(names, p.Name)
	}
	if err := a.Store.Clusters.Modify(ctx, id, func(lc *store.Cluster) {
		for _, n := range names {
			lc.Mesh = addPeer(lc.Mesh, n)
		}
	}); err != nil {
		return nil, err
	}
	return names, mesh.RestartAgents(ctx, local, stamp)
}

// DisconnectMesh removes the cluster from every peer and every peer from
// it, restarting the agents of each cluster changed. Peers that are gone
// are skipped.
func (a *Clusters) DisconnectMesh(ctx context.Context, id string) error {
	c, local, err := a.loadMesh(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// Peers are whoever lists this cluster, and whoever it lists.
	linked, err := a.Store.Clusters.Find(ctx, store.ListingMeshPeer(c.Name))
	if err != nil {
		return err
	}
	if c.Mesh == nil && len(linked) == 0 {
		return nil
	}
	stamp := restartStamp(ctx)
	for _, p := range linked {
		remote, err := a.meshCluster(&p)
		if err != nil {
			return err
		}
		if err := mesh.Disconnect(ctx, remote, c.Name); err != nil {
			return err
		}
		if err := mesh.Disconnect(ctx, local, p.Name); err != nil {
			return err
		}
		if err := a.Store.Clusters.Modify(ctx, p.ID, func(pc *store.Cluster) { pc.Mesh = removePeer(pc.Mesh, c.Name) }); err != nil {
			return err
		}
		if err := mesh.RestartAgents(ctx, remote, stamp); err != nil {
			return err
		}
	}
	if c.Mesh != nil {
		for _, name := range c.Mesh.Peers {
			if err := mesh.Disconnect(ctx, local, name); err != nil {
				return err
			}
		}
	}
	if err := a.Store.Clusters.Modify(ctx, id, func(lc *store.Cluster) {
		if lc.Mesh != nil {
			lc.Mesh.Peers = nil
		}
	}); err != nil {
		return err
	}
	return mesh.RestartAgents(ctx, local, stamp)
}

func addPeer(m *store.Mesh, name string) *store.Mesh {
	if m != nil && !slices.Contains(m.Peers, name) {
		m.Peers = append(m.Peers, name)
		slices.Sort(m.Peers)
	}
	return m
}

func removePeer(m *store.Mesh, name string) *store.Mesh {
	if m != nil {
		m.Peers = slices.DeleteFunc(m.Peers, func(p string) bool { return p == name })
	}
	return m
}

// restartStamp is the same for every attempt of one activity, so a retried
// activity restarts the agents once.
func restartStamp(ctx context.Context) string {
	info := activity.GetInfo(ctx)
	return fmt.Sprintf("%s/%s/%s", info.WorkflowExecution.ID, info.WorkflowExecution.RunID, info.ActivityID)
}
