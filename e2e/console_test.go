package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/smartorch/smartorch/testenv"
)

// TestConsole drives the operator console (/ui/) in a real headless
// Chromium against `smartorch dev` and two testenv clusters: log in, join
// both, add the chart repository, preview and deploy an enabler, read its
// decision table, then deploy one whose cluster's API server stops during
// the install, watch the operation wait for the operator, and press Retry
// once the server is back. Then every page is loaded afresh, at 1280 px and
// at 390 px, with no console error and no 5xx. Screenshots go to the test's
// artifact directory (go test -artifacts -outputdir DIR) and, when
// SMARTORCH_CONSOLE_SHOTS names a directory, are copied there too.
func TestConsole(t *testing.T) {
	chromium := findChromium(t)
	env := testenv.Start(t, testenv.Options{
		Prometheus: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{
			{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "16", Memory: "32Gi", PodCIDR: "10.217.0.0/24"}}},
			{Name: "edge-1", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "4", Memory: "8Gi", PodCIDR: "10.1.0.0/24"}}},
		},
	})
	cloud, edge := env.Clusters[0], env.Clusters[1]
	dev := startDev(t, env)
	b := newBrowser(t, chromium, dev.url)

	// Log in: a wrong password shows the server's message.
	b.run("open the console", time.Minute, chromedp.Navigate(dev.url+"/ui/"), chromedp.WaitVisible(chromedp.CSS(`#login`)))
	b.shot("login")
	b.run("log in with a wrong password", time.Minute,
		chromedp.SetValue(chromedp.CSS(`#login input[name=password]`), "not-the-password"),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#login .error`)))
	if got := b.text(`#login .error`); !strings.Contains(got, "wrong username or password") {
		t.Errorf("login error %q, want the server's message", got)
	}
	b.run("log in", time.Minute,
		chromedp.SetValue(chromedp.CSS(`#login input[name=password]`), adminPassword),
		chromedp.Click(chromedp.CSS(`#login button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#nav`)), chromedp.WaitVisible(chromedp.CSS(`.cards .card`)))
	if b.eval(`location.href`) != dev.url+"/ui/" || !strings.Contains(b.eval(`sessionStorage.getItem("smartorch.token")`), `"token"`) {
		t.Errorf("after login: URL %s; the token must be in sessionStorage, never in the URL", b.eval(`location.href`))
	}

	// Join the cloud by pasting its kubeconfig, the edge by uploading the file.
	b.go_("clusters", `button[data-action=join]`)
	for i, c := range []*testenv.Cluster{cloud, edge} {
		b.run("open the join dialog", time.Minute, chromedp.Click(chromedp.CSS(`button[data-action=join]`)), chromedp.WaitVisible(chromedp.CSS(`dialog[open] textarea[name=kubeconfig]`)))
		b.run("fill in the join form", time.Minute,
			chromedp.SetValue(chromedp.CSS(`dialog[open] input[name=name]`), c.Name),
			chromedp.SetValue(chromedp.CSS(`dialog[open] input[name=k8s_version]`), "1.34"))
		if i == 0 {
			b.run("paste the kubeconfig", time.Minute, chromedp.SetValue(chromedp.CSS(`dialog[open] textarea[name=kubeconfig]`), string(c.Kubeconfig)))
		} else {
			b.run("upload the kubeconfig", time.Minute, chromedp.SetUploadFiles(chromedp.CSS(`dialog[open] input[type=file]`), []string{c.KubeconfigPath}))
			b.until("the uploaded kubeconfig in the form", time.Minute, `document.querySelector("dialog[open] textarea").value.includes("kind: Config")`)
			b.shot("join-form")
		}
		b.run("join "+c.Name, 3*time.Minute,
			chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`dialog[open] .operation[data-state=Completed]`)))
		if steps := b.text(`dialog[open] .steps`); !strings.Contains(steps, "reach the API server") || !strings.Contains(steps, "enable the cluster") {
			t.Errorf("join %s: the dialog shows the steps %q", c.Name, steps)
		}
		b.shot("join-" + c.Name)
		b.run("close the dialog", time.Minute, chromedp.Click(chromedp.CSS(`dialog[open] button.close`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open]`)))
	}
	b.until("both clusters Enabled in the list", time.Minute, `[...document.querySelectorAll("table.clusters tbody tr")].filter(r => r.textContent.includes("Enabled")).length === 2`)
	b.shot("clusters")
	b.go_("clusters/edge-1", `table.nodes tbody tr[data-node]`)
	b.shot("cluster-edge-1")

	// Add the chart repository; its page lists the charts.
	b.go_("repos", `button[data-action=add-repo]`)
	b.run("add the repository", 2*time.Minute,
		chromedp.Click(chromedp.CSS(`button[data-action=add-repo]`)),
		chromedp.SetValue(chromedp.CSS(`dialog[open] input[name=name]`), "test"),
		chromedp.SetValue(chromedp.CSS(`dialog[open] input[name=url]`), env.ChartRepo.URL),
		chromedp.SetValue(chromedp.CSS(`dialog[open] input[name=description]`), "the test charts"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.charts tr[data-chart=web] button[data-action=deploy]`)))
	b.shot("repo-test")

	// Deploy web from the chart list: preview first, then deploy.
	b.deployForm("web", "", "policy:worst-fit", `{"replicaCount": 2}`)
	b.run("preview", 2*time.Minute,
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] .preview table.decision-table tr.chosen`)))
	if chosen := b.text(`dialog[open] tr.chosen td`); chosen != "edge-1" {
		t.Errorf("preview chose %q, want edge-1 (worst-fit: the edge is the candidate that fits)", chosen)
	}
	b.shot("deploy-preview")
	b.run("deploy", 3*time.Minute,
		chromedp.Click(chromedp.CSS(`dialog[open] button[data-action=deploy]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] .operation[data-state=Completed]`)))
	b.shot("deploy-done")
	b.run("close the dialog", time.Minute, chromedp.Click(chromedp.CSS(`dialog[open] button.close`)))
	b.go_("enablers/web", `table.decision-table tr.chosen`)
	b.until("web Enabled on its page", time.Minute, `document.querySelector("h1 .badge").textContent === "Enabled"`)
	if rows := b.eval(`[...document.querySelectorAll("table.decision-table tbody tr")].map(r => r.dataset.cluster + ":" + r.querySelector(".badge").textContent).join(",")`); rows != "edge-1:CHOSEN,cloud:fits; the cloud is only a fallback" {
		t.Errorf("decision table rows %q, want a row per cluster with its verdict", rows)
	}
	b.until("the Helm history", time.Minute, `document.querySelectorAll("table.history tbody tr").length === 1`)
	b.shot("enabler-web")
	b.go_("enablers", `table.enablers tr[data-enabler=web]`)
	b.shot("enablers")

	// An install whose cluster's API server stops: the operation waits for
	// the operator, who retries once the server is back.
	lift := forbidDeployments(t, cloud, "held")
	b.go_("repos", `table.repos tr[data-repo=test] a`)
	b.run("open the repository", time.Minute, chromedp.Click(chromedp.CSS(`table.repos tr[data-repo=test] a`)), chromedp.WaitVisible(chromedp.CSS(`table.charts tr[data-chart=web] button`)))
	b.deployForm("held", "held", "cluster:cloud", "")
	b.run("preview and deploy held", 3*time.Minute,
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] .preview tr.chosen`)),
		chromedp.Click(chromedp.CSS(`dialog[open] button[data-action=deploy]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] .operation[data-state]`)))
	opID := b.eval(`document.querySelector("dialog[open] .operation").dataset.operation`)
	eventually(t, 2*time.Minute, "the install step to retry", func() bool {
		op := dev.operation(t, opID)
		return op.Step == "install the release" && op.Attempts >= 2
	})
	eventually(t, time.Minute, "a failed release of the install", func() bool { return helmReleases(t, cloud, "held") > 0 })
	b.shot("deploy-retrying")
	b.run("close the dialog", time.Minute, chromedp.Click(chromedp.CSS(`dialog[open] button.close`)))
	must(t, cloud.StopAPIServer())
	b.go_("enablers/held", `.operation`)
	b.run("the operation to wait for the operator", 3*time.Minute, chromedp.WaitVisible(chromedp.CSS(`.operation[data-state=WaitingForOperator] button[data-action=retry]`)))
	if msg := b.text(`.operation .waiting`); !strings.Contains(msg, "install the release") || !strings.Contains(msg, "connection refused") {
		t.Errorf("the waiting operation says %q, want the install step failing to reach the API server", msg)
	}
	if href := b.eval(`document.querySelector(".operation a.temporal").href`); !strings.HasPrefix(href, dev.temporalUI+"/namespaces/default/workflows/"+opID+"/") {
		t.Errorf("Temporal link %q, want the workflow in %s", href, dev.temporalUI)
	}
	b.shot("enabler-held-waiting")
	b.go_("operations", `table.operations tr[data-operation]`)
	if first := b.eval(`document.querySelector("table.operations tbody tr").dataset.operation + " " + document.querySelector("table.operations tbody tr .badge").textContent`); first != opID+" WaitingForOperator" {
		t.Errorf("first operation listed: %q, want %s waiting for the operator", first, opID)
	}
	b.shot("operations-waiting")
	b.go_("", `.cards .card`)
	b.until("the waiting operation on the overview", time.Minute, `!!document.querySelector("table.operations tr[data-operation='`+opID+`']")`)
	b.shot("overview-waiting")

	must(t, cloud.StartAPIServer())
	lift()
	b.go_("enablers/held", `.operation[data-state=WaitingForOperator] button[data-action=retry]`)
	b.run("press Retry", 3*time.Minute,
		chromedp.Click(chromedp.CSS(`.operation button[data-action=retry]`)),
		chromedp.WaitVisible(chromedp.CSS(`.operation[data-state=Completed]`)))
	b.until("held Enabled", 2*time.Minute, `document.querySelector("h1 .badge").textContent === "Enabled"`)
	if steps := b.text(`.operation .steps`); !strings.Contains(steps, "enable the enabler") {
		t.Errorf("steps after the retry: %q", steps)
	}
	b.shot("enabler-held-enabled")
	if seen := b.exceptionsSeen(); len(seen) > 0 {
		t.Errorf("uncaught exceptions in the console: %v", seen)
	}

	// Every page, loaded afresh at both widths, with no console error and no 5xx.
	b.go_("repos", `table.repos tr[data-repo=test] a`)
	repoID := strings.TrimPrefix(b.eval(`document.querySelector("table.repos tr[data-repo=test] a").getAttribute("href")`), "#/repos/")
	pages := []struct{ name, route, ready string }{
		{"overview", "", `.cards .card`},
		{"clusters", "clusters", `table.clusters tr[data-cluster]`},
		{"cluster", "clusters/cloud", `table.nodes tr[data-node]`},
		{"enablers", "enablers", `table.enablers tr[data-enabler]`},
		{"enabler", "enablers/web", `table.decision-table tr.chosen`},
		{"repos", "repos", `table.repos tr[data-repo]`},
		{"repo", "repos/" + repoID, `table.charts tr[data-chart]`},
		{"operations", "operations", `table.operations`},
		{"operation", "operations/" + opID, `.operation[data-state=Completed]`},
	}
	for _, width := range []int64{1280, 390} {
		b.run("viewport", time.Minute, chromedp.EmulateViewport(width, 900))
		for _, p := range pages {
			b.clearProblems()
			b.run("load "+p.name, time.Minute,
				chromedp.Navigate("about:blank"),
				chromedp.Navigate(dev.url+"/ui/#/"+p.route),
				chromedp.WaitVisible(chromedp.CSS(p.ready)))
			time.Sleep(time.Second) // late requests and errors
			if problems := b.problems(); len(problems) > 0 {
				t.Errorf("page %s at %dpx: %s", p.name, width, strings.Join(problems, "; "))
			}
			if width < 500 {
				if overflow := b.eval(`String(document.documentElement.scrollWidth > window.innerWidth + 1)`); overflow != "false" {
					t.Errorf("page %s at %dpx scrolls sideways (only tables may scroll, inside their box)", p.name, width)
				}
				b.shot("narrow-" + p.name)
			} else {
				b.shot("page-" + p.name)
			}
		}
	}
	b.copyShots()
}

