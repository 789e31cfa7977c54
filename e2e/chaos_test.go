package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/testenv"
)

// A worker killed with SIGKILL in the middle of a join loses nothing: a new
// worker finishes the same workflow run, once.
func TestJoinSurvivesWorkerKill(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true,
		Clusters: []testenv.ClusterOptions{{Name: "cloud", Workloads: true, StorageClass: "standard", Cilium: true, Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}}},
	})
	o := start(t, env, false)
	cloud := env.Clusters[0]
	first := o.startWorkerProcess()

	// With the API server down the join is stuck retrying its first step.
	must(t, cloud.StopAPIServer())
	code, a := o.join(cloud, map[string]any{"metricsTargets": []string{"127.0.0.1:9100"}}, "")
	if code != 202 {
		t.Fatalf("join: %d", code)
	}
	eventually(t, time.Minute, "a second attempt of the first step", func() bool {
		return o.operation(a.OperationID).Attempts >= 2
	})
	must(t, first.Process.Kill())
	_ = first.Wait()

	must(t, cloud.StartAPIServer())
	o.startWorkerProcess()
	eventually(t, 3*time.Minute, "the cluster to be Enabled", func() bool {
		_, c := o.cluster("cloud")
		return c.Status == "Enabled"
	})

	if n := o.workflowRuns(a.OperationID); n != 1 {
		t.Errorf("%d runs of %s, want 1", n, a.OperationID)
	}
	if op := o.operation(a.OperationID); op.State != "Completed" {
		t.Errorf("operation = %+v, want Completed", op)
	}
	if n, err := o.store.Clusters.Count(context.Background(), map[string]any{"name": "cloud"}); err != nil || n != 1 {
		t.Errorf("%d cluster records named cloud (%v), want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(o.metricsDir, "cloud.json")); err != nil {
		t.Errorf("metrics target: %v", err)
	}
}

// A worker killed with SIGKILL while it installs a release: a new worker
// finishes the instantiation with one release and one record.
func TestInstallSurvivesWorkerKill(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}}},
	})
	o := start(t, env, false)
	cloud := env.Clusters[0]
	first := o.startWorkerProcess()
	if code, a := o.join(cloud, nil, "2m"); code != 202 || a.Cluster.Status != "Enabled" {
		t.Fatalf("join: %d %+v", code, a)
	}
	o.addTestRepo(env.ChartRepo.URL)
	var a struct {
		OperationID string
		Enabler     enablerView
	}
	if code := o.call("POST", "/api/enabler", map[string]any{"enablerName": "web", "helmChart": "test/web", "vim": "cloud"}, &a); code != 202 {
		t.Fatalf("instantiate: %d", code)
	}
	// Kill the worker as soon as Helm has recorded the release: the install
	// is under way, or just done and not yet reported to Temporal.
	deadline := time.Now().Add(2 * time.Minute)
	for helmReleases(t, cloud, "web") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the release never appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, first.Process.Kill())
	_ = first.Wait()
	o.startWorkerProcess()

	eventually(t, 3*time.Minute, "the enabler to be Enabled", func() bool { return o.enabler("web").Status == "Enabled" })
	if n := o.workflowRuns(a.OperationID); n != 1 {
		t.Errorf("%d runs of %s, want 1", n, a.OperationID)
	}
	if n, err := o.store.Enablers.Count(context.Background(), map[string]any{"name": "web"}); err != nil || n != 1 {
		t.Errorf("%d enabler records named web (%v), want 1", n, err)
	}
	secrets, err := cloud.Client.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=web,status=deployed"})
	must(t, err)
	if len(secrets.Items) != 1 {
		t.Errorf("%d deployed revisions of release web, want 1", len(secrets.Items))
	}
	if pods := releasePods(t, cloud, "web"); len(pods) != 1 {
		t.Errorf("%d pods of release web, want 1", len(pods))
	}
}

// workflowRuns counts the runs of the operation's workflow.
func (o *orchestrator) workflowRuns(operationID string) int {
	o.t.Helper()
	runs, err := o.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", operationID),
	})
	must(o.t, err)
	return len(runs.GetExecutions())
}

// chaosSeed is SMARTORCH_CHAOS_SEED, to replay a run, or a new seed.
func chaosSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SMARTORCH_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("SMARTORCH_CHAOS_SEED: %v", err)
		}
	}
	t.Logf("chaos seed %d (SMARTORCH_CHAOS_SEED=%d replays the same kill times)", seed, seed)
	return seed
}

