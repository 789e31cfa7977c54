package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Request is everything a placement needs; the caller gathers it.
type Request struct {
	Policy        Policy
	Demand        Demand
	Clusters      []Cluster
	Target        string // manual placement: a cluster ID; only that cluster is evaluated
	Now           time.Time
	TrafficMaxAge time.Duration // traffic older than this (or with Error) is unusable; 0: no age limit
	Constraints   Constraints   // the operator's rules: every cluster they exclude is no candidate
	LiveOnly      bool          // place on live values only (the request's forecast: false)
	Horizon       time.Duration // how far ahead the clusters' forecasts look
}

// Decision is the choice and its explanation, stored and returned by the API.
type Decision struct {
	Policy     Policy      `json:"policy"`             // asked for
	Applied    Policy      `json:"applied"`            // used
	Fallback   string      `json:"fallback,omitempty"` // why Applied differs from Policy
	Demand     Demand      `json:"demand"`
	Total      Resources   `json:"total"`
	Candidates []Candidate `json:"candidates"`          // ranked feasible first (chosen first), then the rest
	ClusterID  string      `json:"clusterId,omitempty"` // the choice; empty when nothing fits
	Cluster    string      `json:"cluster,omitempty"`   // its name
	Reason     string      `json:"reason"`              // why this choice, or why nothing fits
	Nodes      []NodeShare `json:"nodes,omitempty"`     // what the placement puts on each node, by node name: the reservation to take

	Constraints *Constraints `json:"constraints,omitempty"` // the operator's rules applied
	Horizon     string       `json:"horizon,omitempty"`     // how far ahead the forecasts look
	Forecast    string       `json:"forecast,omitempty"`    // how the policy used the forecasts, or why it fell back to live values
	Move        *Move        `json:"move,omitempty"`        // set when a failover or a drain took this decision
}

// Candidate is one cluster's record through the pipeline.
type Candidate struct {
	ClusterID   string    `json:"clusterId"`
	Cluster     string    `json:"cluster"`
	Cloud       bool      `json:"cloud"`
	Allocatable Resources `json:"allocatable"` // schedulable nodes
	Free        Resources `json:"free"`        // schedulable nodes: allocatable − requested − reserved, each node floored at 0
	Fits        int       `json:"replicasFit"` // copies of the demand's largest pod that fit in Free, node by node
	Needed      int       `json:"replicasNeeded"`
	Traffic     *Traffic  `json:"traffic,omitempty"`
	Feasible    bool      `json:"feasible"`
	Score       float64   `json:"score"`
	Reason      string    `json:"reason"`
	Forecast    *Forecast `json:"forecast,omitempty"`   // from Prometheus history; nil when not gathered
	ExcludedBy  string    `json:"excludedBy,omitempty"` // the rule that excluded the cluster: clusterSelector, avoidClusters or forecastPeak
}

// evaluation is a candidate with what the later stages need.
type evaluation struct {
	Candidate
	nodes    []node
	headroom int // copies of the largest pod left after the simulation

	onForecast bool // traffic-most ranks it on its forecast traffic
}

// Place chooses the cluster for req.Demand: filter, fit, score, choose.
func Place(req Request) Decision {
	d := Decision{
		Policy:     req.Policy,
		Demand:     req.Demand,
		Total:      req.Demand.Total(),
		Candidates: []Candidate{},
	}
	p := planOf(req.Demand)
	if !req.Constraints.IsZero() {
		d.Constraints = &req.Constraints
	}
	k, err := compile(req.Constraints)
	if err != nil {
		d.Reason = err.Error()
		return d
	}
	if req.Target != "" {
		return placeManual(req, p, k, d)
	}
	if req.Policy == Manual {
		d.Reason = "manual placement needs a target cluster"
		return d
	}
	policy, err := ParsePolicy(string(req.Policy))
	if err != nil {
		d.Reason = err.Error()
		return d
	}
	d.Applied = policy
	peak := req.forecasting() && (policy == BestFit || policy == WorstFit)
	var noPeak []string
	evals := make([]*evaluation, len(req.Clusters))
	for i, c := range req.Clusters {
		evals[i] = evaluate(c, p)
		k.constrain(evals[i], c)
		if peak {
			if f := vetoPeak(evals[i], c, req); f != "" {
				noPeak = append(noPeak, f)
			}
		}
	}
	pool := competing(evals)
	d.Horizon, d.Forecast = forecastNote(req, peak, evals, noPeak)
	if policy == TrafficMost {
		ranked := false
		if req.forecasting() {
			d.Forecast, ranked = rankOnForecast(pool, req)
		}
		if !ranked {
			if d.Fallback = trafficFallback(pool, req.Now, req.TrafficMaxAge); d.Fallback != "" {
				d.Applied = WorstFit
			}
		}
	}
	for _, e := range evals {
		if e.Feasible {
			e.Score = score(e, d.Applied)
			e.Reason += "; " + scoreReason(e, d.Applied)
		}
	}
	slices.SortFunc(evals, compare)
	noEdgeFits := len(pool) > 0 && pool[0].Cloud
	for _, e := range evals {
		if e.Cloud {
			if noEdgeFits {
				e.Reason += "; cloud cluster: a candidate because no edge cluster fits"
			} else {
				e.Reason += "; cloud cluster: only a fallback when no edge fits"
			}
		}
	}
	if len(pool) == 0 {
		d.Reason = nothingFits(p, d.Total, evals)
	} else {
		why := fmt.Sprintf("%s chose %s: ", d.Applied, evals[0].Cluster)
		if noEdgeFits {
			why = fmt.Sprintf("no edge cluster fits; %s chose the cloud cluster %s: ", d.Applied, evals[0].Cluster)
		}
		choose(&d, evals[0], why)
	}
	d.Candidates = candidates(evals)
	return d
}

