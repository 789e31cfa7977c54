package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/smartorch/smartorch/apiserver"
	"github.com/smartorch/smartorch/auth"
	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/store/storetest"
	"github.com/smartorch/smartorch/testenv"
	"github.com/smartorch/smartorch/worker"
)

const adminPassword = "e2e-admin-password"

// orchestrator is the API and a worker running in the test process against
// the environment's Temporal and an embedded FerretDB.
type orchestrator struct {
	t testing.TB
	// workerEnv starts a worker process with this environment (see TestMain).
	workerEnv  []string
	url        string
	token      string
	store      *store.Store
	db         *storetest.Store // the store's server, for tests that stop it
	temporal   client.Client
	metricsDir string
	bodies     []string
	// logs holds everything the API and the in-process worker logged, at
	// every level (the test output shows only warnings and errors).
	logs      *syncBuffer
	taskQueue string
}

func startOrchestrator(t testing.TB, env *testenv.Env, configure ...func(*apiserver.Config)) *orchestrator {
	return start(t, env, true, configure...)
}

// start runs the API, and a worker in this process when inProcessWorker;
// otherwise tests start worker processes with startWorkerProcess.
// configure, if given, changes the API's Config first.
func start(t testing.TB, env *testenv.Env, inProcessWorker bool, configure ...func(*apiserver.Config)) *orchestrator {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}),
		slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	opened := storetest.Open(t)
	st, uri, key := opened.Store, opened.URI, opened.Key

	tc, err := client.Dial(client.Options{HostPort: env.Temporal.Address, Namespace: env.Temporal.Namespace, Logger: sdklog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	taskQueue := "e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	metricsDir := t.TempDir()
	prometheus := ""
	if env.Prometheus != nil {
		prometheus = env.Prometheus.URL
	}
	cacheDir := t.TempDir()
	planner := newPlanner(st, cacheDir, prometheus)
	if inProcessWorker {
		st.SoleWriter() // as in smartorch dev: API and worker in one process
		w := worker.New(tc, worker.Options{TaskQueue: taskQueue, Store: st, MetricsDir: metricsDir, Planner: planner, Health: fastHealth, Logger: logger})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}

	users := auth.NewUsers(st)
	if _, err := users.EnsureAdmin(ctx, adminPassword, nil); err != nil {
		t.Fatal(err)
	}
	tokens, _ := auth.NewTokens(key, time.Hour)
	cfg := apiserver.Config{
		Store: st, Tokens: tokens, Users: users, Charts: chartrepo.Checker{Timeout: 5 * time.Second},
		Temporal: tc, TaskQueue: taskQueue, Prometheus: prometheus, Planner: planner, Logger: logger,
	}
	for _, f := range configure {
		f(&cfg)
	}
	app := apiserver.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })

	o := &orchestrator{t: t, url: "http://" + ln.Addr().String(), store: st, db: opened, temporal: tc, metricsDir: metricsDir, logs: logs, taskQueue: taskQueue,
		workerEnv: []string{
			"SMARTORCH_E2E_WORKER=1",
			"E2E_MONGO_URI=" + uri,
			"E2E_SECRET_KEY=" + hex.EncodeToString(key),
			"E2E_TEMPORAL=" + env.Temporal.Address,
			"E2E_TASK_QUEUE=" + taskQueue,
			"E2E_METRICS_DIR=" + metricsDir,
			"E2E_PROMETHEUS=" + prometheus,
			"E2E_CACHE_DIR=" + cacheDir,
		}}
	t.Cleanup(func() { o.replayHistories(taskQueue) })
	var tok struct{ Token string }
	if code := o.call("POST", "/api/login/tokens", map[string]string{"username": "admin", "password": adminPassword}, &tok); code != 201 {
		t.Fatalf("login: %d", code)
	}
	o.token = tok.Token
	return o
}

func newPlanner(st *store.Store, cacheDir, prometheus string) *placement.Planner {
	return &placement.Planner{Store: st, Charts: &chartrepo.Charts{CacheDir: cacheDir}, Prometheus: prometheus}
}

// call sends a JSON request and decodes the answer into out (if not nil).
func (o *orchestrator) call(method, path string, body, out any) int {
	o.t.Helper()
	code, data, err := o.send(method, path, body)
	if err != nil {
		o.t.Fatalf("%s %s: %v", method, path, err)
	}
	o.bodies = append(o.bodies, string(data))
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			o.t.Fatalf("%s %s: %s: %v", method, path, data, err)
		}
	}
	if code >= 500 {
		o.t.Errorf("%s %s: %d %s", method, path, code, data)
	}
	return code
}

