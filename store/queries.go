package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The queries below are the filters for Find, FindOne and Count: only the
// store knows how documents are laid out.

// ByIDOrName selects the document whose id or name is idOrName.
func ByIDOrName(idOrName string) bson.D {
	return bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "_id", Value: idOrName}}, bson.D{{Key: "name", Value: idOrName}}}}}
}

// ByName selects the document named name.
func ByName(name string) bson.D { return bson.D{{Key: "name", Value: name}} }

// ByUsername selects the user named username.
func ByUsername(username string) bson.D { return bson.D{{Key: "username", Value: username}} }

// OtherThan selects every document but the one with id id.
func OtherThan(id string) bson.D {
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$ne", Value: id}}}}
}

// CloudCluster selects the cloud cluster.
func CloudCluster() bson.D { return bson.D{{Key: "cloud", Value: true}} }

// EdgeClusters selects the clusters other than the cloud cluster.
func EdgeClusters() bson.D { return bson.D{{Key: "cloud", Value: false}} }

// HoldingMeshID selects the clusters holding a ClusterMesh cluster id.
func HoldingMeshID() bson.D {
	return bson.D{{Key: "mesh.id", Value: bson.D{{Key: "$exists", Value: true}}}}
}

// MeshPeers selects the clusters c connects with: for an edge the cloud,
// for the cloud the edges; only clusters holding a ClusterMesh id and not
// failed or being removed.
func MeshPeers(c *Cluster) bson.D {
	return bson.D{
		{Key: "_id", Value: bson.D{{Key: "$ne", Value: c.ID}}},
		{Key: "cloud", Value: !c.Cloud},
		{Key: "mesh.id", Value: bson.D{{Key: "$exists", Value: true}}},
		{Key: "status", Value: bson.D{{Key: "$nin", Value: bson.A{StatusError, StatusRemoving}}}},
	}
}

// ListingMeshPeer selects the clusters that list the cluster named name
// among their ClusterMesh peers.
func ListingMeshPeer(name string) bson.D { return bson.D{{Key: "mesh.peers", Value: name}} }

// OnCluster selects the enablers placed on the cluster.
func OnCluster(clusterID string) bson.D { return bson.D{{Key: "clusterId", Value: clusterID}} }

// WithStatus selects the documents having one of the statuses.
func WithStatus(statuses ...string) bson.D {
	return bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: statuses}}}}
}

// UntouchedWithStatus selects the documents having one of the statuses and
// not changed since before cutoff.
func UntouchedWithStatus(cutoff time.Time, statuses ...string) bson.D {
	return append(WithStatus(statuses...), bson.E{Key: "updatedAt", Value: bson.D{{Key: "$lt", Value: cutoff}}})
}

// WithGlobalServices selects the enablers with global services recorded.
func WithGlobalServices() bson.D {
	return bson.D{{Key: "globalServices", Value: bson.D{{Key: "$exists", Value: true}}}}
}

// Modify applies change to the stored document with the given id and
// stores it, reading it again and reapplying change whenever a concurrent
// update got there first.
func (c *Collection[T]) Modify(ctx context.Context, id string, change func(*T)) error {
	for {
		doc, err := c.Get(ctx, id)
		if err != nil {
			return err
		}
		change(doc)
		if err := c.Update(ctx, doc); !errors.Is(err, ErrStale) {
			return err
		}
	}
}
