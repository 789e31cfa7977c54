package scheduler

import "time"

// Exclusion keeps one cluster out of a placement, for a reason the
// decision shows (cordoned by the operator, unreachable, being moved off).
type Exclusion struct {
	ClusterID string
	Reason    string
}

// Exclude marks the excluded clusters unavailable with their reasons, so
// the filter stage rejects them and every decision says why. A cluster
// already unavailable keeps its own reason after the exclusion's.
func Exclude(clusters []Cluster, exclusions []Exclusion) []Cluster {
	out := make([]Cluster, len(clusters))
	for i, c := range clusters {
		for _, x := range exclusions {
			if x.ClusterID != c.ID {
				continue
			}
			if c.Unavailable == "" {
				c.Unavailable = x.Reason
			} else {
				c.Unavailable = x.Reason + "; " + c.Unavailable
			}
		}
		out[i] = c
	}
	return out
}

// Move says that a decision re-placed an enabler off a cluster.
type Move struct {
	Kind   string    `json:"kind" bson:"kind"` // MoveFailover or MoveDrain
	FromID string    `json:"fromClusterId" bson:"fromClusterId"`
	From   string    `json:"from" bson:"from"` // the cluster's name
	Reason string    `json:"reason" bson:"reason"`
	At     time.Time `json:"at" bson:"at"`
}

// Move kinds.
const (
	MoveFailover = "failover"
	MoveDrain    = "drain"
)
