package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/cli"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/testenv"
)

// pairsPerOp is how many rounds one iteration of BenchmarkInstantiate
// times: enough for a median at the default -benchtime, where an
// iteration runs once.
const pairsPerOp = 5

// BenchmarkInstantiate compares, on one cluster in one run, three ways to
// install the web chart with the same values and wait until it is ready:
//
//	orch    the full orchestrator path: POST /api/enabler with vim, answered
//	        once the operation ended and the enabler is Enabled;
//	helm    a bare Helm SDK install, as `helm install --wait --wait-for-jobs`
//	        (action.Install with Wait): the baseline of the target;
//	direct  the orchestrator's own release.Install then release.WaitReady,
//	        without the orchestration: what the workflow adds is orch - direct.
//
// Each round runs the three in rotating order; deleting and uninstalling
// are not timed. An op is pairsPerOp rounds. It reports the mean and P50 of
// each, the ratios, and where the orchestrator's time goes, from the
// workflow's Temporal history:
//
//	api-ms     the request minus the workflow (store insert, workflow start, answering)
//	wftask-ms  between steps: workflow tasks deciding the next step
//	queue-ms   activities scheduled but not yet started by the worker
//	<Step>-ms  each activity's own run time
func BenchmarkInstantiate(b *testing.B) {
	env := testenv.Start(b, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{{Name: "bench", Workloads: true, StorageClass: "standard"}},
	})
	o := startOrchestrator(b, env)
	joinAndAddRepo(b, o, env)
	helm := newBareHelm(b, env.Clusters[0], env.ChartRepo.URL)
	values := map[string]any{"replicaCount": 2}

	orchestrated := func(name string) time.Duration {
		body := map[string]any{"enablerName": name, "helmChart": "test/" + testenv.ChartWeb, "vim": "bench", "additionalParams": values}
		start := time.Now()
		e := o.instantiate(body)
		took := time.Since(start)
		if e.Status != "Enabled" {
			b.Fatalf("enabler %s: %s (%s)", name, e.Status, e.StatusReason)
		}
		return took
	}
	bare := func(name string) time.Duration {
		start := time.Now()
		if err := helm.install(b.Context(), name, values); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}

	// direct is what the orchestrator's activities do, without the
	// orchestration: release.Install, then release.WaitReady.
	target := release.Target{Kubeconfig: env.Clusters[0].Kubeconfig, Namespace: "default"}
	direct := func(name string) time.Duration {
		start := time.Now()
		ch, _, err := helm.charts.Load(b.Context(), "test/"+testenv.ChartWeb, "", helm.repos)
		if err == nil {
			_, err = release.Install(b.Context(), target, ch, name, "bench", values)
		}
		if err == nil {
			err = release.WaitReady(b.Context(), target, name, 5*time.Minute)
		}
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}

	// The first of each pays for cold caches (chart archive, connections).
	orchestrated("warm-orch")
	bare("warm-helm")
	direct("warm-direct")

	var orch, plain, lib []time.Duration
	var steps []stepTimes
	for i := 0; b.Loop(); i++ {
		for j := range pairsPerOp {
			n := i*pairsPerOp + j
			name, helmName, directName := fmt.Sprintf("orch-%d", n), fmt.Sprintf("helm-%d", n), fmt.Sprintf("direct-%d", n)
			arms := []func(){
				func() { orch = append(orch, orchestrated(name)) },
				func() { plain = append(plain, bare(helmName)) },
				func() { lib = append(lib, direct(directName)) },
			}
			for k := range arms {
				arms[(n+k)%len(arms)]()
			}
			b.StopTimer()
			e := o.enabler(name)
			steps = append(steps, o.stepTimes(e.OperationID, orch[len(orch)-1]))
			if code, e := o.op("DELETE", "/api/enabler/"+name+"?wait=2m", nil); code != 202 || e.Status != "Deleted" {
				b.Fatalf("delete %s: %d %+v", name, code, e)
			}
			if err := helm.uninstall(helmName); err != nil {
				b.Fatal(err)
			}
			if err := release.Uninstall(b.Context(), target, directName, "bench"); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}

	b.ReportMetric(msOf(mean(orch)), "orch-mean-ms")
	b.ReportMetric(msOf(percentile(orch, 50)), "orch-p50-ms")
	b.ReportMetric(msOf(mean(plain)), "helm-mean-ms")
	b.ReportMetric(msOf(percentile(plain, 50)), "helm-p50-ms")
	b.ReportMetric(msOf(mean(lib)), "direct-mean-ms")
	b.ReportMetric(msOf(percentile(lib, 50)), "direct-p50-ms")
	b.ReportMetric(float64(mean(orch))/float64(mean(plain)), "ratio-mean")
	b.ReportMetric(float64(percentile(orch, 50))/float64(percentile(plain, 50)), "ratio-p50")
	b.ReportMetric(float64(percentile(orch, 50))/float64(percentile(lib, 50)), "ratio-direct-p50")
	b.Logf("%d rounds; orchestrator %v, helm %v, direct %v", len(orch), round(orch), round(plain), round(lib))
	reportSteps(b, steps)
}

