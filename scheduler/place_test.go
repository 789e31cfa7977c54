package scheduler

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// nd is a schedulable, empty node of cores and GiB.
func nd(name string, cores, gib int64) Node {
	return Node{Name: name, Schedulable: true, Allocatable: res(cores*1000, gib*Gi)}
}

func edge(name string, nodes ...Node) Cluster {
	return Cluster{ID: "id-" + name, Name: name, Nodes: nodes}
}

func cloud(name string, nodes ...Node) Cluster {
	c := edge(name, nodes...)
	c.Cloud = true
	return c
}

func withTraffic(c Cluster, bps float64, at time.Time) Cluster {
	c.Traffic = &Traffic{BytesPerSecond: bps, At: at}
	return c
}

// web is n pods of cores and GiB.
func web(n int, cores, gib int64) Demand {
	return Demand{Workloads: []Workload{{Kind: "Deployment", Name: "web", Replicas: n, Pod: res(cores*1000, gib*Gi)}}}
}

func candidate(t *testing.T, d Decision, name string) Candidate {
	t.Helper()
	i := slices.IndexFunc(d.Candidates, func(c Candidate) bool { return c.Cluster == name })
	if i < 0 {
		t.Fatalf("no candidate %s in %+v", name, d.Candidates)
	}
	return d.Candidates[i]
}

func names(d Decision) []string {
	var out []string
	for _, c := range d.Candidates {
		out = append(out, c.Cluster)
	}
	return out
}

func mustContain(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s %q does not contain %q", what, s, p)
		}
	}
}

// Three clusters for two pods of 1 core, 1GiB: headroom after placing is
// small 2, mid 6, big 14.
func threeClusters() []Cluster {
	return []Cluster{
		withTraffic(edge("small", nd("small-1", 4, 4)), 100, now),
		withTraffic(edge("mid", nd("mid-1", 8, 8)), 900, now),
		withTraffic(edge("big", nd("big-1", 8, 8), nd("big-2", 8, 8)), 500, now),
	}
}

func TestPlacePolicies(t *testing.T) {
	tests := []struct {
		policy Policy
		want   string
		order  []string
		scores []float64
	}{
		{WorstFit, "big", []string{"big", "mid", "small"}, []float64{14, 6, 2}},
		{BestFit, "small", []string{"small", "mid", "big"}, []float64{-2, -6, -14}},
		{TrafficMost, "mid", []string{"mid", "big", "small"}, []float64{900, 500, 100}},
		{"most_traffic", "mid", []string{"mid", "big", "small"}, []float64{900, 500, 100}},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			d := Place(Request{Policy: tt.policy, Demand: web(2, 1, 1), Clusters: threeClusters(), Now: now, TrafficMaxAge: time.Minute})
			if d.Cluster != tt.want || d.ClusterID != "id-"+tt.want {
				t.Fatalf("chose %q (%s): %s", d.Cluster, d.ClusterID, d.Reason)
			}
			if d.Policy != tt.policy || d.Fallback != "" {
				t.Errorf("policy %q applied %q fallback %q", d.Policy, d.Applied, d.Fallback)
			}
			if !reflect.DeepEqual(names(d), tt.order) {
				t.Errorf("order %v, want %v", names(d), tt.order)
			}
			for i, c := range d.Candidates {
				if !c.Feasible || c.Score != tt.scores[i] {
					t.Errorf("%s: feasible %v score %v, want %v", c.Cluster, c.Feasible, c.Score, tt.scores[i])
				}
			}
			mustContain(t, "reason", d.Reason, tt.want, "fits 2 pods")
			mustContain(t, "chosen reason", d.Candidates[0].Reason, "chosen")
		})
	}
}

