package release

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	helmrelease "helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/smartorch/smartorch/chartrepo"
	"github.com/smartorch/smartorch/testenv"
)

// TestCluster runs the release operations against one real cluster, each
// subtest in its own namespace and in parallel. Home, config, cache and
// temporary directories point into an empty directory meanwhile, which must
// still be empty at the end: nothing (a kubeconfig above all) is written to
// disk but the chart archives in the cache directory.
func TestCluster(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Clusters:  []testenv.ClusterOptions{{Name: "rel", Workloads: true, StorageClass: "standard"}},
		ChartRepo: true,
	})
	cacheDir := t.TempDir()
	watched := isolateFiles(t)
	h := &harness{
		cluster: env.Clusters[0],
		charts:  &chartrepo.Charts{CacheDir: cacheDir},
		repos:   []chartrepo.Repository{{Name: "test", URL: env.ChartRepo.URL}},
	}

	t.Run("ops", func(t *testing.T) {
		t.Run("InstallAdoptUninstall", h.testInstallAdoptUninstall)
		t.Run("Stateful", h.testStateful)
		t.Run("NotReady", h.testNotReady)
		for _, status := range []helmrelease.Status{
			helmrelease.StatusFailed, helmrelease.StatusPendingInstall, helmrelease.StatusPendingUpgrade,
			helmrelease.StatusUninstalling, helmrelease.StatusUninstalled,
		} {
			t.Run("Recover/"+status.String(), func(t *testing.T) { h.testRecover(t, status) })
		}
		t.Run("UpgradeRollback", h.testUpgradeRollback)
		for _, status := range []helmrelease.Status{
			helmrelease.StatusPendingUpgrade, helmrelease.StatusPendingRollback, helmrelease.StatusPendingInstall,
		} {
			t.Run("UpgradeRecover/"+status.String(), func(t *testing.T) { h.testUpgradeRecover(t, status, false) })
		}
		t.Run("UpgradeRecover/pending-upgrade-alone", func(t *testing.T) {
			h.testUpgradeRecover(t, helmrelease.StatusPendingUpgrade, true)
		})
		t.Run("Check", h.testCheck)
		t.Run("Volumes", h.testVolumes)
		t.Run("VolumesInstalled", h.testVolumesInstalled)
		t.Run("VolumesReclaim", h.testVolumesReclaim)
		t.Run("NotOwned", h.testNotOwned)
		t.Run("NotFound", h.testNotFound)
	})

	var written []string
	_ = filepath.WalkDir(watched, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			written = append(written, path)
		}
		return nil
	})
	_ = filepath.WalkDir(cacheDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".tgz") {
			written = append(written, path)
		}
		return nil
	})
	if len(written) > 0 {
		t.Errorf("files written outside the chart cache: %v", written)
	}
}

// isolateFiles points every directory Helm, client-go or os.CreateTemp
// could write to at a new empty directory, and returns it.
func isolateFiles(t *testing.T) string {
	dir := t.TempDir()
	for _, v := range []string{"HOME", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
		"HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME", "DOCKER_CONFIG"} {
		sub := filepath.Join(dir, strings.ToLower(v))
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		t.Setenv(v, sub)
	}
	t.Setenv("KUBECONFIG", filepath.Join(dir, "kubeconfig"))
	return dir
}

type harness struct {
	cluster *testenv.Cluster
	charts  *chartrepo.Charts
	repos   []chartrepo.Repository
}

func (h *harness) target(t *testing.T, namespace string) Target {
	return Target{Kubeconfig: h.cluster.Kubeconfig, Namespace: namespace, Logger: testLogger(t)}
}