// joinAndAddRepo joins every cluster of env and registers its chart
// repository as "test".
func joinAndAddRepo(b *testing.B, o *orchestrator, env *testenv.Env) {
	b.Helper()
	o.joinAll(env, nil)
	o.addTestRepo(env.ChartRepo.URL)
}

// bareHelm installs charts as the helm command does, with the Helm SDK
// and nothing of the orchestrator's release package but chart loading.
type bareHelm struct {
	kubeconfig, discoveryCache string
	charts                     *chartrepo.Charts
	repos                      []chartrepo.Repository
}

func newBareHelm(b *testing.B, c *testenv.Cluster, repoURL string) *bareHelm {
	return &bareHelm{
		kubeconfig: c.KubeconfigPath, discoveryCache: b.TempDir(),
		charts: &chartrepo.Charts{CacheDir: b.TempDir()},
		repos:  []chartrepo.Repository{{Name: "test", URL: repoURL}},
	}
}

// on is h on cluster c, as `helm --kubeconfig` with c's: its own discovery
// cache (helm keeps one per API server), the same chart cache.
func (h *bareHelm) on(b *testing.B, c *testenv.Cluster) *bareHelm {
	return &bareHelm{kubeconfig: c.KubeconfigPath, discoveryCache: b.TempDir(), charts: h.charts, repos: h.repos}
}

// configuration is what a new `helm` process builds: its settings with the
// kubeconfig, and a discovery cache on disk kept between runs (by default
// ~/.kube/cache).
func (h *bareHelm) configuration() (*action.Configuration, error) {
	settings := cli.New()
	settings.KubeConfig = h.kubeconfig
	settings.SetNamespace("default")
	getter := settings.RESTClientGetter()
	getter.(*genericclioptions.ConfigFlags).CacheDir = &h.discoveryCache
	cfg := new(action.Configuration)
	err := cfg.Init(getter, "default", "secret", func(string, ...any) {})
	return cfg, err
}