func TestPlaceCandidateFigures(t *testing.T) {
	c := edge("e", nd("e-1", 4, 8), nd("e-2", 4, 8), Node{Name: "e-3", Allocatable: res(64000, 64*Gi)})
	c.Nodes[0].Requested = res(1000, 2*Gi)
	c.Nodes[1].Requested = res(5000, Gi) // overcommitted: floored at 0
	c.Nodes[1].Reserved = res(0, 3*Gi)
	d := Place(Request{Policy: WorstFit, Demand: web(1, 1, 1), Clusters: []Cluster{c}})
	got := d.Candidates[0]
	if got.Allocatable != res(8000, 16*Gi) {
		t.Errorf("allocatable %v: the unschedulable node must not count", got.Allocatable)
	}
	if got.Free != res(3000, 10*Gi) {
		t.Errorf("free %v, want cpu 3, memory 10Gi", got.Free)
	}
	if got.Fits != 3 || got.Needed != 1 {
		t.Errorf("fits %d needed %d, want 3 and 1", got.Fits, got.Needed)
	}
	if !reflect.DeepEqual(nodeMap(d.Nodes), map[string]Resources{"e-1": res(1000, Gi)}) {
		t.Errorf("nodes %v", d.Nodes)
	}
}

func TestPlaceNodeLevelFit(t *testing.T) {
	// wide has 8 cores free in total but no node with 3.
	wide := edge("wide", nd("wide-1", 2, 8), nd("wide-2", 2, 8), nd("wide-3", 2, 8), nd("wide-4", 2, 8))
	tall := edge("tall", nd("tall-1", 4, 4))
	d := Place(Request{Policy: WorstFit, Demand: web(1, 3, 1), Clusters: []Cluster{wide, tall}})
	if d.Cluster != "tall" {
		t.Fatalf("chose %q: %s", d.Cluster, d.Reason)
	}
	w := candidate(t, d, "wide")
	if w.Feasible || w.Free != res(8000, 32*Gi) || w.Fits != 0 {
		t.Errorf("wide: %+v", w)
	}
	mustContain(t, "wide reason", w.Reason, "no schedulable node has cpu 3, memory 1Gi free for one pod of Deployment web", "closest: wide-1 with cpu 2, memory 8Gi free")

	// After some pods the rest may not fit: the reason says how far it got.
	d = Place(Request{Policy: WorstFit, Demand: web(3, 3, 1), Clusters: []Cluster{tall, edge("two", nd("two-1", 4, 4), nd("two-2", 4, 4))}})
	if d.ClusterID != "" {
		t.Fatalf("chose %q", d.Cluster)
	}
	mustContain(t, "reason", d.Reason, "no cluster fits 3 pods (largest cpu 3, memory 1Gi, total cpu 9, memory 3Gi)",
		"tall: after placing 1 of 3 pods", "two: after placing 2 of 3 pods")
}

func TestPlaceReservedAndRequestedCount(t *testing.T) {
	busy := edge("busy", nd("busy-1", 4, 4))
	busy.Nodes[0].Reserved = res(2000, 0)
	busy.Nodes[0].Requested = res(1000, 0)
	d := Place(Request{Policy: WorstFit, Demand: web(1, 2, 1), Clusters: []Cluster{busy}})
	if d.ClusterID != "" {
		t.Fatalf("chose %q although only 1 core is unreserved", d.Cluster)
	}
	if c := d.Candidates[0]; c.Free != res(1000, 4*Gi) {
		t.Errorf("free %v", c.Free)
	}
}

