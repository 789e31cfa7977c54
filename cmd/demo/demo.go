package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/devstack"
	"github.com/smartorch/smartorch/testenv"
	"github.com/smartorch/smartorch/usage"
)

type options struct {
	keep      bool
	smartorch string
	timeout   time.Duration
	verbose   bool
}

// The environment: edge-1 is the smallest edge, edge-3 the largest, edge-2
// receives the most traffic among the edges; the cloud is the largest of
// all and receives the most traffic, but it is only a fallback: an enabler
// goes to the cloud only when no edge fits.
var clusters = []struct {
	name    string
	cpu     string
	memory  string
	traffic float64 // bytes received per second
	podCIDR string
}{
	{"cloud", "16", "32Gi", 9e6, "10.217.0.0/24"},
	{"edge-1", "2", "4Gi", 1e6, ""},
	{"edge-2", "4", "8Gi", 5e6, ""},
	{"edge-3", "8", "16Gi", 2e5, ""},
}

// placements are the enablers the demo places, one per policy, with the
// cluster each policy must choose in this environment.
var placements = []struct {
	policy, name, want, why string
}{
	{"worst-fit", "web-worst-fit", "edge-3", "the edge with the most room left"},
	{"best-fit", "web-best-fit", "edge-1", "the edge with the least room that still fits"},
	{"traffic-most", "web-traffic-most", "edge-2", "the edge receiving the most traffic"},
}

const (
	repoName = "demo"
	replicas = 2
)

type demo struct {
	options
	start   time.Time
	session *testenv.Session
	env     *testenv.Env
	orch    *orchestrator
	api     *api
	// What -keep prints for exploring.
	password string
}

func newDemo(opts options) *demo {
	return &demo{options: opts, start: time.Now(), session: testenv.NewSession()}
}

// close stops everything the demo started, the orchestrator first.
func (d *demo) close() {
	if d.env != nil {
		fmt.Println("\nCleaning up: stopping smartorch dev and the test environment …")
	}
	d.session.Close()
}

// run runs the demo within -timeout; with -keep it then waits for outer
// (Ctrl-C).
func (d *demo) run(outer context.Context) error {
	ctx, cancel := context.WithTimeout(outer, d.timeout)
	defer cancel()
	ports, err := devstack.FreePorts("127.0.0.1", 3)
	if err != nil {
		return err
	}
	d.orch = &orchestrator{apiPort: ports[0], temporalPort: ports[1], uiPort: ports[2]}

	fmt.Println("Smart Orchestrator demo")
	fmt.Println("=======================")
	fmt.Printf("Four real Kubernetes clusters on this machine, the orchestrator in dev mode, and the REST API\n")
	fmt.Printf("driving it. Watch the workflows in the Temporal UI while it runs: %s\n", d.orch.workflowsURL())

	if err := d.startClusters(ctx); err != nil {
		return err
	}
	if err := d.startOrchestrator(ctx); err != nil {
		return err
	}
	if err := d.login(ctx); err != nil {
		return err
	}
	if err := d.joinClusters(ctx); err != nil {
		return err
	}
	if err := d.addRepository(ctx); err != nil {
		return err
	}
	if err := d.waitForTraffic(ctx); err != nil {
		return err
	}
	for i, p := range placements {
		if err := d.place(ctx, i+1, p.policy, p.name, p.want, p.why); err != nil {
			return err
		}
	}
	if err := d.summary(ctx); err != nil {
		return err
	}
	if d.keep {
		d.explore()
		<-outer.Done()
	}
	return nil
}

func (d *demo) step(n int, title string) {
	fmt.Printf("\n[%d/6] %s   (%s)\n", n, title, d.elapsed())
}

func (d *demo) elapsed() string {
	return time.Since(d.start).Round(100 * time.Millisecond).String()
}

