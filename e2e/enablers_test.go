package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/testenv"
	"github.com/smartorch/smartorch/usage"
)

// decisionView is a placement decision as the API returns it.
type decisionView struct {
	Policy, Applied, Fallback string
	Cluster, ClusterID        string
	Reason                    string
	Candidates                []struct {
		Cluster  string
		Cloud    bool
		Feasible bool
		Reason   string
		Traffic  *struct {
			BytesPerSecond float64
			Error          string
		}
	}
}

type enablerView struct {
	ID, Name, Status, StatusReason string
	Cluster, ClusterID             string
	OperationID                    string
	ChartVersion                   string
	Placement                      *decisionView
}

// placementEnv is a cloud and three edges of known sizes: edge-1 is the
// smallest (2 CPUs), edge-3 the largest (8 CPUs), edge-2 has the most
// traffic, and the cloud (16 CPUs) is only a fallback.
// placementClusters are the placement tests' cloud and three edges of
// 2, 4 and 8 CPUs.
var placementClusters = []testenv.ClusterOptions{
	{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "16", Memory: "32Gi", PodCIDR: "10.217.0.0/24"}}},
	{Name: "edge-1", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "2", Memory: "4Gi"}}},
	{Name: "edge-2", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "4", Memory: "8Gi"}}},
	{Name: "edge-3", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "8", Memory: "16Gi"}}},
}

func placementEnv(t *testing.T) (*testenv.Env, *orchestrator) {
	t.Helper()
	env := testenv.Start(t, testenv.Options{
		Temporal: true, Prometheus: true, ChartRepo: true,
		Clusters: placementClusters,
	})
	o := startOrchestrator(t, env)
	o.joinAll(env, nil)
	if code := o.call("POST", "/api/chartrepo", map[string]any{"name": "test", "description": "test charts", "url": env.ChartRepo.URL}, nil); code != 201 {
		t.Fatalf("add chart repository: %d", code)
	}
	return env, o
}

// setTraffic sets each cluster's receive rate and waits until Prometheus
// reports it.
func setTraffic(t *testing.T, env *testenv.Env, rates map[string]float64) {
	t.Helper()
	for _, c := range env.Clusters {
		c.Metrics.SetReceiveRate(c.Nodes[0].Name, rates[c.Name])
	}
	prom := usage.Client{URL: env.Prometheus.URL}
	eventually(t, time.Minute, "Prometheus to report the traffic", func() bool {
		for name, want := range rates {
			s, err := prom.Traffic(context.Background(), name)
			if err != nil || math.Abs(s.Value-want) > want*0.05 {
				return false
			}
		}
		return true
	})
}

func enablerBody(name, chart, policy string, values map[string]any) map[string]any {
	body := map[string]any{"enablerName": name, "helmChart": "test/" + chart, "additionalParams": values, "auto": true}
	if policy != "" {
		body["placementPolicy"] = policy
	}
	return body
}

func (o *orchestrator) enabler(idOrName string) enablerView {
	o.t.Helper()
	var e enablerView
	if code := o.call("GET", "/api/enabler/"+idOrName, nil, &e); code != 200 {
		o.t.Fatalf("enabler %s: %d", idOrName, code)
	}
	return e
}

// instantiate posts an enabler and waits for its operation to end.
func (o *orchestrator) instantiate(body map[string]any) enablerView {
	o.t.Helper()
	var a struct {
		OperationID string
		Enabler     enablerView
	}
	if code := o.call("POST", "/api/enabler?wait=3m", body, &a); code != 202 {
		o.t.Fatalf("instantiate %v: %d", body["enablerName"], code)
	}
	return a.Enabler
}

// releasePods are the pods of release name in the cluster.
func releasePods(t *testing.T, c *testenv.Cluster, name string) []corev1.Pod {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + name})
	must(t, err)
	return pods.Items
}

// helmReleases counts the Helm storage Secrets of release name in the cluster.
func helmReleases(t *testing.T, c *testenv.Cluster, name string) int {
	t.Helper()
	secrets, err := c.Client.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	must(t, err)
	return len(secrets.Items)
}

func heldReservations(t *testing.T, o *orchestrator) int {
	t.Helper()
	all, err := o.store.Reservations.Find(context.Background(), nil)
	must(t, err)
	n := 0
	for _, r := range all {
		n += len(r.Holds)
	}
	return n
}

