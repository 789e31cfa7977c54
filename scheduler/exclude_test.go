package scheduler

import (
	"reflect"
	"strings"
	"testing"
)

func TestExclude(t *testing.T) {
	a := edge("a", nd("a-1", 4, 4))
	b := edge("b", nd("b-1", 4, 4))
	down := edge("down", nd("down-1", 4, 4))
	down.Unavailable = "API server unreachable"
	tests := []struct {
		name       string
		exclusions []Exclusion
		want       map[string]string // cluster id → Unavailable
	}{
		{"none", nil, map[string]string{"id-a": "", "id-b": "", "id-down": "API server unreachable"}},
		{"cordoned", []Exclusion{{ClusterID: "id-a", Reason: "cordoned: maintenance"}},
			map[string]string{"id-a": "cordoned: maintenance", "id-b": "", "id-down": "API server unreachable"}},
		{"two reasons, one cluster", []Exclusion{{ClusterID: "id-b", Reason: "cordoned"}, {ClusterID: "id-b", Reason: "moving off it"}},
			map[string]string{"id-a": "", "id-b": "moving off it; cordoned", "id-down": "API server unreachable"}},
		{"already unavailable keeps its reason", []Exclusion{{ClusterID: "id-down", Reason: "health Unreachable"}},
			map[string]string{"id-a": "", "id-b": "", "id-down": "health Unreachable; API server unreachable"}},
		{"unknown cluster", []Exclusion{{ClusterID: "gone", Reason: "x"}},
			map[string]string{"id-a": "", "id-b": "", "id-down": "API server unreachable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []Cluster{a, b, down}
			got := map[string]string{}
			for _, c := range Exclude(in, tt.exclusions) {
				got[c.ID] = c.Unavailable
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Exclude = %v, want %v", got, tt.want)
			}
			if in[0].Unavailable != "" || in[2].Unavailable != "API server unreachable" {
				t.Error("Exclude changed its input")
			}
		})
	}
}

// An excluded cluster is no candidate, and the decision says why, even for
// a manual placement on it.
func TestExcludedClusterIsNotChosen(t *testing.T) {
	roomy := edge("roomy", nd("roomy-1", 8, 8))
	small := edge("small", nd("small-1", 2, 2))
	clusters := Exclude([]Cluster{roomy, small}, []Exclusion{{ClusterID: "id-roomy", Reason: "cordoned by the operator: maintenance"}})
	d := Place(Request{Policy: WorstFit, Demand: web(1, 1, 1), Clusters: clusters, Now: now})
	if d.ClusterID != "id-small" {
		t.Fatalf("chose %q, want small: %s", d.ClusterID, d.Reason)
	}
	for _, c := range d.Candidates {
		if c.ClusterID == "id-roomy" && (c.Feasible || !strings.Contains(c.Reason, "cordoned by the operator: maintenance")) {
			t.Errorf("roomy: %+v", c)
		}
	}
	d = Place(Request{Policy: Manual, Target: "id-roomy", Demand: web(1, 1, 1), Clusters: clusters, Now: now})
	if d.ClusterID != "" || !strings.Contains(d.Reason, "cordoned by the operator") {
		t.Errorf("manual on a cordoned cluster: %q %s", d.ClusterID, d.Reason)
	}
}