// findChromium is Debian's chromium (hack/chromium.sh installs it). Without
// it the test skips, unless SMARTORCH_REQUIRE_BROWSER is set (CI sets it):
// then a missing browser is a failure.
func findChromium(t *testing.T) string {
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	if os.Getenv("SMARTORCH_REQUIRE_BROWSER") != "" {
		t.Fatalf("chromium not found (%v) and SMARTORCH_REQUIRE_BROWSER is set: run hack/chromium.sh", err)
	}
	t.Skipf("chromium is not installed (%v): run hack/chromium.sh (as root) to install Debian's chromium", err)
	return ""
}

// operation reads an operation over the API, as the harness's does.
func (d *devProcess) operation(t *testing.T, id string) operationView {
	t.Helper()
	var login struct{ Token string }
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": adminPassword})
	resp, err := http.Post(d.url+"/api/login/tokens", "application/json", bytes.NewReader(body))
	must(t, err)
	must(t, json.NewDecoder(resp.Body).Decode(&login))
	resp.Body.Close()
	req, _ := http.NewRequest("GET", d.url+"/api/operations/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+login.Token)
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var op operationView
	if resp.StatusCode != 200 {
		t.Fatalf("operation %s: %d", id, resp.StatusCode)
	}
	must(t, json.NewDecoder(resp.Body).Decode(&op))
	return op
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(len(l)-lines, 0):], "\n")
}