// install is `helm install <name> test/web --wait --wait-for-jobs`: it
// resolves the chart in the repository index and loads it (the archive
// from a cache after the first time, as the orchestrator does), installs,
// and waits until the release's resources are ready.
func (h *bareHelm) install(ctx context.Context, name string, values map[string]any) error {
	ch, _, err := h.charts.Load(ctx, "test/"+testenv.ChartWeb, "", h.repos)
	if err != nil {
		return err
	}
	cfg, err := h.configuration()
	if err != nil {
		return err
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace = name, "default"
	install.Wait, install.WaitForJobs, install.Timeout = true, true, 5*time.Minute
	_, err = install.RunWithContext(ctx, ch, values)
	return err
}

// uninstall is `helm uninstall <name> --wait`.
func (h *bareHelm) uninstall(name string) error {
	cfg, err := h.configuration()
	if err != nil {
		return err
	}
	uninstall := action.NewUninstall(cfg)
	uninstall.Wait, uninstall.Timeout = true, 2*time.Minute
	_, err = uninstall.Run(name)
	return err
}

// stepTimes is where one operation's time went.
type stepTimes struct {
	api, workflowTasks, queued time.Duration
	run                        map[string]time.Duration // activity type: run time (all attempts)
	attempts                   map[string]int
}

// stepTimes reads the operation's Temporal history; request is how long
// the API request that started and awaited it took.
func (o *orchestrator) stepTimes(workflowID string, request time.Duration) stepTimes {
	o.t.Helper()
	s := stepTimes{run: map[string]time.Duration{}, attempts: map[string]int{}}
	type activity struct {
		name      string
		scheduled time.Time
	}
	scheduled := map[int64]activity{}
	started := map[int64]time.Time{}
	var begin, end time.Time
	var inActivities time.Duration
	iter := o.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			o.t.Fatalf("history of %s: %v", workflowID, err)
		}
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			begin = at
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
			end = at
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled[ev.GetEventId()] = activity{ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(), at}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			a := ev.GetActivityTaskStartedEventAttributes()
			started[ev.GetEventId()] = at
			s.attempts[scheduled[a.GetScheduledEventId()].name] += int(a.GetAttempt())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED, enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			var schedID, startID int64
			switch {
			case ev.GetActivityTaskCompletedEventAttributes() != nil:
				a := ev.GetActivityTaskCompletedEventAttributes()
				schedID, startID = a.GetScheduledEventId(), a.GetStartedEventId()
			case ev.GetActivityTaskFailedEventAttributes() != nil:
				a := ev.GetActivityTaskFailedEventAttributes()
				schedID, startID = a.GetScheduledEventId(), a.GetStartedEventId()
			default:
				a := ev.GetActivityTaskTimedOutEventAttributes()
				schedID, startID = a.GetScheduledEventId(), a.GetStartedEventId()
			}
			act := scheduled[schedID]
			s.queued += started[startID].Sub(act.scheduled)
			s.run[act.name] += at.Sub(started[startID])
			inActivities += at.Sub(act.scheduled)
		}
	}
	if begin.IsZero() || end.IsZero() {
		o.t.Fatalf("history of %s: the workflow has not ended", workflowID)
	}
	s.api = request - end.Sub(begin)
	s.workflowTasks = end.Sub(begin) - inActivities
	return s
}

