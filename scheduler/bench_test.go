package scheduler

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkPlace100x50 places a few workloads among 100 clusters of 50
// nodes each, with varied load so that most but not all clusters fit. The
// target is on the tail, so besides the mean it reports the P50 and P99 of
// the individual calls (p50-ms, p99-ms). Every cluster has labels and a
// forecast, and the request a clusterSelector and avoidClusters, so the
// constraint filter and the forecast veto (best-fit, worst-fit) or the
// forecast ranking (traffic-most) run on every cluster.
func BenchmarkPlace100x50(b *testing.B) {
	clusters := make([]Cluster, 100)
	for i := range clusters {
		c := withTraffic(edge(fmt.Sprintf("edge-%03d", i)), float64(i*1000), now)
		for j := range 50 {
			n := nd(fmt.Sprintf("edge-%03d-node-%02d", i, j), 8, 32)
			n.Requested = res(int64((i*7+j*13)%8000), int64((i*11+j*5)%32)*Gi)
			c.Nodes = append(c.Nodes, n)
		}
		c.Labels = map[string]string{"tier": []string{"edge", "gpu", "cpu"}[i%3], "zone": fmt.Sprintf("z%d", i%10)}
		// A peak of up to 399 of the 400 cores: a few clusters are vetoed.
		c.Forecast = &Forecast{Traffic: ptr(float64((100 - i) * 1000)), LiveUsed: ptr(res(100_000, 64*Gi)), PeakUsed: ptr(res(int64(i*4033%400_000), int64(i%16)*Gi))}
		clusters[i] = c
	}
	constraints := Constraints{ClusterSelector: "tier in (edge,gpu),zone!=z9", AvoidClusters: []string{"edge-003", "edge-004"}}
	clusters[99].Cloud = true
	demand := Demand{Workloads: []Workload{
		{Kind: "Deployment", Name: "web", Replicas: 10, Pod: res(500, Gi)},
		{Kind: "StatefulSet", Name: "db", Replicas: 3, Pod: res(2000, 8*Gi)},
		{Kind: "Job", Name: "batch", Replicas: 4, Pod: res(1000, 2*Gi)},
		{Kind: "DaemonSet", Name: "agent", PerNode: true, Pod: res(50, 64*Mi)},
	}}
	for _, policy := range []Policy{WorstFit, BestFit, TrafficMost} {
		b.Run(string(policy), func(b *testing.B) {
			req := Request{Policy: policy, Demand: demand, Clusters: clusters, Now: now, Horizon: time.Hour, Constraints: constraints}
			if d := Place(req); d.ClusterID == "" {
				b.Fatalf("nothing fits: %s", d.Reason)
			} else if d.Forecast == "" || d.Constraints == nil {
				b.Fatalf("forecasts or constraints not applied: %+v", d)
			}
			b.ReportAllocs()
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				Place(req)
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(ms(took[len(took)/2]), "p50-ms")
			b.ReportMetric(ms(took[(len(took)*99)/100]), "p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