// postEnablers asks for web releases named prefix-1 … prefix-n on cluster
// vim, without waiting, and returns their operation ids by name.
func (o *orchestrator) postEnablers(prefix string, n int, vim string) map[string]string {
	o.t.Helper()
	ops := map[string]string{}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		var a struct{ OperationID string }
		if code := o.call("POST", "/api/enabler", map[string]any{"enablerName": name, "helmChart": "test/web", "vim": vim}, &a); code != 202 {
			o.t.Fatalf("instantiate %s: %d", name, code)
		}
		ops[name] = a.OperationID
	}
	return ops
}

// storedEnablers reads the enablers' records straight from the store (the
// API may be down with it), by name; names not stored are missing.
func (o *orchestrator) storedEnablers(names map[string]string) (map[string]store.Enabler, error) {
	all, err := o.store.Enablers.Find(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	out := map[string]store.Enabler{}
	for _, e := range all {
		if _, ok := names[e.Name]; ok {
			out[e.Name] = e
		}
	}
	return out, nil
}

// countStatus counts the enablers among names whose stored status is status.
func (o *orchestrator) countStatus(names map[string]string, status string) int {
	o.t.Helper()
	stored, err := o.storedEnablers(names)
	must(o.t, err)
	n := 0
	for _, e := range stored {
		if e.Status == status {
			n++
		}
	}
	return n
}

// waitSettled waits until every enabler in ops is Enabled or in Error, and
// fails unless all are Enabled.
func (o *orchestrator) waitSettled(ops map[string]string, timeout time.Duration) {
	o.t.Helper()
	eventually(o.t, timeout, "every instantiation to end", func() bool {
		return o.countStatus(ops, store.StatusEnabled)+o.countStatus(ops, store.StatusError) == len(ops)
	})
	stored, err := o.storedEnablers(ops)
	must(o.t, err)
	for name := range ops {
		if e := stored[name]; e.Status != store.StatusEnabled {
			o.t.Errorf("%s: %s %q, want Enabled", name, e.Status, e.StatusReason)
		}
	}
}

// checkInstalledOnce checks what an instantiation that survived a failure
// must have left: one run of its workflow, completed; one record; one Helm
// revision, deployed; one pod.
func (o *orchestrator) checkInstalledOnce(c *testenv.Cluster, name, operationID string) {
	o.t.Helper()
	t := o.t
	if n := o.workflowRuns(operationID); n != 1 {
		t.Errorf("%s: %d workflow runs, want 1", name, n)
	}
	if op := o.operation(operationID); op.State != "Completed" {
		t.Errorf("%s: operation %+v, want Completed", name, op)
	}
	if n, err := o.store.Enablers.Count(context.Background(), map[string]any{"name": name}); err != nil || n != 1 {
		t.Errorf("%s: %d records (%v), want 1", name, n, err)
	}
	secrets, err := c.Client.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	must(t, err)
	if len(secrets.Items) != 1 || secrets.Items[0].Labels["status"] != "deployed" {
		var states []string
		for _, s := range secrets.Items {
			states = append(states, s.Labels["version"]+":"+s.Labels["status"])
		}
		t.Errorf("%s: Helm revisions %v, want one, deployed", name, states)
	}
	pods, err := c.Client.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + name})
	must(t, err)
	if len(pods.Items) != 1 {
		t.Errorf("%s: %d pods, want 1", name, len(pods.Items))
	}
}

// Twenty instantiations while the worker is SIGKILLed again and again at
// random moments, a new one started after each kill: every one ends
// Enabled, in one workflow run, with one record and one deployed release.
func TestInstantiationsSurviveWorkerKills(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "16", Memory: "32Gi", PodCIDR: "10.217.0.0/24"}}}},
	})
	o := start(t, env, false)
	cloud := env.Clusters[0]
	worker := o.startWorkerProcess()
	if code, a := o.join(cloud, nil, "2m"); code != 202 || a.Cluster.Status != "Enabled" {
		t.Fatalf("join: %d %+v", code, a)
	}
	o.addTestRepo(env.ChartRepo.URL)
	rng := rand.New(rand.NewPCG(chaosSeed(t), 0))

	ops := o.postEnablers("web", 20, "cloud")
	begin := time.Now()
	// Each kill strands the dead worker's tasks until their timeouts (up
	// to two minutes for a step without heartbeats), so a few kills, soon
	// after each other, land while the operations run.
	const kills = 5
	inFlight := 0
	for k := 1; k <= kills; k++ {
		time.Sleep(time.Duration(300+rng.IntN(2700)) * time.Millisecond)
		enabled := o.countStatus(ops, store.StatusEnabled)
		must(t, worker.Process.Kill())
		_ = worker.Wait()
		worker = o.startWorkerProcess()
		t.Logf("kill %d at %v: %d of %d enabled", k, time.Since(begin).Round(time.Millisecond), enabled, len(ops))
		if enabled < len(ops) {
			inFlight++
		}
	}
	if inFlight < 3 {
		t.Errorf("only %d kills came while instantiations were running, want at least 3", inFlight)
	}

	o.waitSettled(ops, 5*time.Minute)
	t.Logf("all settled %v after the first request", time.Since(begin).Round(time.Second))
	for name, id := range ops {
		o.checkInstalledOnce(cloud, name, id)
	}
	if n := heldReservations(t, o); n != 0 {
		t.Errorf("%d reservations still held, want 0", n)
	}
}