// reportSteps reports the mean of each part of the operations' time.
func reportSteps(b *testing.B, all []stepTimes) {
	var api, tasks, queued []time.Duration
	runs := map[string][]time.Duration{}
	attempts := map[string]int{}
	for _, s := range all {
		api, tasks, queued = append(api, s.api), append(tasks, s.workflowTasks), append(queued, s.queued)
		for name, d := range s.run {
			runs[name] = append(runs[name], d)
		}
		for name, n := range s.attempts {
			attempts[name] += n
		}
	}
	b.ReportMetric(msOf(mean(api)), "api-ms")
	b.ReportMetric(msOf(mean(tasks)), "wftask-ms")
	b.ReportMetric(msOf(mean(queued)), "queue-ms")
	var lines []string
	for _, name := range sortedKeys(runs) {
		b.ReportMetric(msOf(mean(runs[name])), name+"-ms")
		lines = append(lines, fmt.Sprintf("%s mean %v p50 %v max %v attempts %d/%d", name,
			mean(runs[name]).Round(time.Millisecond), percentile(runs[name], 50).Round(time.Millisecond),
			slices.Max(runs[name]).Round(time.Millisecond), attempts[name], len(runs[name])))
	}
	b.Logf("activity run times over %d operations:\n\t%s", len(all), strings.Join(lines, "\n\t"))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// percentile is the nearest-rank p-th percentile.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(ds))
	return sorted[(len(sorted)*p+99)/100-1]
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// BenchmarkConcurrentInstantiate posts 200 enablers at once, placed
// automatically (worst-fit) over 10 clusters, and waits for all; beside it,
// in the same run and on the same clusters, it installs the same 200
// releases (same chart, same values) with the bare Helm SDK, as 200
// concurrent `helm install --wait --wait-for-jobs`, 20 on each cluster: the
// baseline the orchestrator is measured against. An op is one batch of
// each. The spreads differ by one cluster: the first cluster joined is the
// cloud, which worst-fit uses only when no edge fits, so the orchestrator
// puts its 200 on the nine edges (22 or 23 each) where Helm puts 20 on each
// of the ten; the batch logs both.
//
// It fails if an enabler is lost (not Enabled) or duplicated: each must have
// exactly one record, one release revision on one cluster (the one recorded)
// and one workflow run; a failed bare install is an error too. It reports,
// for each of the two:
//
//	orch-enablers/s, helm-enablers/s   releases ready per second of batch
//	orch-batch-s, helm-batch-s         a batch's wall time
//	orch-p50-ms, orch-p99-ms, ...      one release's latency (request to ready)
//	ratio                              orch-enablers/s / helm-enablers/s
//	ratio-p50                          orch-p50-ms / helm-p50-ms
//
// and the orchestrator's operations' time split at this load (see
// BenchmarkInstantiate) and the reservations left held (leaked-holds).
//
// Before the first batch, one release of each kind per cluster is installed
// and removed, untimed, so that neither pays for cold caches (chart
// archive, discovery, connections). After each arm its releases are
// removed, untimed, and the benchmark waits until every cluster has no pod
// and no Helm release left in the namespace, so that the other arm starts
// on the same empty clusters. The two arms alternate which goes first (helm
// in even batches, the orchestrator in odd ones): the second arm runs on
// clusters that have just taken 200 installs and 200 deletions (etcd
// compaction, kwok and garbage collection tails, warmed caches), and
// alternating shares that between them over an even number of batches;
// with -benchtime 1x, helm goes first.
//
// A benchmark's log is cut after ten lines, and the worker's warnings and
// errors (Place timing out under this load) come first: run it with -v to
// see the batches' lines and the step split in full.
func BenchmarkConcurrentInstantiate(b *testing.B) {
	const clusters, enablers = 10, 200
	opts := testenv.Options{Temporal: true, ChartRepo: true}
	for i := range clusters {
		opts.Clusters = append(opts.Clusters, testenv.ClusterOptions{Name: fmt.Sprintf("c%02d", i), Workloads: true, StorageClass: "standard"})
	}
	env := testenv.Start(b, opts)
	o := startOrchestrator(b, env)
	joinAndAddRepo(b, o, env)
	helm := newBareHelm(b, env.Clusters[0], env.ChartRepo.URL)
	helms := make([]*bareHelm, clusters)
	for i, c := range env.Clusters {
		helms[i] = helm.on(b, c)
	}

	warmUp(b, o, env, helms)

	var orch, bare armFigures
	var steps []stepTimes
	leaked := 0
	// The figures are reported even when a correctness check ends the
	// benchmark early.
	defer func() {
		orch.report(b, "orch")
		bare.report(b, "helm")
		if orch.total > 0 && bare.total > 0 {
			b.ReportMetric(orch.throughput()/bare.throughput(), "ratio")
			b.ReportMetric(float64(percentile(orch.latencies, 50))/float64(percentile(bare.latencies, 50)), "ratio-p50")
		}
		b.ReportMetric(float64(leaked), "leaked-holds")
		if len(steps) > 0 {
			reportSteps(b, steps)
		}
	}()

	orchArm := func(batch int) {
		names := make([]string, enablers)
		for i := range names {
			names[i] = fmt.Sprintf("b%d-e%03d", batch, i)
		}
		results := make([]posted, enablers)
		start := time.Now()
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Go(func() { results[i] = o.postEnabler(b.Context(), name) })
		}
		wg.Wait()
		took := time.Since(start)

		b.StopTimer()
		var latencies []time.Duration
		placed := map[string]int{}
		for _, r := range results {
			latencies = append(latencies, r.took)
			placed[r.enabler.Cluster]++
			if r.err == nil && r.code == 202 && r.enabler.OperationID != "" {
				steps = append(steps, o.stepTimes(r.enabler.OperationID, r.took))
			}
		}
		orch.add(took, latencies)
		b.Logf("batch %d orchestrator: %d enablers in %v (%.2f/s), p50 %v, p99 %v; per cluster %v", batch, enablers,
			took.Round(time.Millisecond), float64(enablers)/took.Seconds(),
			percentile(latencies, 50).Round(time.Millisecond), percentile(latencies, 99).Round(time.Millisecond), placed)
		// Worst-fit over equal empty clusters should use every one; say
		// why a cluster was left out, as the first decision saw it.
		for _, c := range env.Clusters {
			if placed[c.Name] > 0 {
				continue
			}
			why := "no decision recorded"
			if i := slices.IndexFunc(results, func(r posted) bool { return r.enabler.Placement != nil }); i >= 0 {
				why = "not a candidate"
				for _, cand := range results[i].enabler.Placement.Candidates {
					if cand.Cluster == c.Name {
						why = fmt.Sprintf("feasible %v: %s", cand.Feasible, cand.Reason)
					}
				}
				why = results[i].name + "'s decision: " + why
			}
			b.Logf("batch %d orchestrator: no enabler on %s; %s", batch, c.Name, why)
		}
		checkExactlyOnce(b, o, env, results)
		leaked += leakedHolds(b, o)
		o.deleteAll(names)
		waitEmpty(b, env)
		b.StartTimer()
	}

	bareArm := func(batch int) {
		names := make([]string, enablers)
		for i := range names {
			names[i] = fmt.Sprintf("h%d-e%03d", batch, i)
		}
		latencies := make([]time.Duration, enablers)
		errs := make([]error, enablers)
		start := time.Now()
		var wg sync.WaitGroup
		for i, name := range names {
			// The same values as the orchestrator's: enablerBody's, none.
			wg.Go(func() {
				begin := time.Now()
				errs[i] = helms[i%clusters].install(b.Context(), name, map[string]any{})
				latencies[i] = time.Since(begin)
			})
		}
		wg.Wait()
		took := time.Since(start)

		b.StopTimer()
		bare.add(took, latencies)
		b.Logf("batch %d bare helm: %d releases in %v (%.2f/s), p50 %v, p99 %v; %d per cluster", batch, enablers,
			took.Round(time.Millisecond), float64(enablers)/took.Seconds(),
			percentile(latencies, 50).Round(time.Millisecond), percentile(latencies, 99).Round(time.Millisecond), enablers/clusters)
		var failed []string
		for i, err := range errs {
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s on %s after %v: %v", names[i], env.Clusters[i%clusters].Name, latencies[i].Round(time.Millisecond), err))
			}
		}
		if len(failed) > 0 {
			b.Errorf("%d of %d bare Helm installs failed:\n%s", len(failed), enablers, strings.Join(failed, "\n"))
		}
		// A failed install may have left no release to uninstall.
		uninstalled := make([]error, enablers)
		for i, name := range names {
			wg.Go(func() {
				if err := helms[i%clusters].uninstall(name); err != nil && errs[i] == nil {
					uninstalled[i] = fmt.Errorf("uninstall %s: %w", name, err)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(uninstalled...); err != nil {
			b.Fatal(err)
		}
		waitEmpty(b, env)
		b.StartTimer()
	}

	for batch := 0; b.Loop(); batch++ {
		if batch%2 == 0 {
			bareArm(batch)
			orchArm(batch)
		} else {
			orchArm(batch)
			bareArm(batch)
		}
	}
	b.Logf("%d enablers in %d batches: 0 lost, 0 duplicated", len(orch.latencies), len(orch.batches))
}

// armFigures gathers one arm's batches of BenchmarkConcurrentInstantiate.
type armFigures struct {
	total     time.Duration
	batches   []time.Duration
	latencies []time.Duration
}

func (f *armFigures) add(batch time.Duration, latencies []time.Duration) {
	f.total += batch
	f.batches = append(f.batches, batch)
	f.latencies = append(f.latencies, latencies...)
}

func (f *armFigures) throughput() float64 { return float64(len(f.latencies)) / f.total.Seconds() }

func (f *armFigures) report(b *testing.B, arm string) {
	if len(f.batches) == 0 {
		return
	}
	b.ReportMetric(f.throughput(), arm+"-enablers/s")
	b.ReportMetric(f.total.Seconds()/float64(len(f.batches)), arm+"-batch-s")
	b.ReportMetric(msOf(percentile(f.latencies, 50)), arm+"-p50-ms")
	b.ReportMetric(msOf(percentile(f.latencies, 99)), arm+"-p99-ms")
}

// warmUp installs one release per cluster through the orchestrator (an
// enabler pinned to the cluster) and one with each bare Helm, and removes
// them, so that the timed batches find warm caches on both sides.
func warmUp(b *testing.B, o *orchestrator, env *testenv.Env, helms []*bareHelm) {
	b.Helper()
	var wg sync.WaitGroup
	names := make([]string, len(env.Clusters))
	views := make([]enablerView, len(env.Clusters))
	errs := make([]error, len(env.Clusters))
	for i, c := range env.Clusters {
		names[i] = "warm-" + c.Name
		wg.Go(func() {
			body := map[string]any{"enablerName": names[i], "helmChart": "test/" + testenv.ChartWeb, "vim": c.Name}
			var a struct{ Enabler enablerView }
			code, data, err := o.send("POST", "/api/enabler?wait=4m", body)
			if err == nil {
				err = json.Unmarshal(data, &a)
			}
			if err == nil && (code != 202 || a.Enabler.Status != "Enabled") {
				err = fmt.Errorf("%d %s", code, data)
			}
			views[i] = a.Enabler
			if err != nil {
				errs[i] = fmt.Errorf("warm-up enabler on %s: %w", c.Name, err)
				return
			}
			if err := helms[i].install(b.Context(), "warm-helm", map[string]any{}); err != nil {
				errs[i] = fmt.Errorf("warm-up helm install on %s: %w", c.Name, err)
				return
			}
			if err := helms[i].uninstall("warm-helm"); err != nil {
				errs[i] = fmt.Errorf("warm-up helm uninstall on %s: %w", c.Name, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	o.deleteAll(names)
	waitEmpty(b, env)
}

// waitEmpty waits until no cluster has a pod or a Helm release left in the
// namespace "default", where both the orchestrator and the bare Helm
// install.
func waitEmpty(b *testing.B, env *testenv.Env) {
	b.Helper()
	const timeout = 5 * time.Minute
	for deadline := time.Now().Add(timeout); ; time.Sleep(250 * time.Millisecond) {
		var left []string
		for _, c := range env.Clusters {
			pods, err := c.Client.CoreV1().Pods("default").List(b.Context(), metav1.ListOptions{})
			if err != nil {
				b.Fatal(err)
			}
			secrets, err := c.Client.CoreV1().Secrets("default").List(b.Context(), metav1.ListOptions{LabelSelector: "owner=helm"})
			if err != nil {
				b.Fatal(err)
			}
			if n, m := len(pods.Items), len(secrets.Items); n+m > 0 {
				left = append(left, fmt.Sprintf("%s: %d pods, %d releases", c.Name, n, m))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %v the clusters are not empty: %s", timeout, strings.Join(left, "; "))
		}
	}
}

// posted is the outcome of one POST /api/enabler.
type posted struct {
	name    string
	code    int
	enabler enablerView
	took    time.Duration // until its operation ended
	err     error
}

// postEnabler instantiates an enabler (web, worst-fit) and waits until its
// operation ends: through the API's ?wait, then on the workflow itself if
// that was not long enough.
func (o *orchestrator) postEnabler(ctx context.Context, name string) posted {
	p := posted{name: name}
	start := time.Now()
	code, data, err := o.send("POST", "/api/enabler?wait=4m", enablerBody(name, testenv.ChartWeb, "worst-fit", nil))
	var a struct{ Enabler enablerView }
	if err == nil {
		err = json.Unmarshal(data, &a)
	}
	p.code, p.enabler, p.err = code, a.Enabler, err
	if err != nil || code != 202 || a.Enabler.Status != "Pending" {
		p.took = time.Since(start)
		return p
	}
	err = o.temporal.GetWorkflow(ctx, a.Enabler.OperationID, "").Get(ctx, nil)
	p.took = time.Since(start)
	if err == nil {
		code, data, err = o.send("GET", "/api/enabler/"+name, nil)
		if err == nil && code != 200 {
			err = fmt.Errorf("GET /api/enabler/%s: %d %s", name, code, data)
		}
		if err == nil {
			err = json.Unmarshal(data, &p.enabler)
		}
	}
	p.err = err
	return p
}

// checkExactlyOnce fails b unless every enabler posted is Enabled and has
// exactly one record, one release on one cluster (the one its record
// names, labelled with its id) and one workflow run.
func checkExactlyOnce(b *testing.B, o *orchestrator, env *testenv.Env, results []posted) {
	b.Helper()
	ctx := b.Context()
	var lost []string
	names := make([]string, len(results))
	for i, r := range results {
		names[i] = r.name
		if r.err != nil || r.code != 202 || r.enabler.Status != "Enabled" {
			lost = append(lost, fmt.Sprintf("%s: %d %v %s %s", r.name, r.code, r.err, r.enabler.Status, r.enabler.StatusReason))
		}
	}
	if len(lost) > 0 {
		b.Fatalf("%d of %d enablers lost:\n%s", len(lost), len(results), strings.Join(lost, "\n"))
	}

	records, err := o.store.Enablers.Find(ctx, map[string]any{"name": map[string]any{"$in": names}})
	if err != nil {
		b.Fatal(err)
	}
	byName := map[string][]store.Enabler{}
	for _, e := range records {
		byName[e.Name] = append(byName[e.Name], e)
	}

	// Helm's storage Secrets, one per release revision, by release name.
	type revision struct{ cluster, owner string }
	releases := map[string][]revision{}
	for _, c := range env.Clusters {
		secrets, err := c.Client.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range secrets.Items {
			releases[s.Labels["name"]] = append(releases[s.Labels["name"]], revision{c.Name, s.Labels[release.OwnerLabel]})
		}
	}

	runs := map[string]int{}
	eventually(b, time.Minute, "Temporal's visibility to list every run", func() bool {
		clear(runs)
		var token []byte
		for {
			resp, err := o.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Query: "WorkflowType = 'InstantiateEnabler'", PageSize: 1000, NextPageToken: token,
			})
			if err != nil {
				b.Fatal(err)
			}
			for _, ex := range resp.GetExecutions() {
				runs[ex.GetExecution().GetWorkflowId()]++
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				return !slices.ContainsFunc(results, func(r posted) bool { return runs[r.enabler.OperationID] == 0 })
			}
		}
	})

	var duplicated []string
	for _, r := range results {
		recs, revs := byName[r.name], releases[r.name]
		switch {
		case len(recs) != 1:
			duplicated = append(duplicated, fmt.Sprintf("%s: %d records", r.name, len(recs)))
		case len(revs) != 1:
			duplicated = append(duplicated, fmt.Sprintf("%s: %d release revisions %v", r.name, len(revs), revs))
		case revs[0].cluster != recs[0].Cluster || revs[0].owner != recs[0].ID:
			duplicated = append(duplicated, fmt.Sprintf("%s: release on %s owned by %s, record says %s and %s", r.name, revs[0].cluster, revs[0].owner, recs[0].Cluster, recs[0].ID))
		case runs[recs[0].OperationID] != 1:
			duplicated = append(duplicated, fmt.Sprintf("%s: %d workflow runs of %s", r.name, runs[recs[0].OperationID], recs[0].OperationID))
		}
	}
	if len(duplicated) > 0 {
		b.Fatalf("%d of %d enablers not exactly once:\n%s", len(duplicated), len(results), strings.Join(duplicated, "\n"))
	}
}

// leakedHolds counts the holds left once every placement ended. It should
// be 0. A Place attempt given up (timed out) whose write still lands can
// leave one; it ends with its lease (the enabler's timeout plus a margin,
// see placement.TestStrayHoldEndsWithItsLease), so it is reported here
// rather than failing the benchmark.
func leakedHolds(b *testing.B, o *orchestrator) int {
	all, err := o.store.Reservations.Find(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, r := range all {
		for _, h := range r.Holds {
			b.Logf("cluster %s: hold of enabler %s since %v still held (lease to %v)", r.ID, h.EnablerID, h.Since, h.Expires)
			n++
		}
	}
	return n
}

// deleteAll deletes the enablers, ten at a time (two hundred at once time
// out in FerretDB), and fails unless each is gone.
func (o *orchestrator) deleteAll(names []string) {
	o.t.Helper()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 10)
	for i, name := range names {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			code, data, err := o.send("DELETE", "/api/enabler/"+name+"?wait=4m", nil)
			var a struct{ Enabler enablerView }
			if err == nil {
				err = json.Unmarshal(data, &a)
			}
			if err == nil && (code != 202 || a.Enabler.Status != "Deleted") {
				err = fmt.Errorf("%d %s", code, data)
			}
			if err != nil {
				errs[i] = fmt.Errorf("delete %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		o.t.Fatal(err)
	}
}