// send sends a JSON request and returns the answer's status and body.
// Unlike call it fails nothing, so any goroutine may use it.
func (o *orchestrator) send(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, o.url+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

type clusterView struct {
	ID           string
	Name         string
	Cloud        bool
	Status       string
	StatusReason string
	NodeCount    int
	PodCIDRs     []string
	OperationID  string
	Mesh         *struct {
		ID    int
		Peers []string
	}
}

type accepted struct {
	OperationID string
	Cluster     clusterView
}

// join adds a testenv cluster and returns the 202 answer.
func (o *orchestrator) join(c *testenv.Cluster, extra map[string]any, wait string) (int, accepted) {
	o.t.Helper()
	body := map[string]any{"name": c.Name, "description": "test cluster", "credentials": json.RawMessage(c.KubeconfigJSON), "k8s_version": "1.34"}
	for k, v := range extra {
		body[k] = v
	}
	var a accepted
	path := "/api/k8sclusters/"
	if wait != "" {
		path += "?wait=" + wait
	}
	code := o.call("POST", path, body, &a)
	return code, a
}

// joinAll joins every cluster of env, in order, each with extra in its
// request, and fails the test unless each one is Enabled.
func (o *orchestrator) joinAll(env *testenv.Env, extra map[string]any) {
	o.t.Helper()
	for _, c := range env.Clusters {
		if code, a := o.join(c, extra, "2m"); code != 202 || a.Cluster.Status != "Enabled" {
			o.t.Fatalf("join %s: %d %+v", c.Name, code, a)
		}
	}
}

// addTestRepo registers testenv's chart repository as "test".
func (o *orchestrator) addTestRepo(url string) {
	o.t.Helper()
	if code := o.call("POST", "/api/chartrepo", map[string]any{"name": "test", "url": url}, nil); code != 201 {
		o.t.Fatalf("add chart repository: %d", code)
	}
}

func (o *orchestrator) cluster(idOrName string) (int, clusterView) {
	o.t.Helper()
	var c clusterView
	code := o.call("GET", "/api/k8sclusters/"+idOrName, nil, &c)
	return code, c
}

type operationView struct {
	ID              string
	State           string
	Step            string
	Attempts        int32
	OperatorRetries int
	LastError       string
	Done            []string
	Waiting         *struct{ Step, Error string }
}

func (o *orchestrator) operation(id string) operationView {
	o.t.Helper()
	var op operationView
	if code := o.call("GET", "/api/operations/"+id, nil, &op); code != 200 {
		o.t.Fatalf("operation %s: %d", id, code)
	}
	return op
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMain lets the test binary double as a worker process, so tests can
// kill a worker for real (SIGKILL) and start another.
func TestMain(m *testing.M) {
	if os.Getenv("SMARTORCH_E2E_WORKER") == "" {
		os.Exit(m.Run())
	}
	key, _ := hex.DecodeString(os.Getenv("E2E_SECRET_KEY"))
	cipher, err := store.NewCipher(key)
	if err != nil {
		panic(err)
	}
	st, err := store.Open(context.Background(), os.Getenv("E2E_MONGO_URI"), "smartorch_test", cipher)
	if err != nil {
		panic(err)
	}
	tc, err := client.Dial(client.Options{HostPort: os.Getenv("E2E_TEMPORAL")})
	if err != nil {
		panic(err)
	}
	w := worker.New(tc, worker.Options{TaskQueue: os.Getenv("E2E_TASK_QUEUE"), Store: st, MetricsDir: os.Getenv("E2E_METRICS_DIR"),
		Planner: newPlanner(st, os.Getenv("E2E_CACHE_DIR"), os.Getenv("E2E_PROMETHEUS")), Health: fastHealth})
	if err := w.Run(sdkworker.InterruptCh()); err != nil {
		panic(err)
	}
}

// startWorkerProcess runs a worker in a child process; kill it with
// cmd.Process.Kill (SIGKILL).
func (o *orchestrator) startWorkerProcess() *exec.Cmd {
	o.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), o.workerEnv...)
	cmd.Stdout, cmd.Stderr = o.t.Output(), o.t.Output()
	if err := cmd.Start(); err != nil {
		o.t.Fatal(err)
	}
	o.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}