func placementSpec(name, chart, policy string) placement.Spec {
	return placement.Spec{Name: name, Namespace: "default", HelmChart: chart, Policy: scheduler.Policy(policy), Values: map[string]any{}}
}

func TestEnablerPlacement(t *testing.T) {
	env, o := placementEnv(t)
	clusters := map[string]*testenv.Cluster{}
	for _, c := range env.Clusters {
		clusters[c.Name] = c
	}
	setTraffic(t, env, map[string]float64{"cloud": 9e6, "edge-1": 1e6, "edge-2": 5e6, "edge-3": 2e5})
	two := map[string]any{"replicaCount": 2}

	t.Run("preview picks by policy without side effects", func(t *testing.T) {
		for policy, want := range map[string]string{"worst-fit": "edge-3", "best-fit": "edge-1", "traffic-most": "edge-2", "most_traffic": "edge-2", "best_fit": "edge-1"} {
			var d decisionView
			if code := o.call("POST", "/api/placement/preview", enablerBody("preview", testenv.ChartWeb, policy, two), &d); code != 200 {
				t.Fatalf("preview %s: %d", policy, code)
			}
			if d.Cluster != want || len(d.Candidates) != 4 || d.Reason == "" {
				t.Errorf("preview %s chose %q (%s), want %s; candidates %+v", policy, d.Cluster, d.Reason, want, d.Candidates)
			}
		}
		if n, _ := o.store.Enablers.Count(context.Background(), map[string]any{}); n != 0 {
			t.Errorf("preview stored %d enablers", n)
		}
		if n, _ := o.store.Reservations.Count(context.Background(), map[string]any{}); n != 0 {
			t.Errorf("preview stored %d reservations", n)
		}
	})

	t.Run("instantiate deploys on the policy's cluster with the given values", func(t *testing.T) {
		for policy, want := range map[string]string{"worst-fit": "edge-3", "best-fit": "edge-1", "traffic-most": "edge-2"} {
			name := "web-" + strings.TrimSuffix(policy, "-fit")
			e := o.instantiate(enablerBody(name, testenv.ChartWeb, policy, two))
			if e.Status != "Enabled" || e.Cluster != want || e.Placement == nil || e.Placement.Applied != policy || e.ChartVersion != "0.2.0" {
				t.Fatalf("%s: %+v, want Enabled on %s by %s with chart 0.2.0", name, e, want, policy)
			}
			pods := releasePods(t, clusters[want], name)
			running := 0
			for _, p := range pods {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
			if running != 2 {
				t.Errorf("%s: %d pods Running on %s, want 2 (replicaCount from additionalParams)", name, running, want)
			}
		}
		var list []enablerView
		if code := o.call("GET", "/api/enabler/instanced", nil, &list); code != 200 || len(list) != 3 {
			t.Errorf("instanced: %d, %d enablers", code, len(list))
		}
		if code := o.call("GET", "/api/enabler/enabler_cluster/edge-3", nil, &list); code != 200 || len(list) != 1 || list[0].Name != "web-worst" {
			t.Errorf("enablers on edge-3: %d %+v", code, list)
		}
		if n := heldReservations(t, o); n != 0 {
			t.Errorf("%d reservations still held after the releases are ready", n)
		}
	})

	t.Run("the cloud is the fallback when no edge fits", func(t *testing.T) {
		big := map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "12"}}}
		var d decisionView
		if code := o.call("POST", "/api/placement/preview", enablerBody("big", testenv.ChartWeb, "worst-fit", big), &d); code != 200 || d.Cluster != "cloud" {
			t.Fatalf("preview: %d, chose %q (%s)", code, d.Cluster, d.Reason)
		}
	})

	t.Run("nothing fits: 422 from preview with every cluster's reason, Error from instantiate", func(t *testing.T) {
		var e struct {
			Code    int
			Message string
			Details decisionView
		}
		if code := o.call("POST", "/api/placement/preview", enablerBody("huge", testenv.ChartHuge, "worst-fit", nil), &e); code != 422 {
			t.Fatalf("preview huge: %d, want 422", code)
		}
		if len(e.Details.Candidates) != 4 || e.Message == "" {
			t.Fatalf("422 = %+v, want every cluster's reason", e)
		}
		for _, c := range e.Details.Candidates {
			if c.Feasible || c.Reason == "" {
				t.Errorf("candidate %s: feasible=%v reason=%q", c.Cluster, c.Feasible, c.Reason)
			}
		}
		got := o.instantiate(enablerBody("huge", testenv.ChartHuge, "worst-fit", nil))
		if got.Status != "Error" || got.StatusReason == "" || got.ClusterID != "" {
			t.Errorf("huge: %+v, want Error with the reason and no cluster", got)
		}
		for _, c := range env.Clusters {
			if n := helmReleases(t, c, "huge"); n != 0 {
				t.Errorf("%s has %d releases of huge", c.Name, n)
			}
		}
	})

	t.Run("manual placement checks the cluster and the fit", func(t *testing.T) {
		e := o.instantiate(map[string]any{"enablerName": "manual", "helmChart": "test/web", "vim": "edge-2"})
		if e.Status != "Enabled" || e.Cluster != "edge-2" || e.Placement == nil || e.Placement.Applied != "manual" {
			t.Errorf("manual: %+v", e)
		}
		e = o.instantiate(map[string]any{"enablerName": "manual-big", "helmChart": "test/web", "vim": "edge-1",
			"additionalParams": map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "3"}}}})
		if e.Status != "Error" || !strings.Contains(e.StatusReason, "edge-1") {
			t.Errorf("manual-big: %+v, want Error naming edge-1", e)
		}
	})

	t.Run("traffic-most without traffic data falls back to worst-fit and says so", func(t *testing.T) {
		planner := newPlanner(o.store, t.TempDir(), "http://127.0.0.1:1")
		spec := placementSpec("fallback", "test/web", "traffic-most")
		demand, _, err := planner.Demand(context.Background(), spec)
		must(t, err)
		d, err := planner.Preview(context.Background(), spec, demand)
		must(t, err)
		if d.Applied != "worst-fit" || d.Fallback == "" || d.Cluster != "edge-3" {
			t.Errorf("decision = applied %s, fallback %q, cluster %s; want worst-fit's edge-3 with the reason", d.Applied, d.Fallback, d.Cluster)
		}
	})

	t.Run("force-removing a cluster uninstalls its enablers first", func(t *testing.T) {
		var e struct{ Message string }
		if code := o.call("DELETE", "/api/k8sclusters/edge-2", nil, &e); code != 409 || !strings.Contains(e.Message, "web-traffic") || !strings.Contains(e.Message, "manual") {
			t.Fatalf("remove edge-2 without force: %d %q, want 409 naming its enablers", code, e.Message)
		}
		if code := o.call("DELETE", "/api/k8sclusters/edge-2?force=true&wait=2m", nil, nil); code != 202 {
			t.Fatalf("force remove: %d", code)
		}
		if code, _ := o.cluster("edge-2"); code != 404 {
			t.Errorf("edge-2 still there: %d", code)
		}
		for _, name := range []string{"web-traffic-most", "manual"} {
			if n := helmReleases(t, clusters["edge-2"], name); n != 0 {
				t.Errorf("release %s still in edge-2 (%d revisions)", name, n)
			}
			if e := o.enabler(name); e.Status != "Terminated" || e.ClusterID != "" {
				t.Errorf("%s: %+v, want Terminated on no cluster", name, e)
			}
		}
	})

	t.Run("bad requests get a clear 4xx and store nothing", func(t *testing.T) {
		before, _ := o.store.Enablers.Count(context.Background(), map[string]any{})
		for _, tc := range []struct {
			body map[string]any
			code int
			want string
		}{
			{map[string]any{"enablerName": "Bad_Name", "helmChart": "test/web", "auto": true}, 400, "enablerName"},
			{map[string]any{"enablerName": strings.Repeat("a", 54), "helmChart": "test/web", "auto": true}, 400, "enablerName"},
			{map[string]any{"enablerName": "x", "helmChart": "nope/web", "auto": true}, 422, "not registered"},
			{map[string]any{"enablerName": "x", "helmChart": "web", "auto": true}, 400, "helmChart"},
			{map[string]any{"enablerName": "x", "helmChart": "test/web", "auto": true, "additionalParams": "x"}, 400, "additionalParams"},
			{map[string]any{"enablerName": "x", "helmChart": "test/web"}, 400, "vim"},
			{map[string]any{"enablerName": "x", "helmChart": "test/web", "auto": true, "vim": "edge-1"}, 400, "vim"},
			{map[string]any{"enablerName": "x", "helmChart": "test/web", "auto": true, "placementPolicy": "random"}, 400, "placementPolicy"},
			{map[string]any{"enablerName": "x", "helmChart": "test/web", "vim": "nowhere"}, 422, "nowhere"},
			{map[string]any{"enablerName": "x", "helmChart": "test/web", "auto": true, "timeout": 99999}, 400, "timeout"},
			{map[string]any{"enablerName": "web-worst", "helmChart": "test/web", "auto": true}, 409, "already exists"},
		} {
			var e struct{ Message string }
			if code := o.call("POST", "/api/enabler", tc.body, &e); code != tc.code || !strings.Contains(e.Message, tc.want) {
				t.Errorf("%v: %d %q, want %d mentioning %q", tc.body, code, e.Message, tc.code, tc.want)
			}
		}
		if after, _ := o.store.Enablers.Count(context.Background(), map[string]any{}); after != before {
			t.Errorf("bad requests stored %d enablers", after-before)
		}
	})
}

