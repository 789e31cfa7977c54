package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/smartorch/smartorch/apiserver"
	"github.com/smartorch/smartorch/auth"
	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/store/storetest"
	"github.com/smartorch/smartorch/testenv"
)

const adminPassword = "correct horse battery staple"

// api is a running API server backed by a real store, reached over HTTP.
type api struct {
	t      testing.TB
	url    string
	app    *fiber.App
	key    []byte
	store  *store.Store
	bodies []string // every response body, to check none leaks a secret
}

// startAPI starts the API; configure, if given, changes its Config first.
func startAPI(t testing.TB, configure ...func(*apiserver.Config)) *api {
	t.Helper()
	ctx := context.Background()
	opened := storetest.Open(t)
	st, key := opened.Store, opened.Key
	users := auth.NewUsers(st)
	if _, err := users.EnsureAdmin(ctx, adminPassword, nil); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(key, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := apiserver.Config{
		Store:  st,
		Tokens: tokens,
		Users:  users,
		Charts: chartrepo.Checker{Timeout: 5 * time.Second},
		Ready:  map[string]func(context.Context) error{"store": st.Ping},
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
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
	return &api{t: t, url: "http://" + ln.Addr().String(), app: app, key: key, store: st}
}

// do sends a request and decodes the JSON answer into out (when not nil).
func (a *api) do(method, path, token string, body any, out any) int {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, a.url+path, r)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a.bodies = append(a.bodies, string(data))
	if resp.StatusCode >= 400 {
		checkErrorShape(a.t, method+" "+path, resp, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: answer %s is not the expected JSON: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// checkErrorShape asserts the one error shape: JSON with code, error, message.
func checkErrorShape(t testing.TB, what string, resp *http.Response, data []byte) {
	t.Helper()
	var e apiserver.Error
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: error content type %q, want JSON", what, resp.Header.Get("Content-Type"))
	}
	if err := json.Unmarshal(data, &e); err != nil || e.Code != resp.StatusCode || e.Err == "" || e.Message == "" || e.RequestID == "" {
		t.Errorf("%s: error body %s does not have the error shape (status %d)", what, data, resp.StatusCode)
	}
}

func (a *api) login() string {
	a.t.Helper()
	var tok struct {
		Token   string
		Expires time.Time
	}
	if code := a.do("POST", "/api/login/tokens", "", map[string]string{"username": "admin", "password": adminPassword}, &tok); code != 201 {
		a.t.Fatalf("login: status %d", code)
	}
	return tok.Token
}

func TestLogin(t *testing.T) {
	a := startAPI(t)
	var tok struct {
		Token   string
		Expires time.Time
	}
	if code := a.do("POST", "/api/login/tokens", "", map[string]string{"username": "admin", "password": adminPassword}, &tok); code != 201 {
		t.Fatalf("good password: status %d", code)
	}
	if tok.Token == "" || time.Until(tok.Expires) < 50*time.Minute || time.Until(tok.Expires) > 61*time.Minute {
		t.Errorf("token %q expires %v, want a token lasting about an hour", tok.Token, tok.Expires)
	}
	if code := a.do("GET", "/api/chartrepo", tok.Token, nil, nil); code != 200 {
		t.Errorf("the new token is refused: %d", code)
	}
	for _, body := range []any{
		map[string]string{"username": "admin", "password": "wrong password"},
		map[string]string{"username": "nobody", "password": adminPassword},
	} {
		if code := a.do("POST", "/api/login/tokens", "", body, nil); code != 401 {
			t.Errorf("login %v: status %d, want 401", body, code)
		}
	}
	for _, body := range []string{``, `{`, `[]`, `{"username":1}`, `{"username":"admin"}`, `{"username":"admin","password":"x","extra":true}`} {
		if code := a.do("POST", "/api/login/tokens", "", body, nil); code != 400 {
			t.Errorf("login %q: status %d, want 400", body, code)
		}
	}
}

func TestSuccessfulLoginsAreNotLimited(t *testing.T) {
	a := startAPI(t)
	for range 12 {
		a.login()
	}
}

func TestBadRequestsGetJSONErrors(t *testing.T) {
	a := startAPI(t)
	token := a.login()

	// An oversized body is refused from its Content-Length, before it is
	// read. (Sending it whole races with the server closing the connection.)
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/chartrepo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", token, 2<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 {
		t.Errorf("oversized body: status %d, want 413", resp.StatusCode)
	}
	checkErrorShape(t, "oversized body", resp, data)
	cases := []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/chartrepo", `not json`, 400},
		{"POST", "/api/chartrepo", `{"name":"a"} {"name":"b"}`, 400},
		{"POST", "/api/chartrepo", `{"name":"a","url":"ftp://x"}`, 400},
		{"POST", "/api/chartrepo", `{"name":"a","url":"http://user:pw@x"}`, 400},
		{"POST", "/api/chartrepo", `{"name":"a","url":"http://x","auth":{"username":"u"}}`, 400},
		{"GET", "/api/chartrepo/nope", ``, 404},
		{"DELETE", "/api/chartrepo/nope", ``, 404},
		{"GET", "/api/nothing-here", ``, 404},
		{"PUT", "/api/chartrepo", `{}`, 405},
	}
	for _, c := range cases {
		if code := a.do(c.method, c.path, token, c.body, nil); code != c.want {
			t.Errorf("%s %s %.40q: status %d, want %d", c.method, c.path, c.body, code, c.want)
		}
	}
}

type repoView struct {
	ID            string
	Name          string
	URL           string
	Type          string
	Username      string
	Authenticated bool
	Charts        []chartrepo.Chart
}

func TestChartRepositories(t *testing.T) {
	a := startAPI(t)
	token := a.login()
	charts := testenv.StartChartRepo(t)

	var added repoView
	if code := a.do("POST", "/api/chartrepo", token, map[string]string{"name": "testcharts", "description": "test charts", "url": charts.URL}, &added); code != 201 {
		t.Fatalf("add: status %d", code)
	}
	if added.ID == "" || added.Type != "http" || len(added.Charts) != len(charts.Charts) {
		t.Errorf("added = %+v, want an http repository with %d charts", added, len(charts.Charts))
	}

	var listed []repoView
	if code := a.do("GET", "/api/chartrepo", token, nil, &listed); code != 200 || len(listed) != 1 || listed[0].Name != "testcharts" {
		t.Fatalf("list: %d %+v", code, listed)
	}
	var offered []chartrepo.Chart
	if code := a.do("GET", "/api/chartrepo/"+added.ID+"/charts", token, nil, &offered); code != 200 {
		t.Fatalf("charts: status %d", code)
	}
	web := findChart(offered, testenv.ChartWeb)
	if web == nil || strings.Join(web.Versions, ",") != "0.2.0,0.1.0" {
		t.Errorf("web chart = %+v, want versions 0.2.0,0.1.0", web)
	}

	if code := a.do("POST", "/api/chartrepo", token, map[string]string{"name": "testcharts", "url": charts.URL}, nil); code != 409 {
		t.Errorf("duplicate name: status %d, want 409", code)
	}
	for _, name := range []string{"Test", "has space", "under_score", "a/b", strings.Repeat("a", 64), ""} {
		if code := a.do("POST", "/api/chartrepo", token, map[string]string{"name": name, "url": charts.URL}, nil); code != 400 {
			t.Errorf("name %q: status %d, want 400", name, code)
		}
	}

	// Unreachable, or reachable but not a chart repository: 422 with the reason.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<html>hello</html>")
	}))
	defer html.Close()
	for _, url := range []string{closed.URL, html.URL, charts.URL + "/missing"} {
		var e apiserver.Error
		if code := a.do("POST", "/api/chartrepo", token, map[string]string{"name": "broken", "url": url}, &e); code != 422 || !strings.Contains(e.Message, url) {
			t.Errorf("url %s: status %d message %q, want 422 naming the URL", url, code, e.Message)
		}
	}

	if code := a.do("DELETE", "/api/chartrepo/"+added.ID, token, nil, nil); code != 200 {
		t.Errorf("delete: status %d", code)
	}
	if code := a.do("GET", "/api/chartrepo/"+added.ID, token, nil, nil); code != 404 {
		t.Errorf("get after delete: status %d, want 404", code)
	}
	if code := a.do("DELETE", "/api/chartrepo/"+added.ID, token, nil, nil); code != 404 {
		t.Errorf("second delete: status %d, want 404", code)
	}
}

