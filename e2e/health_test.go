package e2e

import (
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/testenv"
)

// probesOf reads smartorch_cluster_probes_total of a cluster from /metrics.
func (o *orchestrator) probesOf(cluster string) string {
	o.t.Helper()
	resp, err := http.Get(o.url + "/metrics")
	must(o.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(o.t, err)
	m := regexp.MustCompile(`smartorch_cluster_probes_total\{cluster="` + cluster + `"\} (\S+)`).FindSubmatch(data)
	if m == nil {
		o.t.Fatalf("no probe counter for %s in /metrics", cluster)
	}
	return string(m[1])
}

// twoEdges starts edge-1 (8 CPUs, 16Gi) and edge-2 (cpu, memory) with
// Temporal and the test chart repository.
func twoEdges(t *testing.T, cpu, memory string) *testenv.Env {
	return testenv.Start(t, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{
			{Name: "edge-1", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "8", Memory: "16Gi"}}},
			{Name: "edge-2", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: cpu, Memory: memory}}},
		},
	})
}

// healthOf is a cluster's health state as the API shows it ("" before a probe).
func (o *orchestrator) healthOf(cluster string) string {
	o.t.Helper()
	var c struct{ Health *struct{ State string } }
	if code := o.call("GET", "/api/k8sclusters/"+cluster, nil, &c); code != 200 || c.Health == nil {
		return ""
	}
	return c.Health.State
}

// Cordon keeps placements off a cluster and the preview says so; a
// cluster with no failover enabler is never probed until checked.
func TestCordonAndCheck(t *testing.T) {
	env := twoEdges(t, "2", "4Gi")
	o := startOrchestrator(t, env)
	o.joinAll(env, map[string]any{"cloud": false})
	o.addTestRepo(env.ChartRepo.URL)
	body := map[string]any{"enablerName": "web", "helmChart": "test/web", "auto": true, "placementPolicy": "worst-fit"}
	var d struct {
		Cluster    string
		Candidates []struct{ Cluster, Reason string }
	}
	if code := o.call("POST", "/api/placement/preview", body, &d); code != 200 || d.Cluster != "edge-1" {
		t.Fatalf("preview before the cordon: %d %+v", code, d)
	}
	if code := o.call("POST", "/api/k8sclusters/edge-1/cordon", map[string]any{"reason": "maintenance"}, nil); code != 200 {
		t.Fatalf("cordon: %d", code)
	}
	if code := o.call("POST", "/api/placement/preview", body, &d); code != 200 || d.Cluster != "edge-2" {
		t.Fatalf("preview after the cordon: %d %+v", code, d)
	}
	for _, c := range d.Candidates {
		if c.Cluster == "edge-1" && (!strings.Contains(c.Reason, "cordoned by the operator") || !strings.Contains(c.Reason, "maintenance")) {
			t.Errorf("edge-1's reason %q does not say it is cordoned", c.Reason)
		}
	}
	if code := o.call("POST", "/api/k8sclusters/edge-1/uncordon", nil, nil); code != 200 {
		t.Fatalf("uncordon: %d", code)
	}
	if code := o.call("POST", "/api/placement/preview", body, &d); code != 200 || d.Cluster != "edge-1" {
		t.Fatalf("preview after the uncordon: %d %+v", code, d)
	}

	if got := o.probesOf("edge-2"); got != "0" {
		t.Errorf("edge-2 hosts no failover enabler and was probed %s times", got)
	}
	var a struct {
		Cluster struct {
			Health *struct{ State string }
		}
	}
	if code := o.call("POST", "/api/k8sclusters/edge-2/check?wait=1m", nil, &a); code != 202 || a.Cluster.Health == nil || a.Cluster.Health.State != "Ready" {
		t.Fatalf("check: %d %+v", code, a)
	}
	if got := o.probesOf("edge-2"); got != "1" {
		t.Errorf("edge-2 probed %s times after one check, want 1", got)
	}
}

// fastHealth are the e2e tests' health timings: seconds, not minutes.
var fastHealth = activities.HealthSettings{Interval: time.Second, UnreachableAfter: 3 * time.Second, Grace: 4 * time.Second}

// Stop edge-1's API server with two failover enablers and one without:
// the two move to edge-2, the third is shown Degraded; edge-1 back, its
// stale releases go and exactly one release per enabler is deployed.
func TestFailover(t *testing.T) {
	env := twoEdges(t, "8", "16Gi")
	o := startOrchestrator(t, env)
	o.joinAll(env, map[string]any{"cloud": false})
	o.addTestRepo(env.ChartRepo.URL)
	edge1, edge2 := env.Clusters[0], env.Clusters[1]
	for name, failover := range map[string]any{"fo-1": map[string]any{"enabled": true}, "fo-2": map[string]any{"enabled": true, "graceSeconds": 2}, "plain": nil} {
		body := map[string]any{"enablerName": name, "helmChart": "test/web", "vim": "edge-1"}
		if failover != nil {
			body["failover"] = failover
		}
		if e := o.instantiate(body); e.Status != "Enabled" {
			t.Fatalf("%s: %+v", name, e)
		}
	}
	must(t, edge1.StopAPIServer())
	eventually(t, time.Minute, "edge-1 Unreachable", func() bool {
		return o.healthOf("edge-1") == "Unreachable"
	})
	eventually(t, 2*time.Minute, "both failover enablers Enabled on edge-2", func() bool {
		return o.enabler("fo-1").Cluster == "edge-2" && o.enabler("fo-1").Status == "Enabled" && o.enabler("fo-2").Cluster == "edge-2" && o.enabler("fo-2").Status == "Enabled"
	})
	if e := o.enabler("plain"); e.Cluster != "edge-1" || e.Status != "Degraded" {
		t.Errorf("plain: on %s, %s, want left on edge-1, Degraded", e.Cluster, e.Status)
	}
	must(t, edge1.StartAPIServer())
	eventually(t, 2*time.Minute, "the stale releases on edge-1 uninstalled", func() bool {
		return helmReleases(t, edge1, "fo-1") == 0 && helmReleases(t, edge1, "fo-2") == 0
	})
	for name, c := range map[string]*testenv.Cluster{"fo-1": edge2, "fo-2": edge2, "plain": edge1} {
		if n := helmReleases(t, c, name); n != 1 {
			t.Errorf("%s: %d releases on %s, want 1", name, n, c.Name)
		}
	}
	if n := helmReleases(t, edge2, "plain"); n != 0 {
		t.Errorf("plain moved: %d releases on edge-2", n)
	}
}

