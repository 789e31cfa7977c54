package scheduler

import (
	"strings"
	"testing"
)

func labelled(c Cluster, kv ...string) Cluster {
	c.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Labels[kv[i]] = kv[i+1]
	}
	return c
}

func TestPlaceConstraints(t *testing.T) {
	clusters := []Cluster{
		labelled(edge("gpu-1", nd("gpu-1-1", 4, 8)), "tier", "gpu", "zone", "a"),
		labelled(edge("gpu-2", nd("gpu-2-1", 8, 16)), "tier", "gpu", "zone", "b"),
		labelled(edge("cpu-1", nd("cpu-1-1", 16, 32)), "tier", "cpu"),
		edge("plain", nd("plain-1", 32, 64)),
		cloud("cloud", nd("cloud-1", 64, 128)),
	}
	tests := []struct {
		name        string
		policy      Policy
		constraints Constraints
		target      string
		want        string            // chosen cluster, "" for none
		excluded    map[string]string // cluster → rule
		reasons     []string          // in the decision's reason
	}{
		{name: "no constraints: the roomiest edge", policy: WorstFit, want: "plain"},
		{name: "selector by equality", policy: WorstFit, constraints: Constraints{ClusterSelector: "tier=gpu"}, want: "gpu-2",
			excluded: map[string]string{"cpu-1": RuleClusterSelector, "plain": RuleClusterSelector, "cloud": RuleClusterSelector}},
		{name: "selector with set and equality", policy: BestFit, constraints: Constraints{ClusterSelector: "tier in (gpu,cpu),zone!=a"}, want: "gpu-2",
			excluded: map[string]string{"gpu-1": RuleClusterSelector, "plain": RuleClusterSelector, "cloud": RuleClusterSelector}},
		{name: "selector on absence", policy: WorstFit, constraints: Constraints{ClusterSelector: "!tier"}, want: "plain",
			excluded: map[string]string{"gpu-1": RuleClusterSelector, "gpu-2": RuleClusterSelector, "cpu-1": RuleClusterSelector}},
		{name: "avoid by name and by id", policy: WorstFit, constraints: Constraints{AvoidClusters: []string{"plain", "id-cpu-1"}}, want: "gpu-2",
			excluded: map[string]string{"plain": RuleAvoidClusters, "cpu-1": RuleAvoidClusters}},
		{name: "avoid wins over a matching selector", policy: WorstFit, constraints: Constraints{ClusterSelector: "tier=gpu", AvoidClusters: []string{"gpu-2"}}, want: "gpu-1",
			excluded: map[string]string{"gpu-2": RuleAvoidClusters, "cpu-1": RuleClusterSelector, "plain": RuleClusterSelector, "cloud": RuleClusterSelector}},
		{name: "every edge excluded: the cloud if it matches", policy: WorstFit, constraints: Constraints{AvoidClusters: []string{"gpu-1", "gpu-2", "cpu-1", "plain"}}, want: "cloud",
			excluded: map[string]string{"gpu-1": RuleAvoidClusters, "gpu-2": RuleAvoidClusters, "cpu-1": RuleAvoidClusters, "plain": RuleAvoidClusters}},
		{name: "matching nothing: every cluster's reason names the rule", policy: WorstFit, constraints: Constraints{ClusterSelector: "tier=tpu"}, want: "",
			excluded: map[string]string{"gpu-1": RuleClusterSelector, "gpu-2": RuleClusterSelector, "cpu-1": RuleClusterSelector, "plain": RuleClusterSelector, "cloud": RuleClusterSelector},
			reasons:  []string{`gpu-1: excluded by clusterSelector "tier=tpu": the cluster's labels (tier=gpu,zone=a) do not match`, `plain: excluded by clusterSelector "tier=tpu": the cluster's labels (none) do not match`}},
		{name: "malformed selector chooses nothing", policy: WorstFit, constraints: Constraints{ClusterSelector: "tier in (gpu"}, want: "",
			reasons: []string{`clusterSelector "tier in (gpu"`}},
		{name: "manual target excluded by a rule", policy: Manual, target: "id-plain", constraints: Constraints{AvoidClusters: []string{"plain"}}, want: "",
			excluded: map[string]string{"plain": RuleAvoidClusters},
			reasons:  []string{"target cluster plain cannot take the demand: excluded by avoidClusters"}},
		{name: "manual target allowed", policy: Manual, target: "id-gpu-1", constraints: Constraints{ClusterSelector: "tier=gpu"}, want: "gpu-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Place(Request{Policy: tt.policy, Demand: web(1, 1, 1), Clusters: clusters, Target: tt.target, Constraints: tt.constraints, Now: now})
			if d.Cluster != tt.want {
				t.Fatalf("chose %q, want %q: %s", d.Cluster, tt.want, d.Reason)
			}
			for name, rule := range tt.excluded {
				c := candidate(t, d, name)
				if c.Feasible || c.ExcludedBy != rule {
					t.Errorf("%s: feasible %v, excluded by %q, want %q (%s)", name, c.Feasible, c.ExcludedBy, rule, c.Reason)
				}
				mustContain(t, name+"'s reason", c.Reason, "excluded by "+rule)
			}
			for _, c := range d.Candidates {
				if _, ok := tt.excluded[c.Cluster]; !ok && c.ExcludedBy != "" {
					t.Errorf("%s excluded by %s: %s", c.Cluster, c.ExcludedBy, c.Reason)
				}
			}
			mustContain(t, "decision reason", d.Reason, tt.reasons...)
			if !tt.constraints.IsZero() && (d.Constraints == nil || d.Constraints.ClusterSelector != tt.constraints.ClusterSelector) {
				t.Errorf("decision constraints %+v, want %+v", d.Constraints, tt.constraints)
			}
		})
	}
}

func TestParseSelector(t *testing.T) {
	for _, s := range []string{"", "tier=gpu", "tier==gpu,zone!=a", "tier in (gpu, cpu)", "!tier", "tier", "example.com/tier notin (x)"} {
		if _, err := ParseSelector(s); err != nil {
			t.Errorf("ParseSelector(%q): %v", s, err)
		}
	}
	for _, s := range []string{"tier in (gpu", "tier=gpu=x", "=gpu", "tier in gpu", "Tier Name=x", "tier=" + strings.Repeat("a", 64)} {
		if _, err := ParseSelector(s); err == nil {
			t.Errorf("ParseSelector(%q) accepted", s)
		}
	}
}