// browser is one headless Chromium tab, with what it reported: console
// errors, uncaught exceptions and responses of 500 or more.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	n    int

	mu         sync.Mutex
	reported   []string
	exceptions []string
}

func newBrowser(t *testing.T, chromium, base string) *browser {
	t.Helper()
	// The machine's network is closed: every background connection is off.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	b := &browser{t: t, base: base, dir: t.ArtifactDir()}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b.ctx = ctx
	// The first run starts the browser; it must not have a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// record keeps what the page reports: uncaught exceptions, console errors,
// error log entries (failed loads among them) and responses of 500 or more.
func (b *browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg := "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
		b.reported = append(b.reported, msg)
		b.exceptions = append(b.exceptions, msg)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.reported = append(b.reported, "console.error: "+strings.Join(args, " "))
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			b.reported = append(b.reported, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
		}
	case *network.EventResponseReceived:
		if ev.Response.Status >= 500 {
			b.reported = append(b.reported, fmt.Sprintf("%d from %s", ev.Response.Status, ev.Response.URL))
		}
	}
}

// run runs actions within timeout; on failure it saves a screenshot and
// fails the test, naming what it was doing.
func (b *browser) run(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

// value runs one action that answers a value, as run does.
func value[T any](b *browser, what string, timeout time.Duration, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(b.dir, "failure.png"), png, 0o644)
		b.copyShots()
	}
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	b.t.Fatalf("%s: %v\nthe page shows:\n%s\nreported: %v", what, err, page, b.problems())
}

