package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/smartorch/smartorch/apiserver"
	"github.com/smartorch/smartorch/auth"
	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/store/storetest"
	"github.com/smartorch/smartorch/testenv"
)

// validBodies are well-formed bodies per POST route, each naming things
// that do not exist (a repository, a cluster, an unreachable URL), so that
// the run never starts real work; the cases mutate them.
var validBodies = map[string]map[string]any{
	"/api/login/tokens": {"username": "admin", "password": "not the password"},
	"/api/chartrepo": {"name": "fz", "url": "http://127.0.0.1:1/charts", "description": "d",
		"auth": map[string]any{"username": "u", "password": "p"}},
	"/api/k8sclusters": {"name": "fz", "credentials": "not a kubeconfig", "description": "d", "k8s_version": "1.34",
		"cloud": false, "cni": "cilium", "prometheusUrl": "http://127.0.0.1:1", "metricsTargets": []string{"127.0.0.1:1"}},
	"/api/enabler": {"enablerName": "fz", "helmChart": "nope/chart", "vim": "nope", "additionalParams": map[string]any{},
		"version": "1.0.0", "namespace": "ns", "timeout": 10, "globalServiceTargets": []string{}, "placementPolicy": "worst-fit",
		"clusterSelector": "tier=gpu", "avoidClusters": []string{"nope"}, "forecast": true, "forecastHorizon": "1h"},
	"/api/enabler/:id/instantiate": {"vim": "nope", "placementPolicy": "worst-fit"},
	"/api/enabler/:id/upgrade":     {"version": "1.0.0", "additionalParams": map[string]any{}, "reuseValues": true},
	"/api/enabler/:id/rollback":    {"revision": 1},
	"/api/k8sclusters/:id":         {"labels": map[string]string{"tier": "gpu"}, "description": "d"},
	// The original's routes (v4.go).
	"/repos/public":  {"name": "fz", "url": "http://127.0.0.1:1/charts", "description": "d"},
	"/repos/private": {"name": "fz", "url": "http://127.0.0.1:1/charts", "description": "d", "auth": map[string]any{"username": "u", "password": "p"}},
	"/enabler": {"name": "fz", "helmChart": "nope/chart", "cluster": "nope", "values": map[string]any{}, "version": "1.0.0",
		"timeout": "10", "auto": "false", "placement_policy": "worst-fit", "placementPolicy": "best-fit"},
	"/enabler/upgrade/:id": {"values": map[string]any{}, "version": "1.0.0", "timeout": 10},
}

func init() {
	validBodies["/api/placement/preview"] = validBodies["/api/enabler"]
	validBodies["/clusters"] = validBodies["/api/k8sclusters"]
}

// oddParams replace every path parameter.
var oddParams = []string{
	strings.Repeat("x", 3000), "a%00b", "a%2Fb", "..", "..%2F..%2Fhealthz", "%C3%BCn%C3%AFc%C3%B6de-%F0%9F%98%80", "a%20b",
	"%22%27%60", "%FF%FE", "-", "$where", "%7B%22%24ne%22%3A1%7D",
}

type request struct {
	method, path, contentType string
	body                      []byte
}

