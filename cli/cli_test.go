package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartorch/smartorch/scheduler"
)

func TestSaveConfigIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smartorch", "config.json")
	// An older file readable by others is replaced by a private one.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	want := &Config{Server: "http://127.0.0.1:8080", Username: "admin", Token: "tok", Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := SaveConfig(path, want); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("config file mode %o, want 600", mode)
	}
	got, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *want {
		t.Errorf("loaded %+v, want %+v", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the config directory holds %d files, want only config.json (no temporary file left)", len(entries))
	}

	fresh := filepath.Join(t.TempDir(), "new", "config.json")
	if err := SaveConfig(fresh, want); err != nil {
		t.Fatal(err)
	}
	dir, _ := os.Stat(filepath.Dir(fresh))
	if mode := dir.Mode().Perm(); mode != 0o700 {
		t.Errorf("new config directory mode %o, want 700", mode)
	}
}

func TestLoadConfigWithoutLogin(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "none.json")); err != ErrNotLoggedIn {
		t.Errorf("no file: %v, want ErrNotLoggedIn", err)
	}
}

func TestTableIsAlignedLikeKubectl(t *testing.T) {
	tb := newTable("NAME", "STATUS", "AGE")
	tb.add("edge-1", "Enabled", "5m")
	tb.add("a-much-longer-name", "", "2d")
	var b bytes.Buffer
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAME                 STATUS    AGE\n" +
		"edge-1               Enabled   5m\n" +
		"a-much-longer-name   <none>    2d\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestNextPage(t *testing.T) {
	for link, want := range map[string]string{
		`</api/enabler/instanced?cursor=abc&limit=100>; rel="next"`: "/api/enabler/instanced?cursor=abc&limit=100",
		`<a>; rel="prev", <b>; rel="next"`:                          "b",
		"":                                                          "",
		`<a>; rel="prev"`:                                           "",
	} {
		if got := nextPage(link); got != want {
			t.Errorf("nextPage(%q) = %q, want %q", link, got, want)
		}
	}
}

// recorder is an API that records the requests it gets and answers each
// with the JSON the test gives for its method and path.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	answers  map[string]string
}

type recorded struct {
	method, path string
	body         map[string]any
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	data, _ := io.ReadAll(req.Body)
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	r.mu.Lock()
	r.requests = append(r.requests, recorded{req.Method, req.URL.RequestURI(), body})
	answer, ok := r.answers[req.Method+" "+req.URL.Path]
	r.mu.Unlock()
	if !ok {
		w.Header().Set("X-Request-ID", "req-1")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":404,"error":"not_found","message":"no such thing","requestId":"req-1"}`)
		return
	}
	io.WriteString(w, answer)
}

// run runs the command line against rec with a stored login.
func run(t *testing.T, rec *recorder, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "config.json")
	if err := SaveConfig(path, &Config{Server: srv.URL, Token: "t"}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	a := &app{out: &out, err: &errOut, stdin: strings.NewReader(""), poll: time.Millisecond, configPath: path}
	code = a.run(context.Background(), args)
	return code, out.String(), errOut.String()
}

func TestUsageErrorsExit2(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	os.WriteFile(values, []byte("a: 1\n"), 0o600)
	for _, args := range [][]string{
		{"clustr"},
		{"enabler", "frobnicate"},
		{"op", "nope", "x"},
		{"cluster", "get"},
		{"cluster", "get", "a", "b"},
		{"cluster", "ls", "--nope"},
		{"cluster", "join", "edge-1"},
		{"enabler", "deploy", "web"},
		{"enabler", "deploy", "web", "--chart", "test/web", "--cluster", "edge-1", "--policy", "best-fit"},
		{"enabler", "deploy", "web", "--chart", "test/web", "--set", "novalue", "-f", values},
		{"enabler", "deploy", "web", "--chart", "test/web", "--timeout", "1.5s"},
		{"cluster", "ls", "-o", "xml"},
		{"repo", "add", "private", "https://x", "--username", "me"},
	} {
		rec := &recorder{}
		code, _, stderr := run(t, rec, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, code, ExitUsage, stderr)
		}
		if !strings.Contains(stderr, "Error: ") || !strings.Contains(stderr, "--help") {
			t.Errorf("%v: stderr %q, want the error and a pointer to --help", args, stderr)
		}
		if len(rec.requests) != 0 {
			t.Errorf("%v: a wrong command line sent %d requests", args, len(rec.requests))
		}
	}
}