func TestPlaceFilters(t *testing.T) {
	pending := edge("pending", nd("pending-1", 64, 64))
	pending.Unavailable = "status Pending"
	cordoned := edge("cordoned", nd("cordoned-1", 64, 64), nd("cordoned-2", 64, 64))
	for i := range cordoned.Nodes {
		cordoned.Nodes[i].Schedulable = false
	}
	mixed := edge("mixed", Node{Name: "mixed-big", Allocatable: res(64000, 64*Gi)}, nd("mixed-small", 2, 2))
	ok := edge("ok", nd("ok-1", 4, 4))

	d := Place(Request{Policy: WorstFit, Demand: web(1, 3, 1), Clusters: []Cluster{pending, cordoned, mixed, ok}})
	if d.Cluster != "ok" {
		t.Fatalf("chose %q: %s", d.Cluster, d.Reason)
	}
	if r := candidate(t, d, "pending").Reason; r != "status Pending" {
		t.Errorf("pending reason %q", r)
	}
	if r := candidate(t, d, "cordoned").Reason; r != "no schedulable node (of 2)" {
		t.Errorf("cordoned reason %q", r)
	}
	m := candidate(t, d, "mixed")
	if m.Feasible || m.Allocatable != res(2000, 2*Gi) {
		t.Errorf("mixed must only count its schedulable node: %+v", m)
	}
	if !reflect.DeepEqual(names(d), []string{"ok", "cordoned", "mixed", "pending"}) {
		t.Errorf("order %v: chosen, then the rest by name", names(d))
	}
}

func TestPlaceCloud(t *testing.T) {
	huge := cloud("cloud", nd("cloud-1", 64, 256))
	small := edge("edge", nd("edge-1", 2, 4))

	// An edge fits: the cloud is not chosen even with more headroom.
	d := Place(Request{Policy: WorstFit, Demand: web(1, 1, 1), Clusters: []Cluster{huge, small}})
	if d.Cluster != "edge" {
		t.Fatalf("chose %q: %s", d.Cluster, d.Reason)
	}
	c := candidate(t, d, "cloud")
	if !c.Feasible || d.Candidates[1].Cluster != "cloud" {
		t.Errorf("cloud should be feasible and ranked after the edge: %v", names(d))
	}
	mustContain(t, "cloud reason", c.Reason, "cloud cluster: only a fallback when no edge fits")

	// No edge fits: the cloud is the fallback.
	d = Place(Request{Policy: BestFit, Demand: web(1, 4, 1), Clusters: []Cluster{small, huge}})
	if d.Cluster != "cloud" {
		t.Fatalf("chose %q: %s", d.Cluster, d.Reason)
	}
	mustContain(t, "reason", d.Reason, "no edge cluster fits")

	// Nothing fits, the cloud included.
	d = Place(Request{Policy: WorstFit, Demand: web(1, 128, 1), Clusters: []Cluster{small, huge}})
	if d.ClusterID != "" {
		t.Fatalf("chose %q", d.Cluster)
	}
	mustContain(t, "reason", d.Reason, "cloud: no schedulable node has cpu 128", "edge: no schedulable node has cpu 128")
}

