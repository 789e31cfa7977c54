package store

import (
	"context"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/smartorch/smartorch/scheduler"
)

// EnablerSummary is what a list shows of an enabler: everything but its
// values (sealed, often secret, and costly to open), what an upgrade
// replaced, and of the placement decision only the outcome.
type EnablerSummary struct {
	Meta            `bson:",inline"`
	Name            string `bson:"name" json:"name"`
	HelmChart       string `bson:"helmChart" json:"helmChart"`
	Version         string `bson:"version,omitempty" json:"version,omitempty"`
	ChartVersion    string `bson:"chartVersion,omitempty" json:"chartVersion,omitempty"`
	Namespace       string `bson:"namespace" json:"namespace"`
	Auto            bool   `bson:"auto" json:"auto"`
	Policy          string `bson:"policy,omitempty" json:"placementPolicy,omitempty"`
	Target          string `bson:"target,omitempty" json:"vim,omitempty"`
	TimeoutSeconds  int    `bson:"timeoutSeconds" json:"timeout"`
	ClusterID       string `bson:"clusterId,omitempty" json:"clusterId,omitempty"`
	Cluster         string `bson:"cluster,omitempty" json:"cluster,omitempty"`
	Status          string `bson:"status" json:"status"`
	StatusReason    string `bson:"statusReason,omitempty" json:"statusReason,omitempty"`
	OperationID     string `bson:"operationId,omitempty" json:"operationId,omitempty"`
	ReleaseRevision int    `bson:"releaseRevision,omitempty" json:"releaseRevision,omitempty"`
	// Placement is the outcome of the placement decision; GET
	// /api/enabler/:id has the whole record.
	Placement *PlacementOutcome `bson:"placement,omitempty" json:"placement,omitempty"`
}

// PlacementOutcome is the policy a placement applied and why it chose what it did.
type PlacementOutcome struct {
	Applied  scheduler.Policy `bson:"applied" json:"applied"`
	Fallback string           `bson:"fallback,omitempty" json:"fallback,omitempty"`
	Reason   string           `bson:"reason" json:"reason"`
}

// EnablerSummaries returns a summary of every enabler, sorted by name
// (which is unique).
func (s *Store) EnablerSummaries(ctx context.Context) ([]EnablerSummary, error) {
	c := s.Enablers
	projection := bson.D{}
	for _, f := range []string{"values", "previous", "volumeCleanup", "globalServices", "globalTargets",
		"placement.candidates", "placement.nodes", "placement.demand", "placement.total"} {
		projection = append(projection, bson.E{Key: f, Value: 0})
	}
	// Sorted here: FerretDB would sort in memory anyway, and callers search
	// the result with Go's string order. Small batches keep each round trip
	// within the client's timeout on FerretDB, which reads slowly.
	cur, err := c.coll.Find(ctx, bson.D{}, options.Find().SetProjection(projection).SetBatchSize(1000))
	if err != nil {
		return nil, c.mapErr(err)
	}
	out := []EnablerSummary{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, c.mapErr(err)
	}
	slices.SortFunc(out, func(a, b EnablerSummary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