func TestAPIErrorShowsMessageAndRequestID(t *testing.T) {
	code, _, stderr := run(t, &recorder{}, "cluster", "get", "nope")
	if code != ExitFailed {
		t.Errorf("exit %d, want %d", code, ExitFailed)
	}
	if !strings.Contains(stderr, "no such thing") || !strings.Contains(stderr, "request id req-1") {
		t.Errorf("stderr %q, want the server's message and request id", stderr)
	}
}

func TestDeployRequest(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(first, []byte("replicaCount: 1\nimage: {tag: a, pull: Always}\n"), 0o600)
	os.WriteFile(second, []byte("image: {tag: b}\n"), 0o600)
	rec := &recorder{answers: map[string]string{"POST /api/enabler": `{"operationId":"op-1","enabler":{"name":"web"}}`}}
	code, stdout, stderr := run(t, rec, "enabler", "deploy", "web", "--chart", "test/web", "--version", "0.2.0",
		"-f", first, "-f", second, "--set", "replicaCount=3", "--set-string", "port=80", "--policy", "best-fit",
		"--timeout", "2m", "-n", "apps", "--no-wait")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "operation op-1 started") || !strings.Contains(stdout, "smartorch op watch op-1") {
		t.Errorf("--no-wait printed %q, want the operation id and how to follow it", stdout)
	}
	want := map[string]any{
		"enablerName": "web", "helmChart": "test/web", "version": "0.2.0", "auto": true, "placementPolicy": "best-fit",
		"namespace": "apps", "timeout": float64(120),
		"additionalParams": map[string]any{"replicaCount": float64(3), "port": "80", "image": map[string]any{"tag": "b", "pull": "Always"}},
	}
	if len(rec.requests) != 1 || !jsonEqual(rec.requests[0].body, want) {
		t.Errorf("requests %+v, want one POST with %v", rec.requests, want)
	}

	// --cluster places by hand: vim, no auto.
	rec = &recorder{answers: map[string]string{"POST /api/enabler": `{"operationId":"op-2","enabler":{}}`}}
	if code, _, stderr := run(t, rec, "enabler", "deploy", "web", "--chart", "test/web", "--cluster", "edge-1", "--no-wait"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b := rec.requests[0].body; b["vim"] != "edge-1" || b["auto"] != nil || b["placementPolicy"] != nil {
		t.Errorf("manual placement sent %v", b)
	}
}

func TestJoinSendsLabelsOnlyWhenGiven(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600)
	answers := map[string]string{"POST /api/k8sclusters": `{"operationId":"op-1","cluster":{}}`}
	rec := &recorder{answers: answers}
	if code, _, stderr := run(t, rec, "cluster", "join", "edge-1", "--kubeconfig", kubeconfig, "--no-wait"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	body := rec.requests[0].body
	if _, ok := body["labels"]; ok {
		t.Errorf("labels sent without --labels: %v", body)
	}
	if _, ok := body["cloud"]; ok {
		t.Errorf("cloud sent without --cloud: %v", body)
	}
	if body["name"] != "edge-1" || body["credentials"] != "apiVersion: v1\nkind: Config\n" {
		t.Errorf("join body %v", body)
	}

	rec = &recorder{answers: answers}
	if code, _, stderr := run(t, rec, "cluster", "join", "edge-1", "--kubeconfig", kubeconfig, "--labels", "zone=north,tier=edge", "--cloud=false", "--no-wait"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	body = rec.requests[0].body
	if !jsonEqual(body["labels"], map[string]any{"zone": "north", "tier": "edge"}) || body["cloud"] != false {
		t.Errorf("join body %v, want the labels and cloud false", body)
	}
}

// TestWatchPrintsEachStep follows an operation through its states: each
// done step is printed once, a failed attempt is shown, and the end says
// how long it took; no progress line is drawn when stdout is no terminal.
func TestWatchPrintsEachStep(t *testing.T) {
	states := []string{
		`{"id":"op-1","type":"JoinCluster","state":"Running","step":"reach the API server","done":[],"started":"2026-01-01T00:00:00Z"}`,
		`{"id":"op-1","type":"JoinCluster","state":"Running","step":"check the nodes are Ready","done":["reach the API server"],"attempts":2,"lastError":"connection refused","started":"2026-01-01T00:00:00Z"}`,
		`{"id":"op-1","type":"JoinCluster","state":"Running","step":"enable the cluster","done":["reach the API server","check the nodes are Ready"],"started":"2026-01-01T00:00:00Z"}`,
		`{"id":"op-1","type":"JoinCluster","state":"Completed","done":["reach the API server","check the nodes are Ready","enable the cluster"],"started":"2026-01-01T00:00:00Z","ended":"2026-01-01T00:00:01.5Z"}`,
	}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, states[min(n, len(states)-1)])
		n++
	}))
	defer srv.Close()
	var out bytes.Buffer
	a := &app{out: &out, err: io.Discard, format: formatTable, poll: time.Millisecond, client: &Client{Server: srv.URL}}
	if _, err := a.watch(context.Background(), "op-1"); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"✓ reach the API server", "✓ check the nodes are Ready", "✓ enable the cluster",
		"check the nodes are Ready: attempt 1 failed: connection refused", "JoinCluster completed in 1.5s"} {
		if strings.Count(got, want) != 1 {
			t.Errorf("output has %q %d times, want once:\n%s", want, strings.Count(got, want), got)
		}
	}
	if strings.Contains(got, "\r") {
		t.Errorf("a progress line was drawn on a non-terminal:\n%q", got)
	}
}