func (h *harness) load(t *testing.T, name, version string) *chart.Chart {
	t.Helper()
	ch, _, err := h.charts.Load(context.Background(), "test/"+name, version, h.repos)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func (h *harness) testInstallAdoptUninstall(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns, name, owner = "shop", "web", "e-1"
	tg := h.target(t, ns)
	client := h.cluster.Client

	rel, err := Install(ctx, tg, h.load(t, "web", "0.1.0"), name, owner, map[string]any{"replicaCount": 2})
	if err != nil {
		t.Fatal(err)
	}
	if rel.Status != "deployed" || rel.Revision != 1 || rel.Owner != owner || rel.Namespace != ns || rel.ChartVersion != "0.1.0" {
		t.Errorf("Install = %+v", rel)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("namespace not created: %v", err)
	}
	waitPodsRunning(ctx, t, client, ns, name, 2)
	if err := WaitReady(ctx, tg, name, 30*time.Second); err != nil {
		t.Errorf("WaitReady: %v", err)
	}

	got, err := Get(ctx, tg, name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "deployed" || got.Owner != owner || got.Revision != 1 || got.Chart != "web" || got.ChartVersion != "0.1.0" ||
		got.AppVersion != "0.1.0" || got.Updated.IsZero() || fmt.Sprint(got.Values) != "map[replicaCount:2]" {
		t.Errorf("Get = %+v", got)
	}

	// Run again (a retried activity), even with another chart version: the
	// release is adopted as it is.
	again, err := Install(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Revision != 1 || again.ChartVersion != "0.1.0" || again.Status != "deployed" {
		t.Errorf("second Install = %+v, want revision 1 of 0.1.0 adopted", again)
	}
	if n := helmRecords(ctx, t, client, ns, name); n != 1 {
		t.Errorf("%d release records after the second Install, want 1", n)
	}

	if err := Uninstall(ctx, tg, name, "e-2"); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Uninstall by another owner: error = %v, want ErrNotOwned", err)
	}

	if err := Uninstall(ctx, tg, name, owner); err != nil {
		t.Fatal(err)
	}
	// Uninstall waited: the Deployment and its pods are gone already.
	if _, err := client.AppsV1().Deployments(ns).Get(ctx, "web-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment after Uninstall: %v, want NotFound", err)
	}
	if pods := listPods(ctx, t, client, ns, name); len(pods) != 0 {
		t.Errorf("%d pods left after Uninstall", len(pods))
	}
	if _, err := Get(ctx, tg, name); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("Get after Uninstall: error = %v, want ErrReleaseNotFound", err)
	}
	if n := helmRecords(ctx, t, client, ns, name); n != 0 {
		t.Errorf("%d release records after Uninstall, want 0", n)
	}
	if err := Uninstall(ctx, tg, name, owner); err != nil {
		t.Errorf("second Uninstall: %v", err)
	}
}

// A StatefulSet with a volume: ready once its PVC is bound and its pod runs.
// The kubeconfig is JSON here.
func (h *harness) testStateful(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg := h.target(t, "db")
	tg.Kubeconfig = h.cluster.KubeconfigJSON
	if _, err := Install(ctx, tg, h.load(t, "stateful", ""), "db", "e-db", nil); err != nil {
		t.Fatal(err)
	}
	if err := WaitReady(ctx, tg, "db", 45*time.Second); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if err := Uninstall(ctx, tg, "db", "e-db"); err != nil {
		t.Fatal(err)
	}
}

// A Deployment that requests more than a node has never becomes ready:
// WaitReady says which resource and why. It returns at once when its
// context is cancelled.
func (h *harness) testNotReady(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg := h.target(t, "big")
	if _, err := Install(ctx, tg, h.load(t, "huge", ""), "huge", "e-huge", nil); err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	err := WaitReady(ctx, tg, "huge", 5*time.Second)
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("WaitReady = %v, want ErrNotReady", err)
	}
	t.Logf("WaitReady: %v", err)
	for _, want := range []string{"Deployment is not ready: big/huge-huge", "0 out of 1 expected pods are ready", "Unschedulable", "Insufficient cpu"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("WaitReady error lacks %q: %v", want, err)
		}
	}
	if d := time.Since(begin); d > 12*time.Second {
		t.Errorf("WaitReady with a 5s timeout took %v", d)
	}

	// Check says the same in one look.
	health, err := Check(ctx, tg, "huge")
	if err != nil {
		t.Fatal(err)
	}
	if health.Ready || health.Release == nil || !strings.Contains(strings.Join(health.NotReady, "; "), "Insufficient cpu") {
		t.Errorf("Check = %+v, want not ready for want of cpu", health)
	}

	cctx, ccancel := context.WithCancel(ctx)
	time.AfterFunc(300*time.Millisecond, ccancel)
	begin = time.Now()
	if err := WaitReady(cctx, tg, "huge", time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitReady with a cancelled context = %v, want context.Canceled", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("WaitReady returned %v after its context was cancelled", d-300*time.Millisecond)
	}

	if err := Uninstall(ctx, tg, "huge", "e-huge"); err != nil {
		t.Fatal(err)
	}
}

// A release of ours left in an unfinished state (the worker died mid-way)
// is replaced by one clean deployed revision.
func (h *harness) testRecover(t *testing.T, status helmrelease.Status) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := "recover-" + status.String()
	const name, owner = "web", "e-rec"
	tg := h.target(t, ns)
	client := h.cluster.Client

	if _, err := Install(ctx, tg, h.load(t, "web", "0.1.0"), name, owner, nil); err != nil {
		t.Fatal(err)
	}
	before, err := client.AppsV1().Deployments(ns).Get(ctx, "web-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setStatus(t, tg, name, status)

	rel, err := Install(ctx, tg, h.load(t, "web", "0.2.0"), name, owner, map[string]any{"replicaCount": 1})
	if err != nil {
		t.Fatal(err)
	}
	if rel.Status != "deployed" || rel.Revision != 1 || rel.ChartVersion != "0.2.0" || rel.Owner != owner {
		t.Errorf("Install over a %s release = %+v, want revision 1 of 0.2.0 deployed", status, rel)
	}
	if n := helmRecords(ctx, t, client, ns, name); n != 1 {
		t.Errorf("%d release records, want 1", n)
	}
	after, err := client.AppsV1().Deployments(ns).Get(ctx, "web-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.UID == before.UID || after.DeletionTimestamp != nil {
		t.Errorf("Deployment not replaced by a new one (uid %s → %s, deleting %v)", before.UID, after.UID, after.DeletionTimestamp)
	}
	if err := WaitReady(ctx, tg, name, 30*time.Second); err != nil {
		t.Errorf("WaitReady: %v", err)
	}
}