// placeManual evaluates only the named cluster.
func placeManual(req Request, p plan, k constraint, d Decision) Decision {
	d.Applied = Manual
	i := slices.IndexFunc(req.Clusters, func(c Cluster) bool { return c.ID == req.Target })
	if i < 0 {
		d.Reason = fmt.Sprintf("target cluster %q not found", req.Target)
		return d
	}
	e := evaluate(req.Clusters[i], p)
	k.constrain(e, req.Clusters[i])
	if !e.Feasible {
		d.Reason = fmt.Sprintf("target cluster %s cannot take the demand: %s", e.Cluster, e.Reason)
	} else {
		e.Score = float64(e.headroom)
		choose(&d, e, "manual placement on "+e.Cluster+": ")
	}
	d.Candidates = candidates([]*evaluation{e})
	return d
}

// evaluate runs the filter and fit stages on one cluster.
func evaluate(c Cluster, p plan) *evaluation {
	e := &evaluation{Candidate: Candidate{
		ClusterID: c.ID,
		Cluster:   c.Name,
		Cloud:     c.Cloud,
		Needed:    p.count,
		Traffic:   sanitized(c.Traffic),
		Forecast:  sanitizedForecast(c.Forecast),
	}}
	nodes, reason := filter(c)
	if reason != "" {
		e.Reason = reason
		return e
	}
	e.Allocatable, e.Free, e.Fits = capacity(nodes, p.largest)
	e.Needed = p.needed(len(nodes))
	if reason := simulate(nodes, p); reason != "" {
		e.Reason = reason
		return e
	}
	e.nodes = nodes
	e.Feasible = true
	e.headroom = headroom(nodes, p.largest)
	used := 0
	for _, n := range nodes {
		if !n.placed.IsZero() {
			used++
		}
	}
	e.Reason = fmt.Sprintf("fits %d pods on %d of %d nodes, then room for %d more of the largest pod (%s)",
		e.Needed, used, len(nodes), e.headroom, p.largest)
	return e
}

// competing returns the feasible clusters the choice is among: the edge
// clusters, or the cloud clusters when no edge cluster fits.
func competing(evals []*evaluation) []*evaluation {
	var edge, cloud []*evaluation
	for _, e := range evals {
		switch {
		case !e.Feasible:
		case e.Cloud:
			cloud = append(cloud, e)
		default:
			edge = append(edge, e)
		}
	}
	if len(edge) > 0 {
		return edge
	}
	return cloud
}

// NodeShare is an amount of one node's capacity. (A list, not a map keyed
// by node name: names hold dots, which document stores refuse in keys.)
type NodeShare struct {
	Node      string    `json:"node" bson:"node"`
	Resources Resources `json:"resources" bson:"resources"`
}

// choose records e as the decision and marks it chosen.
func choose(d *Decision, e *evaluation, why string) {
	d.ClusterID, d.Cluster = e.ClusterID, e.Cluster
	d.Reason = why + e.Reason
	e.Reason = "chosen: " + e.Reason
	for _, n := range e.nodes {
		if !n.placed.IsZero() {
			d.Nodes = append(d.Nodes, NodeShare{Node: n.name, Resources: n.placed})
		}
	}
}

func nothingFits(p plan, total Resources, evals []*evaluation) string {
	s := fmt.Sprintf("no cluster fits %d pods (largest %s, total %s)", p.count, p.largest, total)
	if len(evals) == 0 {
		return s + ": no cluster known"
	}
	reasons := make([]string, len(evals))
	for i, e := range evals {
		reasons[i] = e.Cluster + ": " + e.Reason
	}
	return s + ": " + strings.Join(reasons, "; ")
}

func candidates(evals []*evaluation) []Candidate {
	out := make([]Candidate, len(evals))
	for i, e := range evals {
		out[i] = e.Candidate
	}
	return out
}
