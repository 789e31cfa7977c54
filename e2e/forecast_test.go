package e2e

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/smartorch/smartorch/testenv"
)

// forecastDecision is a placement decision with its forecast and
// constraint fields.
type forecastDecision struct {
	Policy, Applied, Fallback string
	Cluster                   string
	Reason                    string
	Horizon, Forecast         string
	Constraints               *struct {
		ClusterSelector string
		AvoidClusters   []string
	}
	Candidates []struct {
		Cluster    string
		Feasible   bool
		Reason     string
		ExcludedBy string
		Traffic    *struct{ BytesPerSecond float64 }
		Forecast   *struct {
			TrafficBytesPerSecond *float64
			PeakUsed              *struct{ CPU, Memory string }
			Error                 string
		}
	}
}

func (d forecastDecision) candidate(t *testing.T, name string) int {
	t.Helper()
	for i, c := range d.Candidates {
		if c.Cluster == name {
			return i
		}
	}
	t.Fatalf("no candidate %s in %+v", name, d.Candidates)
	return -1
}

// TestForecastPlacement writes a day of history into the test Prometheus
// (a promtool backfill) and places on it: edge-3 is quiet now but was busy
// in the coming hour a day ago, when its CPU was nearly all in use; edge-2
// the other way round; edge-1 and the cloud have no history.
func TestForecastPlacement(t *testing.T) {
	const gi = 1 << 30
	begin := time.Now()
	from, to := begin.Add(-26*time.Hour), begin.Add(-21*time.Hour)
	steady := func(traffic float64, cpus int, busy, memory, used float64) func(time.Time) testenv.NodeLoad {
		return func(time.Time) testenv.NodeLoad {
			return testenv.NodeLoad{ReceiveBytesPerSecond: traffic, CPUs: cpus, BusyCores: busy, MemoryTotal: memory, MemoryUsed: used}
		}
	}
	history := append(
		testenv.NodeHistory("edge-2", "edge-2-node-1", from, to, time.Minute, steady(5e5, 4, 0.5, 8*gi, gi)),
		testenv.NodeHistory("edge-3", "edge-3-node-1", from, to, time.Minute, steady(8e6, 8, 7.9, 16*gi, 4*gi))...)
	env := testenv.Start(t, testenv.Options{
		Temporal: true, Prometheus: true, ChartRepo: true, History: history,
		Clusters: placementClusters,
	})
	o := startOrchestrator(t, env)
	for _, c := range env.Clusters {
		var extra map[string]any
		if c.Name == "edge-1" {
			extra = map[string]any{"labels": map[string]string{"tier": "gpu"}}
		}
		if code, a := o.join(c, extra, "2m"); code != 202 || a.Cluster.Status != "Enabled" {
			t.Fatalf("join %s: %d %+v", c.Name, code, a)
		}
	}
	o.addTestRepo(env.ChartRepo.URL)
	setTraffic(t, env, map[string]float64{"cloud": 9e6, "edge-1": 1e6, "edge-2": 5e6, "edge-3": 2e5})
	two := map[string]any{"replicaCount": 2}
	preview := func(t *testing.T, body map[string]any) forecastDecision {
		t.Helper()
		var d forecastDecision
		if code := o.call("POST", "/api/placement/preview", body, &d); code != 200 {
			t.Fatalf("preview %v: %d", body, code)
		}
		return d
	}
	with := func(body map[string]any, kv ...any) map[string]any {
		for i := 0; i+1 < len(kv); i += 2 {
			body[kv[i].(string)] = kv[i+1]
		}
		return body
	}

	t.Run("traffic-most ranks on forecast traffic: the cluster quiet now but busy soon wins", func(t *testing.T) {
		d := preview(t, with(enablerBody("soon", testenv.ChartWeb, "traffic-most", two), "avoidClusters", []string{"edge-1"}))
		if d.Cluster != "edge-3" || d.Applied != "traffic-most" || d.Horizon != "1h" || !strings.Contains(d.Forecast, "ranked on forecast traffic") {
			t.Fatalf("chose %s by %s (%s; horizon %q), want edge-3 on forecast traffic", d.Cluster, d.Applied, d.Forecast, d.Horizon)
		}
		e3 := d.Candidates[d.candidate(t, "edge-3")]
		if f := e3.Forecast; f == nil || f.TrafficBytesPerSecond == nil || math.Abs(*f.TrafficBytesPerSecond-8e6) > 4e5 || e3.Traffic == nil || e3.Traffic.BytesPerSecond > 1e6 {
			t.Errorf("edge-3: live %+v, forecast %+v; want about 0.2 MB/s live and 8 MB/s forecast", e3.Traffic, e3.Forecast)
		}
		if e1 := d.Candidates[d.candidate(t, "edge-1")]; e1.ExcludedBy != "avoidClusters" || !strings.Contains(e1.Reason, "excluded by avoidClusters") {
			t.Errorf("edge-1: excluded by %q: %s", e1.ExcludedBy, e1.Reason)
		}

		live := preview(t, with(enablerBody("soon", testenv.ChartWeb, "traffic-most", two), "avoidClusters", []string{"edge-1"}, "forecast", false))
		if live.Cluster != "edge-2" || !strings.HasPrefix(live.Forecast, "off") {
			t.Errorf("forecast: false chose %s (%s), want edge-2 on live traffic", live.Cluster, live.Forecast)
		}
	})

	t.Run("without history for a competitor traffic-most falls back to live traffic and says so", func(t *testing.T) {
		d := preview(t, enablerBody("fallback", testenv.ChartWeb, "traffic-most", two))
		if d.Cluster != "edge-2" || d.Applied != "traffic-most" {
			t.Fatalf("chose %s by %s, want edge-2 on live traffic", d.Cluster, d.Applied)
		}
		for _, want := range []string{"fell back to live traffic", "edge-1: no history of traffic or CPU and memory in use for cluster_name=edge-1"} {
			if !strings.Contains(d.Forecast, want) {
				t.Errorf("forecast note %q does not say %q", d.Forecast, want)
			}
		}
	})

	t.Run("worst-fit vetoes a forecast peak that would not hold the enabler, and the record says so", func(t *testing.T) {
		e := o.instantiate(enablerBody("peak", testenv.ChartWeb, "worst-fit", two))
		if e.Status != "Enabled" || e.Cluster != "edge-2" {
			t.Fatalf("peak: %+v, want Enabled on edge-2 (edge-3 vetoed)", e)
		}
		var got struct{ Placement forecastDecision }
		if code := o.call("GET", "/api/enabler/peak", nil, &got); code != 200 {
			t.Fatalf("get peak: %d", code)
		}
		d := got.Placement
		e3 := d.Candidates[d.candidate(t, "edge-3")]
		if e3.Feasible || e3.ExcludedBy != "forecastPeak" || e3.Forecast == nil || e3.Forecast.PeakUsed == nil {
			t.Fatalf("edge-3: %+v, want vetoed by forecastPeak with its peak", e3)
		}
		for _, want := range []string{"vetoed by forecastPeak (worst-fit)", "uses cpu 7900m", "leaving cpu 100m", "less than the cpu 200m, memory 256Mi the enabler needs"} {
			if !strings.Contains(e3.Reason, want) {
				t.Errorf("edge-3's reason %q does not say %q", e3.Reason, want)
			}
		}
		if e1 := d.Candidates[d.candidate(t, "edge-1")]; !strings.Contains(e1.Reason, "no forecast peak (no history") || !strings.Contains(e1.Reason, "checked on live values only") {
			t.Errorf("edge-1's reason %q does not state the fallback to live values", e1.Reason)
		}
		if !strings.Contains(d.Forecast, "vetoed edge-3") || !strings.Contains(d.Forecast, "fell back to live values for cloud") || d.Horizon != "1h" {
			t.Errorf("forecast note %q (horizon %q)", d.Forecast, d.Horizon)
		}
	})

	t.Run("labels and clusterSelector", func(t *testing.T) {
		var c struct {
			Labels      map[string]string
			Description string
		}
		if code := o.call("PATCH", "/api/k8sclusters/edge-3", map[string]any{"labels": map[string]string{"tier": "gpu", "zone": "b"}, "description": "gpu edge"}, &c); code != 200 || c.Labels["tier"] != "gpu" || c.Description != "gpu edge" {
			t.Fatalf("patch edge-3: %d %+v", code, c)
		}
		e := o.instantiate(with(enablerBody("gpu", testenv.ChartWeb, "best-fit", two), "clusterSelector", "tier=gpu"))
		if e.Status != "Enabled" || e.Cluster != "edge-1" {
			t.Fatalf("gpu: %+v, want Enabled on edge-1 (best-fit among tier=gpu)", e)
		}
		if pods := releasePods(t, env.Cluster("edge-1"), "gpu"); len(pods) != 2 {
			t.Errorf("%d pods of gpu on edge-1, want 2", len(pods))
		}
		d := preview(t, with(enablerBody("gpu-b", testenv.ChartWeb, "best-fit", two), "clusterSelector", "tier=gpu,zone=b", "forecast", false))
		if d.Cluster != "edge-3" || d.Constraints == nil || d.Constraints.ClusterSelector != "tier=gpu,zone=b" {
			t.Errorf("tier=gpu,zone=b chose %s (%+v)", d.Cluster, d.Constraints)
		}
		for _, name := range []string{"cloud", "edge-1", "edge-2"} {
			if c := d.Candidates[d.candidate(t, name)]; c.ExcludedBy != "clusterSelector" {
				t.Errorf("%s excluded by %q: %s", name, c.ExcludedBy, c.Reason)
			}
		}

		var none struct {
			Code    int
			Message string
			Details forecastDecision
		}
		if code := o.call("POST", "/api/placement/preview", with(enablerBody("tpu", testenv.ChartWeb, "worst-fit", two), "clusterSelector", "tier=tpu"), &none); code != 422 {
			t.Fatalf("a selector matching nothing: %d, want 422", code)
		}
		if len(none.Details.Candidates) != 4 {
			t.Fatalf("422 details %+v, want every cluster", none.Details)
		}
		for _, c := range none.Details.Candidates {
			if c.Feasible || c.ExcludedBy != "clusterSelector" || !strings.Contains(c.Reason, `excluded by clusterSelector "tier=tpu"`) || !strings.Contains(none.Message, c.Cluster+": excluded by clusterSelector") {
				t.Errorf("%s: excluded by %q, reason %q; message %q", c.Cluster, c.ExcludedBy, c.Reason, none.Message)
			}
		}
	})

	t.Run("bad constraints and labels are 4xx naming the field, and store nothing", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			body         map[string]any
			code         int
			want         string
		}{
			{"POST", "/api/placement/preview", with(enablerBody("x", testenv.ChartWeb, "", nil), "clusterSelector", "tier in (gpu"), 400, "clusterSelector"},
			{"POST", "/api/enabler", with(enablerBody("x", testenv.ChartWeb, "", nil), "clusterSelector", "=gpu"), 400, "clusterSelector"},
			{"POST", "/api/enabler", with(enablerBody("x", testenv.ChartWeb, "", nil), "avoidClusters", []string{"edge-9"}), 422, "avoidClusters"},
			{"POST", "/api/enabler", with(enablerBody("x", testenv.ChartWeb, "", nil), "forecastHorizon", "3d"), 400, "forecastHorizon"},
			{"POST", "/api/enabler", with(enablerBody("x", testenv.ChartWeb, "", nil), "forecastHorizon", "48h"), 400, "forecastHorizon"},
			{"POST", "/api/enabler", with(enablerBody("x", testenv.ChartWeb, "", nil), "forecast", "maybe"), 400, "forecast"},
			{"PATCH", "/api/k8sclusters/edge-2", map[string]any{"labels": map[string]string{"bad key": "x"}}, 400, "labels"},
			{"PATCH", "/api/k8sclusters/edge-2", map[string]any{"labels": map[string]string{"tier": "not a value"}}, 400, "labels"},
			{"PATCH", "/api/k8sclusters/edge-2", map[string]any{}, 400, "labels"},
			{"PATCH", "/api/k8sclusters/nope", map[string]any{"description": "x"}, 404, "nope"},
		} {
			var e struct{ Message string }
			if code := o.call(tc.method, tc.path, tc.body, &e); code != tc.code || !strings.Contains(e.Message, tc.want) {
				t.Errorf("%s %s %v: %d %q, want %d naming %s", tc.method, tc.path, tc.body, code, e.Message, tc.code, tc.want)
			}
		}
		var labels struct{ Labels map[string]string }
		if o.call("GET", "/api/k8sclusters/edge-2", nil, &labels); len(labels.Labels) != 0 {
			t.Errorf("edge-2 labels %v after refused patches", labels.Labels)
		}
	})
}