// TestMalformedRequests sends every route malformed, truncated, wrong-typed,
// huge, deeply nested and oversized bodies, wrong content types and odd
// path parameters, all with a valid token: no answer may be a 5xx or take
// longer than the client's timeout, and every 4xx is the JSON error shape.
func TestMalformedRequests(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Temporal: true})
	opened := storetest.Open(t)
	st := opened.Store
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	tc, err := client.Dial(client.Options{HostPort: env.Temporal.Address, Namespace: env.Temporal.Namespace, Logger: sdklog.NewStructuredLogger(logger)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	users := auth.NewUsers(st)
	if _, err := users.EnsureAdmin(context.Background(), adminPassword, nil); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(opened.Key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const bodyLimit = 1 << 20
	app := apiserver.New(apiserver.Config{
		Store: st, Tokens: tokens, Users: users, Charts: chartrepo.Checker{Timeout: 2 * time.Second},
		Temporal: tc, TaskQueue: "malformed", Logger: logger, BodyLimit: bodyLimit,
		Planner: &placement.Planner{Store: st, Charts: &chartrepo.Charts{CacheDir: t.TempDir(), Timeout: 2 * time.Second}},
		// Failed logins are part of the run; the limiter's 429 is checked elsewhere.
		LoginAttempts: 1 << 20,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	base := "http://" + ln.Addr().String()
	token, _, err := tokens.Issue("admin")
	if err != nil {
		t.Fatal(err)
	}

	var reqs []request
	routes := 0
	for _, r := range app.GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "USE" {
			continue
		}
		routes++
		reqs = append(reqs, requestsFor(r.Method, r.Path, bodyLimit)...)
	}
	// Fiber's routes: 4 without authentication, 25 under /api. A change of
	// the routes changes this, and the run covers the new ones by itself.
	if routes < 29 || len(reqs) < 800 {
		t.Fatalf("%d routes, %d requests: the route table was not read", routes, len(reqs))
	}

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	byStatus := map[int]int{}
	resets := 0
	for _, r := range reqs {
		status, problem := send(hc, base, token, r)
		if status == 0 && len(r.body) > bodyLimit && (strings.Contains(problem, "connection reset") || strings.Contains(problem, "broken pipe")) {
			// The server answers 413 and closes while a client that ignored
			// 100-continue may still be writing; the reset can swallow the
			// answer. Refused either way, and the 413 count below proves the
			// answer itself.
			resets++
			continue
		}
		byStatus[status]++
		if problem != "" {
			t.Errorf("%s %.200s (%s, %d-byte body %.80q): %s", r.method, r.path, r.contentType, len(r.body), r.body, problem)
		}
	}

	// Without a token, or with a bad one, a route under /api is 401 JSON.
	unauth := 0
	for _, r := range []request{{"GET", "/api/chartrepo", "", nil}, {"POST", "/api/enabler", "application/json", []byte("{")},
		{"DELETE", "/api/k8sclusters/x", "", nil}, {"POST", "/api/operations/%00/abort", "", nil}} {
		for _, tok := range []string{"", "not-a-token", token + "x"} {
			status, problem := send(hc, base, tok, r)
			unauth++
			if problem != "" || status != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: status %d, want 401 JSON %s", r.method, r.path, tok, status, problem)
			}
		}
	}

	var summary []string
	for _, s := range slices.Sorted(maps.Keys(byStatus)) {
		summary = append(summary, fmt.Sprintf("%d: %d", s, byStatus[s]))
	}
	if byStatus[http.StatusRequestEntityTooLarge] == 0 {
		t.Error("no oversized body was answered 413")
	}
	t.Logf("%d routes, %d requests with a token (by status %s; %d oversized uploads reset after the answer), %d without a valid one",
		routes, len(reqs), strings.Join(summary, ", "), resets, unauth)
}

// send makes one request and says what is wrong with the answer, if anything.
func send(hc *http.Client, base, token string, r request) (int, string) {
	req, err := http.NewRequest(r.method, base+r.path, bytes.NewReader(r.body))
	if err != nil {
		return 0, fmt.Sprintf("building the request: %v", err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// The server answers 413 on the headers and closes the connection; the
	// client must not still be writing the body then.
	req.Header.Set("Expect", "100-continue")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Sprintf("no answer: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Sprintf("reading the answer: %v", err)
	}
	switch {
	case resp.StatusCode >= 500:
		return resp.StatusCode, fmt.Sprintf("status %d: %.300s", resp.StatusCode, data)
	case resp.StatusCode >= 400:
		var e apiserver.Error
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			return resp.StatusCode, fmt.Sprintf("status %d with content type %q: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), data)
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Message == "" || e.Code != resp.StatusCode {
			return resp.StatusCode, fmt.Sprintf("status %d without the error shape: %.300s", resp.StatusCode, data)
		}
	}
	return resp.StatusCode, ""
}

var param = regexp.MustCompile(`:[A-Za-z]+`)

// requestsFor builds the cases of one route.
func requestsFor(method, path string, bodyLimit int) []request {
	const js = "application/json"
	var out []request
	plain := param.ReplaceAllString(path, "nope")
	for _, odd := range oddParams {
		if param.MatchString(path) {
			out = append(out, request{method, param.ReplaceAllString(path, odd), "", nil})
		}
	}
	if method != http.MethodPost && method != http.MethodPatch {
		return append(out, request{method, plain, js, []byte(`{"unexpected":"body"}`)})
	}
	valid := validBodies[path]
	if valid == nil {
		valid = map[string]any{}
	}
	good, _ := json.Marshal(valid)
	add := func(contentType string, body []byte) {
		out = append(out, request{method, plain, contentType, body})
	}
	for _, b := range []string{"", " ", "{", "}", "[]", "null", `"text"`, "0", "true", `{"a":}`, `{"a" 1}`, "{}", `{"unknown":1}`,
		"\xff\xfe{}", "{}{}", `{"a":1}garbage`, "{\"\x00\":1}", "\u2028{}"} {
		add(js, []byte(b))
	}
	add(js, good[:len(good)/2])
	add(js, good[:len(good)-1])
	add(js, append(bytes.Repeat([]byte(" "), bodyLimit), good...))                   // over the limit
	add(js, []byte(strings.Repeat("[", 100_000)+strings.Repeat("]", 100_000)))       // deep array
	add(js, []byte(strings.Repeat(`{"a":`, 50_000)+"1"+strings.Repeat("}", 50_000))) // deep object
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1"} {
		add(ct, good)
	}
	if path == "/api/enabler" {
		// Bodies that pass every check (an oci:// chart needs no registered
		// repository) and so carry odd values into the store and Temporal.
		for i, values := range []any{deep(50), deep(200), deep(2_000),
			map[string]any{"$where": 1, "a.b": map[string]any{"$ne": 1}, "": nil, "\x00": "\x00", strings.Repeat("k", 10_000): 1}} {
			body, _ := json.Marshal(map[string]any{"enablerName": fmt.Sprintf("stored-%d", i), "helmChart": "oci://127.0.0.1:1/charts/web",
				"auto": true, "additionalParams": map[string]any{"v": values}})
			add(js, body)
		}
	}
	wrong := []any{"s", 1.5, -1, 1e300, true, []any{1}, map[string]any{"x": 1}, nil}
	for field := range valid {
		for _, w := range append(wrong, strings.Repeat("h", 200_000), deep(2_000)) {
			mutated := maps.Clone(valid)
			mutated[field] = w
			body, _ := json.Marshal(mutated)
			add(js, body)
		}
	}
	return out
}

// deep is a value nested n levels, as JSON maps.
func deep(n int) any {
	var v any = "leaf"
	for range n {
		v = map[string]any{"k": v}
	}
	return v
}
