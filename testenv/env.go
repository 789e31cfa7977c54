package testenv

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// Options says what Start brings up.
type Options struct {
	Clusters []ClusterOptions
	// Prometheus starts a Prometheus that scrapes every cluster's Metrics,
	// labelled cluster_name, and evaluates deploy/prometheus/rules.yaml.
	Prometheus bool
	// RateWindow replaces [5m] in the rules; empty means DefaultRateWindow.
	RateWindow string
	// History is written into Prometheus's storage before it starts (see
	// Series and NodeHistory).
	History []Series
	// ChartRepo serves the test charts.
	ChartRepo bool
	// Temporal starts a Temporal dev server; TemporalUI adds its Web UI.
	Temporal   bool
	TemporalUI bool
	// TemporalPersistent keeps Temporal's state in a SQLite file, so that
	// workflows survive Temporal.Kill and Start.
	TemporalPersistent bool
}

// Env is a running environment. Everything in it stops when the test ends,
// or earlier with Stop.
type Env struct {
	// Dir holds the data and logs of every component (<cluster>/*.log,
	// etcd/etcd.log, prometheus/prometheus.log, temporal/temporal.log).
	Dir        string
	Clusters   []*Cluster
	Prometheus *Prometheus // nil unless Options.Prometheus
	ChartRepo  *ChartRepo  // nil unless Options.ChartRepo
	Temporal   *Temporal   // nil unless Options.Temporal

	etcd *etcd

	mu      sync.Mutex
	procs   []*process
	stopped bool
}

// Start brings up the environment, clusters in parallel, and registers its
// teardown with t.Cleanup. It fails t (t.Fatalf) when anything does not
// start, including when SMARTORCH_TOOLS_BIN is unset or lacks a binary.
func Start(t T, opts Options) *Env {
	t.Helper()
	fatal(t, opts.validate())
	env := &Env{Dir: t.TempDir()}
	t.Cleanup(env.Stop) // after TempDir, so it runs before the directory goes
	begin := time.Now()
	fatal(t, env.start(opts))
	t.Logf("testenv: %d cluster(s) and services ready in %v (data in %s)", len(env.Clusters), time.Since(begin).Round(time.Millisecond), env.Dir)
	return env
}

func (o Options) validate() error {
	seen := map[string]bool{}
	for _, c := range o.Clusters {
		if c.Name == "" {
			return errors.New("a cluster has no name")
		}
		if seen[c.Name] {
			return fmt.Errorf("cluster name %q is used twice", c.Name)
		}
		seen[c.Name] = true
	}
	if len(o.History) > 0 && !o.Prometheus {
		return errors.New("History needs Prometheus")
	}
	// Fail before starting anything when a binary is missing.
	var need []string
	if len(o.Clusters) > 0 {
		need = append(need, "etcd", "kube-apiserver")
	}
	for _, c := range o.Clusters {
		if c.Workloads {
			need = append(need, "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml")
			break
		}
	}
	if o.Prometheus {
		need = append(need, "prometheus")
	}
	if o.Temporal {
		need = append(need, "temporal")
	}
	for _, name := range need {
		if _, err := tool(name); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) start(opts Options) error {
	for i, co := range opts.Clusters {
		c, err := newCluster(co, i, filepath.Join(e.Dir, co.Name), e.track)
		if err != nil {
			return err
		}
		e.Clusters = append(e.Clusters, c)
	}
	if len(e.Clusters) > 0 {
		var err error
		if e.etcd, err = startEtcd(filepath.Join(e.Dir, "etcd")); err != nil {
			return err
		}
		e.track(e.etcd.proc)
	}

	var wg sync.WaitGroup
	errs := make([]error, len(e.Clusters)+3)
	for i, c := range e.Clusters {
		wg.Go(func() { errs[i] = c.start(e.etcd.url) })
	}
	n := len(e.Clusters)
	if opts.Prometheus {
		wg.Go(func() {
			window := opts.RateWindow
			if window == "" {
				window = DefaultRateWindow
			}
			e.Prometheus, errs[n] = startPrometheus(filepath.Join(e.Dir, "prometheus"), window, opts.History)
			if e.Prometheus != nil {
				e.track(e.Prometheus.proc)
			}
		})
	}
	if opts.Temporal {
		wg.Go(func() {
			e.Temporal, errs[n+1] = startTemporal(filepath.Join(e.Dir, "temporal"), opts.TemporalUI, opts.TemporalPersistent, e.track)
		})
	}
	if opts.ChartRepo {
		wg.Go(func() { e.ChartRepo, errs[n+2] = startChartRepo(e.Dir, "", "") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	if e.Prometheus != nil && len(e.Clusters) > 0 {
		var groups []TargetGroup
		for _, c := range e.Clusters {
			groups = append(groups, TargetGroup{Targets: []string{c.Metrics.Address}, Labels: map[string]string{"cluster_name": c.Name}})
		}
		return e.Prometheus.SetTargets("testenv", groups)
	}
	return nil
}

func (e *Env) track(p *process) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.procs = append(e.procs, p)
}

// Cluster returns the cluster called name, or nil.
func (e *Env) Cluster(name string) *Cluster {
	for _, c := range e.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// PIDs returns the process ids of every process the environment started,
// including API servers that were stopped or restarted.
func (e *Env) PIDs() []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	pids := make([]int, len(e.procs))
	for i, p := range e.procs {
		pids[i] = p.pid()
	}
	return pids
}

// Stop stops everything: per cluster (in parallel) kwok, scheduler,
// controller manager and API server, then etcd, then Prometheus, Temporal
// and the HTTP servers. It returns when every process has exited. Stop runs
// on t.Cleanup and may be called before; later calls do nothing.
func (e *Env) Stop() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	e.mu.Unlock()

	var wg sync.WaitGroup
	for _, c := range e.Clusters {
		wg.Go(c.stop)
	}
	wg.Wait()
	if e.etcd != nil {
		e.etcd.proc.stop(stopGrace)
	}
	if e.Prometheus != nil {
		wg.Go(func() { e.Prometheus.proc.stop(stopGrace) })
	}
	if e.Temporal != nil {
		wg.Go(e.Temporal.stop)
	}
	if e.ChartRepo != nil {
		e.ChartRepo.close()
	}
	wg.Wait()
	// A process that was started but is not referenced above (a failed
	// start) is still killed.
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, p := range e.procs {
		p.stop(stopGrace)
	}
}