// The API server back inside the grace: nothing moves.
func TestReturnInsideTheGrace(t *testing.T) {
	env := twoEdges(t, "8", "16Gi")
	o := startOrchestrator(t, env)
	o.joinAll(env, map[string]any{"cloud": false})
	o.addTestRepo(env.ChartRepo.URL)
	edge1 := env.Clusters[0]
	if e := o.instantiate(map[string]any{"enablerName": "fo", "helmChart": "test/web", "vim": "edge-1", "failover": map[string]any{"enabled": true, "graceSeconds": 120}}); e.Status != "Enabled" {
		t.Fatalf("fo: %+v", e)
	}
	must(t, edge1.StopAPIServer())
	eventually(t, time.Minute, "edge-1 Unreachable", func() bool { return o.healthOf("edge-1") == "Unreachable" })
	must(t, edge1.StartAPIServer())
	eventually(t, time.Minute, "edge-1 Ready", func() bool { return o.healthOf("edge-1") == "Ready" })
	if e := o.enabler("fo"); e.Cluster != "edge-1" || e.Status != "Enabled" {
		t.Errorf("fo: on %s, %s, want Enabled on edge-1", e.Cluster, e.Status)
	}
	if n := helmReleases(t, edge1, "fo"); n != 1 {
		t.Errorf("%d releases of fo on edge-1, want 1", n)
	}
	if n := helmReleases(t, env.Clusters[1], "fo"); n != 0 {
		t.Errorf("fo moved: %d releases on edge-2", n)
	}
}

// Drain moves every enabler, the new release ready before the old goes.
func TestDrain(t *testing.T) {
	env := twoEdges(t, "8", "16Gi")
	o := startOrchestrator(t, env)
	o.joinAll(env, map[string]any{"cloud": false})
	o.addTestRepo(env.ChartRepo.URL)
	for _, name := range []string{"a", "b"} {
		if e := o.instantiate(map[string]any{"enablerName": name, "helmChart": "test/web", "vim": "edge-1"}); e.Status != "Enabled" {
			t.Fatalf("%s: %+v", name, e)
		}
	}
	var r struct {
		Enablers []struct{ Enabler, OperationID, Skipped string }
	}
	if code := o.call("POST", "/api/k8sclusters/edge-1/drain?wait=3m", nil, &r); code != 202 || len(r.Enablers) != 2 {
		t.Fatalf("drain: %d %+v", code, r)
	}
	for _, d := range r.Enablers {
		if e := o.enabler(d.Enabler); e.Cluster != "edge-2" || e.Status != "Enabled" {
			t.Errorf("%s: on %s, %s, want Enabled on edge-2", d.Enabler, e.Cluster, e.Status)
		}
		done := o.operation(d.OperationID).Done
		ready, removed := slices.Index(done, "wait until the release is ready"), slices.Index(done, "uninstall the old release on edge-1")
		if ready < 0 || removed < ready {
			t.Errorf("%s: steps %v: the old release did not go after the new one was ready", d.Enabler, done)
		}
		if helmReleases(t, env.Clusters[0], d.Enabler) != 0 || helmReleases(t, env.Clusters[1], d.Enabler) != 1 {
			t.Errorf("%s: releases not moved", d.Enabler)
		}
	}
}

// A worker SIGKILLed during a failover: a new one completes it, once.
func TestFailoverSurvivesWorkerKill(t *testing.T) {
	env := twoEdges(t, "8", "16Gi")
	o := start(t, env, false)
	first := o.startWorkerProcess()
	o.joinAll(env, map[string]any{"cloud": false})
	o.addTestRepo(env.ChartRepo.URL)
	e := o.instantiate(map[string]any{"enablerName": "fo", "helmChart": "test/web", "vim": "edge-1", "failover": map[string]any{"enabled": true, "graceSeconds": 0}})
	if e.Status != "Enabled" {
		t.Fatalf("fo: %+v", e)
	}
	opID := "enabler-failover-" + e.ID
	must(t, env.Clusters[0].StopAPIServer())
	eventually(t, time.Minute, "the failover to start", func() bool { return o.workflowRuns(opID) == 1 })
	must(t, first.Process.Kill())
	_ = first.Wait()
	o.startWorkerProcess()
	eventually(t, 3*time.Minute, "fo Enabled on edge-2", func() bool {
		e := o.enabler("fo")
		return e.Cluster == "edge-2" && e.Status == "Enabled"
	})
	if n := o.workflowRuns(opID); n != 1 {
		t.Errorf("%d runs of %s, want 1", n, opID)
	}
	if op := o.operation(opID); op.State != "Completed" {
		t.Errorf("failover %+v, want Completed", op)
	}
	if n := helmReleases(t, env.Clusters[1], "fo"); n != 1 {
		t.Errorf("%d releases of fo on edge-2, want 1", n)
	}
}