func TestPlaceTrafficFallback(t *testing.T) {
	stale := withTraffic(edge("stale", nd("stale-1", 8, 8)), 1e6, now.Add(-time.Hour))
	fresh := withTraffic(edge("fresh", nd("fresh-1", 4, 4)), 10, now.Add(-time.Second))
	missing := edge("missing", nd("missing-1", 8, 8))
	broken := edge("broken", nd("broken-1", 8, 8))
	broken.Traffic = &Traffic{Error: "Prometheus unreachable: connection refused"}
	nan := withTraffic(edge("nan", nd("nan-1", 8, 8)), nan(), now)
	infeasible := edge("infeasible", nd("infeasible-1", 1, 1))          // no traffic, but it does not compete
	cloudNoTraffic := cloud("cloud", nd("cloud-1", 64, 64))             // does not compete while an edge fits
	tooSmallCloud := withTraffic(cloud("c2", nd("c2-1", 1, 1)), 0, now) // nor does this one

	tests := []struct {
		name     string
		clusters []Cluster
		want     string
		fallback []string
	}{
		{"all fresh", []Cluster{fresh, infeasible, cloudNoTraffic, tooSmallCloud}, "fresh", nil},
		{"stale", []Cluster{fresh, stale}, "stale", []string{"stale: Prometheus data is stale (at 2025-06-01T11:00:00Z, older than 5m0s)"}},
		{"missing", []Cluster{fresh, missing}, "missing", []string{"missing: no traffic figure gathered"}},
		{"error", []Cluster{fresh, broken}, "broken", []string{"broken: Prometheus unreachable: connection refused"}},
		{"not a number", []Cluster{fresh, nan}, "nan", []string{"nan: traffic figure is not a number"}},
		{"two problems", []Cluster{stale, missing, fresh}, "missing", []string{"stale: Prometheus data is stale", "missing: no traffic figure gathered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Place(Request{Policy: TrafficMost, Demand: web(1, 2, 2), Clusters: tt.clusters, Now: now, TrafficMaxAge: 5 * time.Minute})
			if d.Cluster != tt.want {
				t.Fatalf("chose %q: %s", d.Cluster, d.Reason)
			}
			if tt.fallback == nil {
				if d.Applied != TrafficMost || d.Fallback != "" {
					t.Errorf("applied %q fallback %q", d.Applied, d.Fallback)
				}
				return
			}
			if d.Applied != WorstFit {
				t.Errorf("applied %q, want worst-fit", d.Applied)
			}
			mustContain(t, "fallback", d.Fallback, append([]string{"traffic-most → worst-fit"}, tt.fallback...)...)
			if strings.Contains(d.Fallback, "fresh") {
				t.Errorf("fallback %q names a cluster whose traffic is fine", d.Fallback)
			}
		})
	}

	// Without a maximum age, old figures are used.
	d := Place(Request{Policy: TrafficMost, Demand: web(1, 2, 2), Clusters: []Cluster{fresh, stale}, Now: now})
	if d.Cluster != "stale" || d.Applied != TrafficMost {
		t.Errorf("chose %q by %q", d.Cluster, d.Applied)
	}
	// The sanitised figure survives JSON.
	d = Place(Request{Policy: TrafficMost, Demand: web(1, 2, 2), Clusters: []Cluster{nan}, Now: now})
	if _, err := json.Marshal(d); err != nil {
		t.Error(err)
	}
}

func nan() float64 { var zero float64; return zero / zero }