// setStatus rewrites the status of the release's latest record, as a
// worker that died mid-operation leaves it.
func setStatus(t *testing.T, tg Target, name string, status helmrelease.Status) {
	t.Helper()
	cfg, err := configuration(tg)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := cfg.Releases.Last(name)
	if err != nil {
		t.Fatal(err)
	}
	rel.Info.Status = status
	if err := cfg.Releases.Update(rel); err != nil {
		t.Fatal(err)
	}
}

// Releases installed by plain Helm, or by another enabler, are refused and
// left alone.
func (h *harness) testNotOwned(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns = "foreign"
	tg := h.target(t, ns)
	client := h.cluster.Client

	cfg, err := configuration(tg)
	if err != nil {
		t.Fatal(err)
	}
	plain := action.NewInstall(cfg)
	plain.ReleaseName, plain.Namespace, plain.CreateNamespace = "plain", ns, true
	if _, err := plain.Run(h.load(t, "web", "0.1.0"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(ctx, tg, h.load(t, "web", "0.2.0"), "theirs", "e-other", nil); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"plain", "theirs"} {
		before, err := client.AppsV1().Deployments(ns).Get(ctx, name+"-web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		setStatus(t, tg, name, helmrelease.StatusFailed) // even a failed one is not ours to replace

		_, err = Install(ctx, tg, h.load(t, "web", "0.2.0"), name, "e-mine", nil)
		if !errors.Is(err, ErrNotOwned) {
			t.Errorf("Install over %s: error = %v, want ErrNotOwned", name, err)
		}
		t.Logf("Install over %s: %v", name, err)
		if err := Uninstall(ctx, tg, name, "e-mine"); !errors.Is(err, ErrNotOwned) {
			t.Errorf("Uninstall of %s: error = %v, want ErrNotOwned", name, err)
		}

		got, err := Get(ctx, tg, name)
		if err != nil || got.Revision != 1 || got.Status != "failed" {
			t.Errorf("Get(%s) = %+v, %v; want revision 1 untouched", name, got, err)
		}
		after, err := client.AppsV1().Deployments(ns).Get(ctx, name+"-web", metav1.GetOptions{})
		if err != nil || after.UID != before.UID || after.DeletionTimestamp != nil || after.Generation != before.Generation {
			t.Errorf("Deployment %s-web touched: %v", name, err)
		}
	}
	if got, _ := Get(ctx, tg, "plain"); got.Owner != "" {
		t.Errorf("plain Helm release has owner %q", got.Owner)
	}
	if got, _ := Get(ctx, tg, "theirs"); got.Owner != "e-other" {
		t.Errorf("release of e-other has owner %q", got.Owner)
	}
}

func (h *harness) testNotFound(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg := h.target(t, "empty")
	if _, err := Get(ctx, tg, "nothing"); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("Get: error = %v, want ErrReleaseNotFound", err)
	}
	if err := WaitReady(ctx, tg, "nothing", time.Second); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("WaitReady: error = %v, want ErrReleaseNotFound", err)
	}
	if err := Uninstall(ctx, tg, "nothing", "e-1"); err != nil {
		t.Errorf("Uninstall: %v", err)
	}
	if _, err := Get(ctx, Target{Kubeconfig: []byte("not: [a kubeconfig"), Namespace: "x"}, "nothing"); err == nil {
		t.Error("Get with a broken kubeconfig: no error")
	}
}

func helmRecords(ctx context.Context, t *testing.T, client kubernetes.Interface, ns, name string) int {
	t.Helper()
	secrets, err := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return len(secrets.Items)
}

func listPods(ctx context.Context, t *testing.T, client kubernetes.Interface, ns, release string) []corev1.Pod {
	t.Helper()
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// waitPodsRunning waits until the release has n pods, all Running, as the
// API server reports them.
func waitPodsRunning(ctx context.Context, t *testing.T, client kubernetes.Interface, ns, release string, n int) {
	t.Helper()
	for {
		running := map[types.UID]bool{}
		pods := listPods(ctx, t, client, ns, release)
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning {
				running[p.UID] = true
			}
		}
		if len(pods) == n && len(running) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d pods running: %v", len(running), n, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// testLogger logs at debug level into the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
