package scheduler

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/labels"
)

// Constraints are the operator's rules on where an enabler may go.
type Constraints struct {
	// ClusterSelector is a Kubernetes label selector ("tier=gpu,zone in (a,b)")
	// matched against each cluster's labels; empty selects every cluster.
	ClusterSelector string `json:"clusterSelector,omitempty"`
	// AvoidClusters are names or ids of clusters the enabler must not go to.
	AvoidClusters []string `json:"avoidClusters,omitempty"`
}

// The rules that exclude a cluster, as Candidate.ExcludedBy names them.
const (
	RuleClusterSelector = "clusterSelector"
	RuleAvoidClusters   = "avoidClusters"
	RuleForecastPeak    = "forecastPeak"
)

// IsZero reports whether c allows every cluster.
func (c Constraints) IsZero() bool { return c.ClusterSelector == "" && len(c.AvoidClusters) == 0 }

// ParseSelector parses a clusterSelector with the Kubernetes label-selector
// grammar (k8s.io/apimachinery/pkg/labels).
func ParseSelector(s string) (labels.Selector, error) {
	return labels.Parse(s)
}

// constraint is Constraints compiled once per placement.
type constraint struct {
	Constraints
	selector labels.Selector
}

func compile(c Constraints) (constraint, error) {
	sel, err := ParseSelector(c.ClusterSelector)
	if err != nil {
		return constraint{}, fmt.Errorf("clusterSelector %q: %v", c.ClusterSelector, err)
	}
	return constraint{Constraints: c, selector: sel}, nil
}

// exclusion returns the rule that excludes cluster c and why, or "".
func (k constraint) exclusion(c Cluster) (rule, reason string) {
	if slices.Contains(k.AvoidClusters, c.Name) || slices.Contains(k.AvoidClusters, c.ID) {
		return RuleAvoidClusters, "excluded by avoidClusters: the request avoids " + c.Name
	}
	if !k.selector.Matches(labels.Set(c.Labels)) {
		have := labels.Set(c.Labels).String()
		if have == "" {
			have = "none"
		}
		return RuleClusterSelector, fmt.Sprintf("excluded by clusterSelector %q: the cluster's labels (%s) do not match", k.ClusterSelector, have)
	}
	return "", ""
}

// constrain applies the operator's constraints to an evaluated cluster:
// an excluded cluster is no candidate, whatever its room.
func (k constraint) constrain(e *evaluation, c Cluster) {
	rule, reason := k.exclusion(c)
	if rule == "" {
		return
	}
	e.Feasible, e.ExcludedBy, e.nodes = false, rule, nil
	e.Reason = reason
}