// forbidDeployments creates namespace with a quota of zero Deployments
// and waits until the quota controller has counted it. An install there
// then fails at its Deployment, after Helm recorded the release, every
// time: the install step keeps retrying, each attempt replacing the failed
// release of the last. It returns the function that lifts the quota.
func forbidDeployments(t *testing.T, c *testenv.Cluster, namespace string) (lift func()) {
	t.Helper()
	ctx := context.Background()
	_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	must(t, err)
	quotas := c.Client.CoreV1().ResourceQuotas(namespace)
	_, err = quotas.Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-deployments"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/deployments.apps": resource.MustParse("0")}},
	}, metav1.CreateOptions{})
	must(t, err)
	eventually(t, 2*time.Minute, "the quota to be counted", func() bool {
		q, err := quotas.Get(ctx, "no-deployments", metav1.GetOptions{})
		must(t, err)
		_, ok := q.Status.Used["count/deployments.apps"]
		return ok
	})
	return func() { must(t, quotas.Delete(ctx, "no-deployments", metav1.DeleteOptions{})) }
}

// TestInstantiationsSurviveOutages takes down, in turn, Temporal, the store
// and the target cluster's API server while instantiations run.
func TestInstantiationsSurviveOutages(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true, TemporalPersistent: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "16", Memory: "32Gi", PodCIDR: "10.217.0.0/24"}}}},
	})
	o := startOrchestrator(t, env)
	cloud := env.Clusters[0]
	if code, a := o.join(cloud, nil, "2m"); code != 202 || a.Cluster.Status != "Enabled" {
		t.Fatalf("join: %d %+v", code, a)
	}
	o.addTestRepo(env.ChartRepo.URL)
	// waitForFirst polls the store, not the API, until one of the enablers
	// in ops satisfies cond.
	waitForFirst := func(ops map[string]string, what string, cond func(store.Enabler) bool) {
		t.Helper()
		eventually(t, time.Minute, what, func() bool {
			stored, err := o.storedEnablers(ops)
			must(t, err)
			for _, e := range stored {
				if cond(e) {
					return true
				}
			}
			return false
		})
	}

	t.Run("Temporal killed and restarted: the workflows carry on from its database", func(t *testing.T) {
		ops := o.postEnablers("temporal", 5, "cloud")
		waitForFirst(ops, "a first placement", func(e store.Enabler) bool { return e.ClusterID != "" })
		must(t, env.Temporal.Kill())
		enabled := o.countStatus(ops, store.StatusEnabled)
		t.Logf("Temporal killed with %d of %d enabled", enabled, len(ops))
		if enabled == len(ops) {
			t.Fatal("every instantiation ended before Temporal went down")
		}
		time.Sleep(3 * time.Second) // the outage
		must(t, env.Temporal.Start())
		o.waitSettled(ops, 4*time.Minute)
		for name, id := range ops {
			o.checkInstalledOnce(cloud, name, id)
		}
	})

	t.Run("the store stopped for longer than a request may wait: the workflows carry on", func(t *testing.T) {
		ops := o.postEnablers("store", 5, "cloud")
		// Once a first chart is resolved the others are being resolved or
		// placed, reading and writing the store.
		waitForFirst(ops, "a first chart resolved", func(e store.Enabler) bool { return e.ChartVersion != "" })
		if enabled := o.countStatus(ops, store.StatusEnabled); enabled == len(ops) {
			t.Fatal("every instantiation ended before the store went down")
		}
		o.db.StopServer()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := o.store.Enablers.Find(ctx, nil)
		cancel()
		if err == nil {
			t.Fatal("the store answers after StopServer")
		}
		// Requests wait up to 10s for the server; down for longer, some
		// activities fail and retry, depending on what they were doing.
		time.Sleep(15 * time.Second)
		must(t, o.db.StartServer())
		o.waitSettled(ops, 4*time.Minute)
		retried := 0
		for name, id := range ops {
			o.checkInstalledOnce(cloud, name, id)
			retried += o.retriedActivities(id)
		}
		t.Logf("%d activities retried", retried)
		var list []enablerView
		if code := o.call("GET", "/api/enabler/instanced", nil, &list); code != 200 || len(list) < len(ops) {
			t.Errorf("list after the outage: %d, %d enablers", code, len(list))
		}
		if n := heldReservations(t, o); n != 0 {
			t.Errorf("%d reservations still held, want 0", n)
		}
	})

	// Both quotas are counted before the API server first restarts: the
	// quota controller may take minutes to resume after that.
	lifts := map[string]func(){"retried": forbidDeployments(t, cloud, "retried"), "aborted": forbidDeployments(t, cloud, "aborted")}

	// waitForOperator starts an instantiation in its own namespace, where
	// its install keeps failing (forbidDeployments), stops the cluster's
	// API server while the install step retries, and waits until the step
	// has used up its retries.
	waitForOperator := func(t *testing.T, name string) (operationID string) {
		t.Helper()
		var a struct{ OperationID string }
		if code := o.call("POST", "/api/enabler", map[string]any{"enablerName": name, "namespace": name, "helmChart": "test/web", "vim": "cloud"}, &a); code != 202 {
			t.Fatalf("instantiate %s: %d", name, code)
		}
		eventually(t, time.Minute, "the install step to retry", func() bool {
			op := o.operation(a.OperationID)
			return op.Step == "install the release" && op.Attempts >= 2
		})
		eventually(t, time.Minute, "a failed release of the install", func() bool { return helmReleases(t, cloud, name) > 0 })
		must(t, cloud.StopAPIServer())
		var op operationView
		eventually(t, 2*time.Minute, "the install to wait for the operator", func() bool {
			op = o.operation(a.OperationID)
			return op.State == "WaitingForOperator"
		})
		if op.Waiting == nil || op.Waiting.Step != "install the release" || !strings.Contains(op.Waiting.Error, "connection refused") {
			t.Fatalf("waiting: %+v, want the install step failing to reach the API server", op.Waiting)
		}
		return a.OperationID
	}

	t.Run("API server down during an install: the operator starts it and retries", func(t *testing.T) {
		id := waitForOperator(t, "retried")
		must(t, cloud.StartAPIServer())
		lifts["retried"]()
		if code := o.call("POST", "/api/operations/"+id+"/retry", nil, nil); code != 202 {
			t.Fatalf("retry: %d", code)
		}
		eventually(t, 2*time.Minute, "the enabler to be Enabled", func() bool { return o.enabler("retried").Status == "Enabled" })
		o.checkInstalledOnce(cloud, "retried", id)
		if n := heldReservations(t, o); n != 0 {
			t.Errorf("%d reservations still held, want 0", n)
		}
	})

	t.Run("API server down during an install: abort uninstalls once it is back", func(t *testing.T) {
		id := waitForOperator(t, "aborted")
		if code := o.call("POST", "/api/operations/"+id+"/abort", nil, nil); code != 202 {
			t.Fatalf("abort: %d", code)
		}
		// The compensation retries against the dead API server too.
		eventually(t, time.Minute, "the uninstall to retry", func() bool {
			op := o.operation(id)
			return op.Step == "uninstall the release" && op.Attempts >= 2
		})
		must(t, cloud.StartAPIServer())
		eventually(t, 2*time.Minute, "the enabler to be in Error", func() bool { return o.enabler("aborted").Status == "Error" })
		if e := o.enabler("aborted"); !strings.Contains(e.StatusReason, "aborted by the operator") {
			t.Errorf("reason %q, want the abort", e.StatusReason)
		}
		if op := o.operation(id); op.State != "Failed" {
			t.Errorf("operation %+v, want Failed", op)
		}
		if n := helmReleases(t, cloud, "aborted"); n != 0 {
			t.Errorf("%d Helm revisions of aborted left, want none", n)
		}
		if _, err := cloud.Client.CoreV1().Services("aborted").Get(context.Background(), "aborted-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("service aborted-web: %v, want it gone", err)
		}
		if n := heldReservations(t, o); n != 0 {
			t.Errorf("%d reservations still held, want 0", n)
		}
	})
}

// retriedActivities counts the activities of the operation's workflow that
// ran more than once.
func (o *orchestrator) retriedActivities(operationID string) int {
	o.t.Helper()
	iter := o.temporal.GetWorkflowHistory(context.Background(), operationID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for iter.HasNext() {
		event, err := iter.Next()
		must(o.t, err)
		if a := event.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
			n++
		}
	}
	return n
}