// go_ shows a route of the console (a hash change: the page stays loaded)
// and waits for ready.
func (b *browser) go_(route, ready string) {
	b.t.Helper()
	b.eval(`location.hash = "#/` + route + `"`)
	b.run("show #/"+route, time.Minute, chromedp.WaitVisible(chromedp.CSS(ready)))
}

// deployForm opens the Deploy dialog of chart web in the repository page
// shown and fills it in.
func (b *browser) deployForm(name, namespace, mode, values string) {
	b.t.Helper()
	b.run("fill in the deploy form", time.Minute,
		chromedp.Click(chromedp.CSS(`table.charts tr[data-chart=web] button[data-action=deploy]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] input[name=enablerName]`)),
		chromedp.WaitReady(chromedp.CSS(`dialog[open] select[name=mode] option[value="cluster:cloud"]`)))
	for field, v := range map[string]string{"input[name=enablerName]": name, "input[name=namespace]": namespace, "select[name=mode]": mode, "textarea[name=values]": values} {
		q, _ := json.Marshal(v)
		b.eval(`document.querySelector("dialog[open] ` + field + `").value = ` + string(q))
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(value(b, "read "+sel, 30*time.Second, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)))
}

// eval evaluates a JavaScript expression; its value is converted to a string.
func (b *browser) eval(js string) string {
	b.t.Helper()
	return value(b, "evaluate "+js, 30*time.Second, chromedp.Evaluate[string](`String(`+js+`)`))
}

// until polls a JavaScript condition in the page.
func (b *browser) until(what string, timeout time.Duration, js string) {
	b.t.Helper()
	value(b, what, timeout, chromedp.Poll[bool](js, chromedp.WithPollingInterval(250*time.Millisecond)))
}

// shot saves a full-page screenshot, numbered in the order taken.
func (b *browser) shot(name string) {
	b.t.Helper()
	png := value(b, "screenshot "+name, time.Minute, chromedp.FullScreenshot(100))
	b.n++
	must(b.t, os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name)), png, 0o644))
}

func (b *browser) copyShots() {
	dest := os.Getenv("SMARTORCH_CONSOLE_SHOTS")
	if dest == "" {
		return
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		b.t.Errorf("screenshots: %v", err)
		return
	}
	files, _ := filepath.Glob(filepath.Join(b.dir, "*.png"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(filepath.Join(dest, filepath.Base(f)), data, 0o644)
		}
		if err != nil {
			b.t.Errorf("screenshots: %v", err)
		}
	}
	b.t.Logf("%d screenshots copied to %s", len(files), dest)
}

func (b *browser) clearProblems() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reported = nil
}

func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.reported...)
}

func (b *browser) exceptionsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.exceptions...)
}