// Twenty placements at once on clusters with room for eleven: each takes
// what is free, none overcommits a node, the rest fail with the reason.
func TestConcurrentPlacementsNeverOvercommit(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{
			{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "2", Memory: "4Gi", PodCIDR: "10.217.0.0/24"}}},
			{Name: "edge-1", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "1", Memory: "2Gi"}, {CPU: "1", Memory: "2Gi"}}},
			{Name: "edge-2", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "1", Memory: "2Gi"}}},
		},
	})
	o := startOrchestrator(t, env)
	o.joinAll(env, nil)
	o.addTestRepo(env.ChartRepo.URL)
	// 400m per pod: two per 1-CPU edge node (6 on the edges), five on the cloud.
	values := map[string]any{"resources": map[string]any{"requests": map[string]any{"cpu": "400m", "memory": "128Mi"}}}
	const n = 20
	for i := range n {
		body := enablerBody(fmt.Sprintf("crowd-%02d", i), testenv.ChartWeb, "worst-fit", values)
		body["timeout"] = 90
		if code := o.call("POST", "/api/enabler", body, nil); code != 202 {
			t.Fatalf("instantiate %d: %d", i, code)
		}
	}
	var list []enablerView
	eventually(t, 5*time.Minute, "every placement to finish", func() bool {
		o.call("GET", "/api/enabler/instanced", nil, &list)
		for _, e := range list {
			if e.Status != "Pending" {
				continue
			}
			if op := o.operation(e.OperationID); op.State == "WaitingForOperator" {
				for _, c := range env.Clusters {
					checkNodesNotOvercommitted(t, c)
				}
				t.Fatalf("%s waits for the operator: %s", e.Name, op.Waiting.Error)
			}
			return false
		}
		return len(list) == n
	})
	enabled := 0
	for _, e := range list {
		switch {
		case e.Status == "Enabled":
			enabled++
		case e.Status != "Error" || !strings.Contains(e.StatusReason, "fit"):
			t.Errorf("%s: %s %q, want Enabled or Error because nothing fits", e.Name, e.Status, e.StatusReason)
		}
	}
	if enabled != 11 {
		t.Errorf("%d enablers Enabled, want 11 (all the room there is)", enabled)
	}
	for _, c := range env.Clusters {
		checkNodesNotOvercommitted(t, c)
	}
	if h := heldReservations(t, o); h != 0 {
		t.Errorf("%d holds left after every placement finished", h)
	}
}

// checkNodesNotOvercommitted reads the cluster's pods from its API server:
// none waits unscheduled, and no node's pods request more than it has.
func checkNodesNotOvercommitted(t *testing.T, c *testenv.Cluster) {
	t.Helper()
	ctx := context.Background()
	pods, err := c.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	must(t, err)
	requested := map[string]int64{}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" {
			t.Errorf("%s: pod %s is not scheduled", c.Name, p.Name)
			continue
		}
		for _, ctr := range p.Spec.Containers {
			requested[p.Spec.NodeName] += ctr.Resources.Requests.Cpu().MilliValue()
		}
	}
	nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	must(t, err)
	for _, n := range nodes.Items {
		if alloc := n.Status.Allocatable.Cpu().MilliValue(); requested[n.Name] > alloc {
			t.Errorf("%s: node %s has %dm CPU requested, %dm allocatable", c.Name, n.Name, requested[n.Name], alloc)
		}
	}
}