// startClusters brings up the clusters, Prometheus and the chart repository.
func (d *demo) startClusters(ctx context.Context) error {
	d.step(1, "Starting the test environment: 4 Kubernetes clusters, Prometheus, a chart repository")
	if os.Getenv("SMARTORCH_TOOLS_BIN") == "" {
		return errors.New(`SMARTORCH_TOOLS_BIN is not set: run "make demo", or eval "$(hack/tools.sh)" first`)
	}
	var opts []testenv.ClusterOptions
	for _, c := range clusters {
		opts = append(opts, testenv.ClusterOptions{
			Name: c.name, Workloads: true, StorageClass: "standard", Cilium: true,
			Nodes: []testenv.NodeOptions{{CPU: c.cpu, Memory: c.memory, PodCIDR: c.podCIDR}},
		})
	}
	fmt.Println("  etcd, kube-apiserver, controller manager, scheduler and kwok (fake nodes that run pods) per cluster …")
	// testenv.Start cannot be interrupted; a Ctrl-C meanwhile is acted on when it returns.
	d.env = testenv.Start(d.session, testenv.Options{Clusters: opts, Prometheus: true, ChartRepo: true})
	if err := ctx.Err(); err != nil {
		return err
	}
	w := table()
	fmt.Fprintln(w, "  CLUSTER\tNODE\tCPU\tMEMORY\tTRAFFIC SET\tAPI SERVER")
	for i, c := range clusters {
		ec := d.env.Cluster(c.name)
		ec.Metrics.SetReceiveRate(ec.Nodes[0].Name, c.traffic)
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.name, ec.Nodes[0].Name, clusters[i].cpu, c.memory, rate(c.traffic), ec.APIServerURL)
	}
	w.Flush()
	fmt.Printf("  Prometheus %s scrapes each cluster's node metrics; chart repository %s (charts: %s)\n",
		d.env.Prometheus.URL, d.env.ChartRepo.URL, strings.Join(uniq(d.env.ChartRepo.Charts), ", "))
	return nil
}

// startOrchestrator runs `smartorch dev` with its data in a temporary directory.
func (d *demo) startOrchestrator(ctx context.Context) error {
	d.step(2, "Starting the orchestrator: smartorch dev (API, worker, embedded Temporal + UI, document store)")
	d.password = "demo-" + rand.Text()[:12]
	d.orch.dataDir = d.session.TempDir()
	d.orch.prometheusURL = d.env.Prometheus.URL
	d.orch.password = d.password
	d.orch.verbose = d.verbose
	d.orch.bin = d.smartorch
	if err := d.orch.start(ctx); err != nil {
		return err
	}
	d.session.Cleanup(d.orch.stop)
	if err := d.orch.waitReady(ctx, 3*time.Minute); err != nil {
		return err
	}
	fmt.Printf("  API          %s   (ready: GET /readyz answers 200)\n", d.orch.apiURL())
	fmt.Printf("  Temporal UI  %s\n", d.orch.workflowsURL())
	fmt.Printf("  Log          %s\n", d.orch.logPath)
	d.api = &api{base: d.orch.apiURL(), http: &http.Client{Timeout: 5 * time.Minute}}
	return nil
}

func (d *demo) login(ctx context.Context) error {
	d.step(3, "Logging in")
	var t token
	if _, err := d.api.call(ctx, "POST", "/api/login/tokens", map[string]string{"username": "admin", "password": d.password}, &t); err != nil {
		return err
	}
	d.api.token = t.Token
	fmt.Printf("  POST /api/login/tokens {username: admin, password: …} → 201, a token valid until %s\n", t.Expires.Local().Format(time.TimeOnly))
	fmt.Println("  Every other call sends it as \"Authorization: Bearer <token>\".")
	return nil
}

// joinClusters joins the cloud first (the first cluster joined is the
// cloud cluster), then the edges, following each JoinCluster workflow.
func (d *demo) joinClusters(ctx context.Context) error {
	d.step(4, "Joining the clusters (the JoinCluster workflow, one per cluster)")
	for _, c := range clusters {
		ec := d.env.Cluster(c.name)
		body := map[string]any{
			"name": c.name, "description": "demo cluster " + c.name, "k8s_version": "1.34",
			"credentials": json.RawMessage(ec.KubeconfigJSON),
		}
		var a struct {
			OperationID string  `json:"operationId"`
			Cluster     cluster `json:"cluster"`
		}
		fmt.Printf("\n  POST /api/k8sclusters/?wait=2m {name: %s, description, k8s_version: 1.34, credentials: <%s's kubeconfig as JSON>}\n", c.name, c.name)
		code, err := d.operate(ctx, "/api/k8sclusters/?wait=2m", body, &a, "/api/k8sclusters/"+c.name)
		if err != nil {
			return fmt.Errorf("joining %s: %w", c.name, err)
		}
		fmt.Printf("  → %d {operationId: %s, cluster: {status: %s}}\n", code, a.OperationID, a.Cluster.Status)
		var got cluster
		if _, err := d.api.call(ctx, "GET", "/api/k8sclusters/"+c.name, nil, &got); err != nil {
			return err
		}
		if got.Status != "Enabled" {
			return fmt.Errorf("cluster %s is %s after its join: %s", c.name, got.Status, got.StatusReason)
		}
		role := "edge"
		if got.Cloud {
			role = "cloud"
		}
		mesh := "no ClusterMesh"
		if got.Mesh != nil {
			mesh = fmt.Sprintf("ClusterMesh id %d", got.Mesh.ID)
			if len(got.Mesh.Peers) > 0 {
				mesh += ", peers " + strings.Join(got.Mesh.Peers, ", ")
			}
		}
		fmt.Printf("  %s is %s: %s cluster, Kubernetes %s, %d node(s), pod CIDRs %s, %s\n",
			c.name, got.Status, role, got.ServerVersion, got.NodeCount, strings.Join(got.PodCIDRs, ","), mesh)
	}
	return nil
}