func TestWatchStopsAtAnOperatorWait(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"id":"op-1","type":"InstantiateEnabler","state":"WaitingForOperator","step":"install the release","done":[],
			"waiting":{"step":"install the release","error":"connection refused"},"started":"2026-01-01T00:00:00Z"}`)
	}))
	defer srv.Close()
	a := &app{out: io.Discard, err: io.Discard, format: formatTable, poll: time.Millisecond, client: &Client{Server: srv.URL}}
	_, err := a.watch(context.Background(), "op-1")
	if _, ok := err.(*operationWaiting); !ok || !strings.Contains(err.Error(), "smartorch op retry op-1") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err %v, want the wait with its reason and how to retry", err)
	}
}

func TestWriteDecision(t *testing.T) {
	d := &scheduler.Decision{
		Policy: scheduler.BestFit, Applied: scheduler.BestFit, ClusterID: "1", Cluster: "edge-1", Reason: "best-fit chose edge-1",
		Total: scheduler.Resources{MilliCPU: 200, Memory: 256 << 20},
		Candidates: []scheduler.Candidate{
			{ClusterID: "1", Cluster: "edge-1", Free: scheduler.Resources{MilliCPU: 2000, Memory: 4 << 30}, Fits: 20, Needed: 2, Feasible: true, Score: -18},
			{ClusterID: "2", Cluster: "cloud", Cloud: true, Free: scheduler.Resources{MilliCPU: 16000, Memory: 32 << 30}, Fits: 160, Needed: 2, Feasible: true, Score: -158},
			{ClusterID: "3", Cluster: "edge-2", Needed: 2, Reason: "status Pending"},
		},
	}
	var b bytes.Buffer
	if err := writeDecision(&b, d); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"Decision: policy best-fit, applied best-fit, demand 200m CPU, 256Mi memory in total",
		"CLUSTER   ROLE    FREE CPU   FREE MEMORY   REPLICAS FIT    TRAFFIC   SCORE   VERDICT",
		"edge-1    edge    2          4Gi           20 (needs 2)    -         -18     CHOSEN",
		"fits; the cloud is only a fallback when no edge fits",
		"does not fit: status Pending",
		"(TRAFFIC: only traffic-most reads it from Prometheus)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("decision lacks %q:\n%s", want, got)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestProgressLineOnATerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, tty: true, start: time.Now()}
	p.update(&operation{Step: "install the release", Done: []string{}})
	p.update(&operation{Step: "wait until the release is ready", Done: []string{"install the release"}})
	got := b.String()
	if !strings.Contains(got, "⠙ install the release") || !strings.Contains(got, "\r\033[K  ✓ install the release") ||
		!strings.Contains(got, "wait until the release is ready") {
		t.Errorf("terminal output %q: want a spinner line for the step, cleared when the step is done", got)
	}
}

func TestGroupAloneShowsHelp(t *testing.T) {
	code, stdout, _ := run(t, &recorder{}, "enabler")
	if code != ExitOK || !strings.Contains(stdout, "Available Commands:") {
		t.Errorf("smartorch enabler: exit %d, %q; want its help", code, stdout)
	}
}