func TestPlaceManual(t *testing.T) {
	clusters := threeClusters()
	clusters = append(clusters, cloud("cloud", nd("cloud-1", 64, 64)))
	clusters[0].Unavailable = "status Paused"

	tests := []struct {
		name, target, want string
		reason             []string
	}{
		{"feasible", "id-mid", "mid", []string{"manual placement on mid", "fits 1 pods"}},
		{"cloud allowed", "id-cloud", "cloud", []string{"manual placement on cloud"}},
		{"unavailable", "id-small", "", []string{"target cluster small cannot take the demand: status Paused"}},
		{"not found", "id-nowhere", "", []string{`target cluster "id-nowhere" not found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Place(Request{Policy: TrafficMost, Demand: web(1, 1, 1), Clusters: clusters, Target: tt.target})
			if d.Cluster != tt.want || d.Applied != Manual || d.Policy != TrafficMost || d.Fallback != "" {
				t.Fatalf("chose %q, applied %q, policy %q, fallback %q", d.Cluster, d.Applied, d.Policy, d.Fallback)
			}
			mustContain(t, "reason", d.Reason, tt.reason...)
			if tt.name != "not found" && (len(d.Candidates) != 1 || d.Candidates[0].ClusterID != tt.target) {
				t.Errorf("candidates %v: only the target is evaluated", names(d))
			}
		})
	}
	d := Place(Request{Policy: WorstFit, Demand: web(1, 16, 1), Clusters: clusters, Target: "id-big"})
	if d.ClusterID != "" || d.Nodes != nil {
		t.Fatalf("chose %q", d.Cluster)
	}
	mustContain(t, "reason", d.Reason, "target cluster big cannot take the demand: no schedulable node has cpu 16")
}

func TestPlacePolicyErrors(t *testing.T) {
	for policy, want := range map[Policy]string{
		"":          "unknown placement policy",
		"first-fit": "unknown placement policy",
		Manual:      "manual placement needs a target cluster",
	} {
		d := Place(Request{Policy: policy, Demand: web(1, 1, 1), Clusters: threeClusters()})
		if d.ClusterID != "" || d.Applied != "" {
			t.Errorf("policy %q: chose %q by %q", policy, d.Cluster, d.Applied)
		}
		mustContain(t, "reason", d.Reason, want)
	}
}

func TestPlaceNothingFits(t *testing.T) {
	gone := edge("edge-3")
	gone.Unavailable = "API server unreachable: timeout"
	d := Place(Request{Policy: BestFit, Demand: web(2, 4, 8), Clusters: []Cluster{
		edge("edge-2", nd("edge-2-1", 2, 16)), edge("edge-1", nd("edge-1-1", 8, 4)), gone,
	}})
	if d.ClusterID != "" || d.Cluster != "" || d.Nodes != nil {
		t.Fatalf("chose %q", d.Cluster)
	}
	mustContain(t, "reason", d.Reason,
		"no cluster fits 2 pods (largest cpu 4, memory 8Gi, total cpu 8, memory 16Gi): edge-1: no schedulable node",
		"; edge-2: no schedulable node has cpu 4, memory 8Gi free for one pod of Deployment web (closest: edge-2-1 with cpu 2, memory 16Gi free)",
		"; edge-3: API server unreachable: timeout")
	d = Place(Request{Policy: WorstFit, Demand: web(1, 1, 1)})
	mustContain(t, "reason", d.Reason, "no cluster known")
}

func TestPlaceTieBreaks(t *testing.T) {
	// Same headroom (2 copies of a 2-core, 2GiB pod after placing one).
	a := edge("a", nd("a-1", 6, 6))
	b := edge("b", nd("b-1", 7, 6)) // more cpu, same copies
	c := edge("c", nd("c-1", 6, 7)) // more memory, same copies
	d := edge("d", nd("d-1", 6, 6))
	clusters := []Cluster{d, c, b, a}
	first := Place(Request{Policy: WorstFit, Demand: web(1, 2, 2), Clusters: clusters})
	if want := []string{"b", "c", "a", "d"}; !reflect.DeepEqual(names(first), want) {
		t.Fatalf("order %v, want %v", names(first), want)
	}
	// Any input order gives the same decision.
	for _, perm := range [][]Cluster{{a, b, c, d}, {c, a, d, b}, {b, d, a, c}} {
		got := Place(Request{Policy: WorstFit, Demand: web(1, 2, 2), Clusters: perm})
		if !reflect.DeepEqual(got, first) {
			t.Errorf("order %v gave a different decision: %v", names(got), got.Reason)
		}
	}
}

func TestPlaceSpreadsAndPlacesLargestFirst(t *testing.T) {
	// Small pods first would spread 2 + 2 and leave no node for the big one.
	demand := Demand{Workloads: []Workload{
		{Kind: "Deployment", Name: "small", Replicas: 4, Pod: res(1000, Gi)},
		{Kind: "StatefulSet", Name: "big", Replicas: 1, Pod: res(4000, Gi)},
	}}
	d := Place(Request{Policy: WorstFit, Demand: demand, Clusters: []Cluster{edge("e", nd("e-1", 4, 16), nd("e-2", 4, 16))}})
	want := map[string]Resources{"e-1": res(4000, Gi), "e-2": res(4000, 4*Gi)}
	if !reflect.DeepEqual(nodeMap(d.Nodes), want) {
		t.Fatalf("nodes %v, want %v (%s)", d.Nodes, want, d.Reason)
	}

	// Equal nodes get equal shares.
	d = Place(Request{Policy: WorstFit, Demand: web(4, 1, 1), Clusters: []Cluster{edge("e", nd("e-1", 8, 8), nd("e-2", 8, 8))}})
	want = map[string]Resources{"e-1": res(2000, 2*Gi), "e-2": res(2000, 2*Gi)}
	if !reflect.DeepEqual(nodeMap(d.Nodes), want) {
		t.Errorf("nodes %v, want %v", d.Nodes, want)
	}
}

func TestPlacePerNode(t *testing.T) {
	demand := Demand{Workloads: []Workload{
		{Kind: "DaemonSet", Name: "agent", PerNode: true, Pod: res(500, Gi)},
		{Kind: "Deployment", Name: "web", Replicas: 1, Pod: res(1000, Gi)},
	}}
	ok := edge("ok", nd("ok-1", 2, 4), nd("ok-2", 2, 4), Node{Name: "ok-cordoned"})
	tight := edge("tight", nd("tight-1", 2, 4), nd("tight-2", 2, 4))
	tight.Nodes[1].Requested = res(1800, 0)
	d := Place(Request{Policy: WorstFit, Demand: demand, Clusters: []Cluster{ok, tight}})
	if d.Cluster != "ok" {
		t.Fatalf("chose %q: %s", d.Cluster, d.Reason)
	}
	want := map[string]Resources{"ok-1": res(1500, 2*Gi), "ok-2": res(500, Gi)}
	if !reflect.DeepEqual(nodeMap(d.Nodes), want) {
		t.Errorf("nodes %v, want %v", d.Nodes, want)
	}
	if c := candidate(t, d, "ok"); c.Needed != 3 {
		t.Errorf("needed %d, want 3: one agent per schedulable node and the web pod", c.Needed)
	}
	mustContain(t, "tight reason", candidate(t, d, "tight").Reason, "node tight-2 has cpu 200m, memory 4Gi free, less than one pod of DaemonSet agent (cpu 500m, memory 1Gi)")
}

func TestPlaceEmptyDemand(t *testing.T) {
	d := Place(Request{Policy: BestFit, Demand: Demand{}, Clusters: []Cluster{edge("b", nd("b-1", 1, 1)), edge("a", nd("a-1", 1, 1))}})
	if d.Cluster != "a" || d.Nodes != nil {
		t.Errorf("chose %q, nodes %v", d.Cluster, d.Nodes)
	}
}

func TestPlaceTooManyPods(t *testing.T) {
	d := Place(Request{Policy: WorstFit, Demand: web(maxSimulatedPods+1, 0, 0), Clusters: []Cluster{edge("e", nd("e-1", 1, 1))}})
	if d.ClusterID != "" {
		t.Fatalf("chose %q", d.Cluster)
	}
	mustContain(t, "reason", d.Reason, "more than the 10000 a placement simulates")
}

func TestDecisionJSONRoundTrip(t *testing.T) {
	clusters := threeClusters()
	clusters[1].Traffic.At = now.Add(-time.Hour)
	gone := edge("gone")
	gone.Unavailable = "status Error"
	clusters = append(clusters, gone, cloud("cloud", nd("cloud-1", 64, 64)))
	d := Place(Request{Policy: TrafficMost, Demand: web(3, 1, 1), Clusters: clusters, Now: now, TrafficMaxAge: time.Minute})
	if d.Fallback == "" || len(d.Nodes) == 0 {
		t.Fatalf("want a decision with every field set: %+v", d)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "json", string(b), `"total":{"cpu":"3","memory":"3Gi"}`, `"replicasFit":`, `"at":"2025-06-01T11:00:00Z"`)
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("round trip changed the decision:\n%+v\n%+v", d, back)
	}
}

func nodeMap(shares []NodeShare) map[string]Resources {
	if shares == nil {
		return nil
	}
	m := map[string]Resources{}
	for _, s := range shares {
		m[s.Node] = s.Resources
	}
	return m
}