func TestPrivateChartRepositoryKeepsItsPassword(t *testing.T) {
	a := startAPI(t)
	token := a.login()
	charts := testenv.StartChartRepo(t)
	const user, password = "reader", "s3cret-repo-password"
	private := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.FileServer(http.Dir(charts.Dir)).ServeHTTP(w, r)
	}))
	defer private.Close()

	body := func(pw string) map[string]any {
		return map[string]any{"name": "private", "url": private.URL, "auth": map[string]string{"username": user, "password": pw}}
	}
	if code := a.do("POST", "/api/chartrepo", token, map[string]string{"name": "private", "url": private.URL}, nil); code != 422 {
		t.Errorf("no credentials: status %d, want 422", code)
	}
	if code := a.do("POST", "/api/chartrepo", token, body("wrong"), nil); code != 422 {
		t.Errorf("wrong password: status %d, want 422", code)
	}
	var added repoView
	if code := a.do("POST", "/api/chartrepo", token, body(password), &added); code != 201 {
		t.Fatalf("right password: status %d", code)
	}
	if !added.Authenticated || added.Username != user {
		t.Errorf("added = %+v, want authenticated as %s", added, user)
	}
	var offered []chartrepo.Chart
	if code := a.do("GET", "/api/chartrepo/"+added.ID+"/charts", token, nil, &offered); code != 200 || findChart(offered, testenv.ChartWeb) == nil {
		t.Errorf("charts of the private repository: %d %+v", code, offered)
	}
	a.do("GET", "/api/chartrepo", token, nil, nil)
	a.do("GET", "/api/chartrepo/"+added.ID, token, nil, nil)
	a.do("DELETE", "/api/chartrepo/"+added.ID, token, nil, nil)

	for _, b := range a.bodies {
		if strings.Contains(b, password) {
			t.Errorf("a response contains the repository password: %s", b)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	a := startAPI(t)
	if code := a.do("GET", "/healthz", "", nil, nil); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	var ready struct {
		Status string
		Checks map[string]string
	}
	if code := a.do("GET", "/readyz", "", nil, &ready); code != 200 || ready.Checks["store"] != "ok" {
		t.Errorf("readyz: %d %+v", code, ready)
	}
	a.do("GET", "/api/chartrepo", "", nil, nil)
	resp, err := http.Get(a.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`smartorch_http_requests_total{method="GET",route="/readyz",status="200"} 1`, `smartorch_http_request_duration_seconds_bucket`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func findChart(charts []chartrepo.Chart, name string) *chartrepo.Chart {
	for i := range charts {
		if charts[i].Name == name {
			return &charts[i]
		}
	}
	return nil
}