func (d *demo) addRepository(ctx context.Context) error {
	d.step(5, "Adding the chart repository")
	var r repo
	body := map[string]any{"name": repoName, "description": "the test charts", "url": d.env.ChartRepo.URL}
	code, err := d.api.call(ctx, "POST", "/api/chartrepo", body, &r)
	if err != nil {
		return err
	}
	fmt.Printf("  POST /api/chartrepo {name: %s, url: %s} → %d; the index was fetched and checked. Charts:\n", repoName, d.env.ChartRepo.URL, code)
	for _, c := range r.Charts {
		fmt.Printf("    %s/%-9s versions %s\n", repoName, c.Name, strings.Join(c.Versions, ", "))
	}
	return nil
}

// waitForTraffic waits until Prometheus's recording rule shows the
// traffic set on each cluster, so traffic-most has figures to rank.
func (d *demo) waitForTraffic(ctx context.Context) error {
	fmt.Printf("\n  Waiting until Prometheus's recording rule shows the traffic set on each cluster (%s) …\n", time.Now().Format(time.TimeOnly))
	prom := usage.Client{URL: d.env.Prometheus.URL, Timeout: 5 * time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pending := []string{}
		for _, c := range clusters {
			s, err := prom.Traffic(ctx, c.name)
			if err != nil || math.Abs(s.Value-c.traffic) > c.traffic*0.05 {
				pending = append(pending, c.name)
			}
		}
		if len(pending) == 0 {
			fmt.Printf("  … it does (%s).\n", time.Now().Format(time.TimeOnly))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Prometheus at %s does not show the traffic of %s after 2 minutes", d.env.Prometheus.URL, strings.Join(pending, ", "))
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// place previews, then instantiates, an enabler with one policy.
func (d *demo) place(ctx context.Context, n int, policy, name, want, why string) error {
	if n == 1 {
		d.step(6, fmt.Sprintf("Placing enablers: chart %s/web with replicaCount %d (each pod requests 100m CPU, 128Mi), once per policy", repoName, replicas))
	}
	body := map[string]any{
		"enablerName":      name,
		"helmChart":        repoName + "/web",
		"additionalParams": map[string]any{"replicaCount": replicas},
		"auto":             true,
		"placementPolicy":  policy,
	}
	fmt.Printf("\n  ── %s: expect %s, %s ──\n", policy, want, why)
	var preview decision
	if _, err := d.api.call(ctx, "POST", "/api/placement/preview", body, &preview); err != nil {
		return err
	}
	fmt.Printf("  POST /api/placement/preview → %s (nothing stored, nothing reserved)\n", preview.Cluster)
	var a struct {
		OperationID string  `json:"operationId"`
		Enabler     enabler `json:"enabler"`
	}
	fmt.Printf("  POST /api/enabler?wait=3m {enablerName: %s, helmChart: %s/web, additionalParams: {replicaCount: %d}, auto: true, placementPolicy: %s}\n",
		name, repoName, replicas, policy)
	code, err := d.operate(ctx, "/api/enabler?wait=3m", body, &a, "/api/enabler/"+name)
	if err != nil {
		return fmt.Errorf("instantiating %s: %w", name, err)
	}
	fmt.Printf("  → %d {operationId: %s, enabler: {status: %s, cluster: %s}}\n", code, a.OperationID, a.Enabler.Status, a.Enabler.Cluster)
	var e enabler
	if _, err := d.api.call(ctx, "GET", "/api/enabler/"+name, nil, &e); err != nil {
		return err
	}
	if e.Status != "Enabled" {
		return fmt.Errorf("enabler %s is %s: %s", name, e.Status, e.StatusReason)
	}
	if e.Placement == nil {
		return fmt.Errorf("enabler %s has no placement decision", name)
	}
	showDecision(e.Placement)
	running, err := d.runningPods(ctx, e.Cluster, name)
	if err != nil {
		return err
	}
	fmt.Printf("  %s is %s on %s: chart %s %s, Helm revision %d; %d/%d pods Running there (read from %s's API server)\n",
		name, e.Status, e.Cluster, e.HelmChart, e.ChartVersion, e.ReleaseRevision, running, replicas, e.Cluster)
	switch {
	case e.Cluster != preview.Cluster:
		return fmt.Errorf("%s: the preview chose %s but the instantiation placed it on %s", policy, preview.Cluster, e.Cluster)
	case e.Cluster != want:
		return fmt.Errorf("%s placed %s on %s, but in this environment it should choose %s (%s)", policy, name, e.Cluster, want, why)
	case running != replicas:
		return fmt.Errorf("%s: %d of %d pods Running on %s", name, running, replicas, e.Cluster)
	}
	return nil
}

// showDecision prints the stored placement decision: the reason and a
// table of every cluster's inputs and verdict.
func showDecision(p *decision) {
	fmt.Printf("  Decision (stored with the enabler): policy %s, applied %s, demand %s CPU, %s memory in total\n", p.Policy, p.Applied, p.Total.CPU, p.Total.Memory)
	if p.Fallback != "" {
		fmt.Printf("  Fallback: %s\n", p.Fallback)
	}
	fmt.Printf("  Reason:   %s\n", p.Reason)
	w := table()
	fmt.Fprintln(w, "    CLUSTER\tROLE\tFREE CPU\tFREE MEMORY\tREPLICAS FIT\tTRAFFIC\tSCORE\tVERDICT")
	gathered := false
	for _, c := range p.Candidates {
		role := "edge"
		if c.Cloud {
			role = "cloud"
		}
		traffic := "-"
		if c.Traffic != nil && c.Traffic.Error == "" {
			traffic, gathered = rate(c.Traffic.BytesPerSecond), true
		} else if c.Traffic != nil {
			traffic = "? (" + c.Traffic.Error + ")"
		}
		verdict := "does not fit: " + c.Reason
		switch {
		case c.ClusterID == p.ClusterID:
			verdict = "CHOSEN"
		case c.Feasible && c.Cloud:
			verdict = "fits; the cloud is only a fallback when no edge fits"
		case c.Feasible:
			verdict = "fits; lower score"
		}
		score := "-"
		if c.Feasible {
			score = formatScore(c.Score)
		}
		fmt.Fprintf(w, "    %s\t%s\t%s\t%s\t%d (needs %d)\t%s\t%s\t%s\n", c.Cluster, role, c.Free.CPU, c.Free.Memory, c.ReplicasFit, c.ReplicasNeeded, traffic, score, verdict)
	}
	w.Flush()
	if !gathered {
		fmt.Println("    (TRAFFIC: only traffic-most reads it from Prometheus)")
	}
}

// formatScore shows a score without exponents: traffic-most's are bytes per second.
func formatScore(f float64) string {
	if math.Abs(f) >= 1000 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%g", f)
}

// runningPods counts the release's Running pods, read from the cluster itself.
func (d *demo) runningPods(ctx context.Context, clusterName, release string) (int, error) {
	c := d.env.Cluster(clusterName)
	if c == nil {
		return 0, fmt.Errorf("no test cluster %q", clusterName)
	}
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning {
			n++
		}
	}
	return n, nil
}

// operate POSTs a request that starts an operation and, with ?wait=, answers
// when it has ended. Meanwhile it follows the operation: it reads the
// operation id from the resource (GET resource answers as soon as the
// request has stored it) and polls GET /api/operations/:id, printing each
// step when first seen. An operation that waits for an operator fails the demo.
func (d *demo) operate(ctx context.Context, path string, body, out any, resource string) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		code int
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		code, err := d.api.call(ctx, "POST", path, body, out)
		answered <- answer{code, err}
	}()

	var got *answer
	opID, seen, lastAttempt := "", map[string]bool{}, 0
	deadline := time.Now().Add(5 * time.Minute)
	for {
		select {
		case a := <-answered:
			got = &a
		default:
		}
		if got != nil && got.err != nil {
			return got.code, got.err
		}
		if opID == "" {
			var r struct {
				OperationID string `json:"operationId"`
			}
			if _, err := d.api.call(ctx, "GET", resource, nil, &r); err == nil && r.OperationID != "" {
				opID = r.OperationID
				fmt.Printf("    operation %s:\n", opID)
			}
		}
		if opID != "" {
			var op operation
			if _, err := d.api.call(ctx, "GET", "/api/operations/"+opID, nil, &op); err != nil {
				return 0, err
			}
			for _, step := range append(op.Done, op.Step) {
				if step != "" && !seen[step] {
					seen[step] = true
					fmt.Printf("      · %s\n", step)
				}
			}
			if op.Attempts > 1 && op.Attempts != lastAttempt && op.LastError != "" {
				lastAttempt = op.Attempts
				fmt.Printf("        attempt %d: %s\n", op.Attempts, op.LastError)
			}
			switch op.State {
			case "Completed":
				took := ""
				if op.Ended != nil {
					took = " in " + op.Ended.Sub(op.Started).Round(10*time.Millisecond).String()
				}
				fmt.Printf("    %s %s%s\n", op.Type, op.State, took)
				if got == nil {
					a := <-answered
					got = &a
				}
				return got.code, got.err
			case "Failed":
				return 0, fmt.Errorf("operation %s failed: %s", opID, op.LastError)
			case "WaitingForOperator":
				msg := fmt.Sprintf("operation %s waits for an operator", opID)
				if op.Waiting != nil {
					msg += fmt.Sprintf(" at step %q: %s (%s)", op.Waiting.Step, op.Waiting.Error, op.Waiting.Hint)
				}
				return 0, errors.New(msg)
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("POST %s: operation %q has not ended after 5 minutes", path, opID)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

func (d *demo) summary(ctx context.Context) error {
	var list []enabler
	if _, err := d.api.call(ctx, "GET", "/api/enabler/instanced", nil, &list); err != nil {
		return err
	}
	fmt.Printf("\nSummary: GET /api/enabler/instanced\n")
	w := table()
	fmt.Fprintln(w, "  ENABLER\tPOLICY\tCLUSTER\tSTATUS\tWHY")
	for _, p := range placements {
		i := slices.IndexFunc(list, func(e enabler) bool { return e.Name == p.name })
		if i < 0 {
			return fmt.Errorf("enabler %s is not listed", p.name)
		}
		e := list[i]
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", e.Name, e.Policy, e.Cluster, e.Status, p.why)
	}
	w.Flush()
	fmt.Printf("\nDemo succeeded in %s: 4 clusters joined, 1 chart repository added, 3 enablers placed by worst-fit, best-fit and traffic-most.\n", d.elapsed())
	return nil
}

// explore prints how to look around while -keep holds everything up.
func (d *demo) explore() {
	api := d.orch.apiURL()
	fmt.Printf("\nEverything stays up until Ctrl-C (-keep). Explore:\n\n")
	fmt.Printf("  Temporal UI   %s\n", d.orch.workflowsURL())
	fmt.Printf("  API document  %s/api/openapi.json\n\n", api)
	fmt.Printf("  API=%s\n", api)
	fmt.Printf("  TOKEN=%s\n\n", d.api.token)
	fmt.Printf("  curl -s $API/api/k8sclusters/ -H \"Authorization: Bearer $TOKEN\"\n")
	fmt.Printf("  curl -s $API/api/k8sclusters/node/edge-1 -H \"Authorization: Bearer $TOKEN\"\n")
	fmt.Printf("  curl -s $API/api/enabler/instanced -H \"Authorization: Bearer $TOKEN\"\n")
	fmt.Printf("  curl -s -X POST $API/api/placement/preview -H \"Authorization: Bearer $TOKEN\" \\\n")
	fmt.Printf("    -d '{\"enablerName\":\"big\",\"helmChart\":\"%s/web\",\"auto\":true,\"placementPolicy\":\"worst-fit\",\"additionalParams\":{\"replicaCount\":40}}'\n\n", repoName)
	fmt.Printf("  Log in again: admin / %s\n", d.password)
	for _, c := range d.env.Clusters {
		fmt.Printf("  kubectl --kubeconfig %s get pods -A\n", c.KubeconfigPath)
	}
}

func table() *tabwriter.Writer {
	return tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
}

// rate formats bytes per second.
func rate(bps float64) string {
	switch {
	case bps >= 1e6:
		return fmt.Sprintf("%.1f MB/s", bps/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.0f kB/s", bps/1e3)
	default:
		return fmt.Sprintf("%.0f B/s", bps)
	}
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
