package testenv_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.temporal.io/sdk/client"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/smartorch/smartorch/testenv"
)

// TestEnvironment starts one environment of three clusters with every
// service and checks it from several sides in parallel, then tears it down
// and checks that no process is left.
func TestEnvironment(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Clusters: []testenv.ClusterOptions{
			{Name: "cloud", Workloads: true, StorageClass: "standard", Cilium: true, Nodes: []testenv.NodeOptions{
				{Name: "cloud-a", CPU: "16", Memory: "32Gi", Labels: map[string]string{"tier": "cloud"}, PodCIDR: "10.210.0.0/24"},
				{Name: "cloud-b", CPU: "8", Memory: "16Gi", PodCIDR: "10.210.1.0/24"},
			}},
			{Name: "edge-1", Workloads: true, StorageClass: "local", Cilium: true, Nodes: []testenv.NodeOptions{
				{CPU: "4", Memory: "8Gi", Labels: map[string]string{"tier": "edge"}},
			}},
			{Name: "edge-2", Workloads: true, Nodes: []testenv.NodeOptions{{CPU: "2", Memory: "4Gi"}}},
		},
		Prometheus: true,
		ChartRepo:  true,
		Temporal:   true,
	})

	t.Run("group", func(t *testing.T) {
		t.Run("Prometheus recording rule", func(t *testing.T) {
			t.Parallel()
			testPrometheus(t, env)
		})
		t.Run("Temporal", func(t *testing.T) {
			t.Parallel()
			testTemporal(t, env.Temporal)
		})
		t.Run("clusters", func(t *testing.T) {
			t.Parallel()
			testClusters(t, env)
			// After the others, since they use edge-2's API server.
			t.Run("API server stop and start", func(t *testing.T) {
				testAPIServerRestart(t, env.Cluster("edge-2"))
			})
		})
	})

	pids := env.PIDs()
	// 3 clusters x 4 processes, the restarted API server, etcd, Prometheus, Temporal.
	if len(pids) != 3*4+1+3 {
		t.Errorf("PIDs() = %d processes, want 16", len(pids))
	}
	env.Stop()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d is still alive after Stop (kill 0: %v)", pid, err)
		}
	}
	if _, err := http.Get(env.ChartRepo.URL + "/index.yaml"); err == nil {
		t.Error("chart repository still answers after Stop")
	}
}

func testClusters(t *testing.T, env *testenv.Env) {
	t.Run("group", func(t *testing.T) {
		for _, c := range env.Clusters {
			t.Run("Deployment available in "+c.Name, func(t *testing.T) {
				t.Parallel()
				testDeploymentAvailable(t, c.Client, "default", "probe")
			})
		}
		t.Run("nodes", func(t *testing.T) {
			t.Parallel()
			testNodes(t, env)
		})
		t.Run("kubeconfig names", func(t *testing.T) {
			t.Parallel()
			for _, c := range env.Clusters {
				testKubeconfig(t, c)
			}
		})
		t.Run("Helm install from the chart repository", func(t *testing.T) {
			t.Parallel()
			testHelm(t, env)
		})
		t.Run("Cilium objects", func(t *testing.T) {
			t.Parallel()
			for _, c := range env.Clusters[:2] {
				testCilium(t, c)
			}
			if _, err := env.Cluster("edge-2").Client.CoreV1().ConfigMaps("kube-system").Get(t.Context(), "cilium-config", metav1.GetOptions{}); err == nil {
				t.Error("edge-2 has cilium-config without Cilium: true")
			}
		})
	})
}

func testDeploymentAvailable(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	ctx := t.Context()
	replicas := int32(2)
	labels := map[string]string{"app": name}
	_, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "nginx:1.27",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi"),
					}},
				}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var last *appsv1.Deployment
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = d
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return d.Status.AvailableReplicas == replicas, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("Deployment %s/%s not available: %v; status %+v", ns, name, err, last.Status)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			t.Errorf("pod %s: phase %s, IP %q", p.Name, p.Status.Phase, p.Status.PodIP)
		}
	}
}

func testNodes(t *testing.T, env *testenv.Env) {
	want := map[string][]struct{ name, cpu, memory, cidr string }{
		"cloud":  {{"cloud-a", "16", "32Gi", "10.210.0.0/24"}, {"cloud-b", "8", "16Gi", "10.210.1.0/24"}},
		"edge-1": {{"edge-1-node-1", "4", "8Gi", "10.101.0.0/24"}},
		"edge-2": {{"edge-2-node-1", "2", "4Gi", "10.102.0.0/24"}},
	}
	for cluster, nodes := range want {
		c := env.Cluster(cluster)
		list, err := c.Client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != len(nodes) {
			t.Errorf("%s: %d nodes, want %d", cluster, len(list.Items), len(nodes))
			continue
		}
		for i, w := range nodes {
			n := list.Items[i] // List sorts by name
			cpu, mem := n.Status.Capacity[corev1.ResourceCPU], n.Status.Capacity[corev1.ResourceMemory]
			if n.Name != w.name || cpu.Cmp(resource.MustParse(w.cpu)) != 0 || mem.Cmp(resource.MustParse(w.memory)) != 0 {
				t.Errorf("%s: node %s capacity cpu=%s memory=%s, want %s %s %s", cluster, n.Name, &cpu, &mem, w.name, w.cpu, w.memory)
			}
			alloc := n.Status.Allocatable[corev1.ResourceCPU]
			if alloc.Cmp(cpu) != 0 {
				t.Errorf("%s: node %s allocatable cpu %s, capacity %s", cluster, n.Name, &alloc, &cpu)
			}
			if n.Spec.PodCIDR != w.cidr || len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != w.cidr {
				t.Errorf("%s: node %s pod CIDRs %q %v, want %s", cluster, n.Name, n.Spec.PodCIDR, n.Spec.PodCIDRs, w.cidr)
			}
			ready := false
			for _, cond := range n.Status.Conditions {
				ready = ready || cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue
			}
			if !ready {
				t.Errorf("%s: node %s not Ready", cluster, n.Name)
			}
		}
	}
	if got := env.Cluster("cloud").Nodes[0].Labels["tier"]; got != "cloud" {
		t.Errorf("cloud-a label tier = %q", got)
	}
	n, err := env.Cluster("edge-1").Client.CoreV1().Nodes().Get(t.Context(), "edge-1-node-1", metav1.GetOptions{})
	if err != nil || n.Labels["tier"] != "edge" {
		t.Errorf("edge-1-node-1 labels %v, err %v; want tier=edge", n.Labels, err)
	}
}

func testKubeconfig(t *testing.T, c *testenv.Cluster) {
	var obj map[string]any
	if err := json.Unmarshal(c.KubeconfigJSON, &obj); err != nil {
		t.Fatalf("%s: KubeconfigJSON: %v", c.Name, err)
	}
	for _, data := range [][]byte{c.Kubeconfig, c.KubeconfigJSON} {
		cfg, err := clientcmd.Load(data)
		if err != nil {
			t.Fatal(err)
		}
		ctx := cfg.Contexts[c.Name]
		if len(cfg.Clusters) != 1 || cfg.Clusters[c.Name] == nil || len(cfg.AuthInfos) != 1 || cfg.AuthInfos[c.Name] == nil ||
			len(cfg.Contexts) != 1 || ctx == nil || ctx.Cluster != c.Name || ctx.AuthInfo != c.Name || cfg.CurrentContext != c.Name {
			t.Errorf("%s: kubeconfig names do not all equal the cluster name: %s", c.Name, data)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	v, err := cs.Discovery().ServerVersion()
	if err != nil || v.GitVersion != "v1.34.4" {
		t.Errorf("%s: server version %v, %v; want v1.34.4", c.Name, v, err)
	}
}

func testPrometheus(t *testing.T, env *testenv.Env) {
	// Two nodes in cloud (summed), one in edge-1; edge-2 stays at 0. Every
	// node also receives testenv.LoopbackReceiveRate on "lo", which the rule
	// must leave out.
	env.Cluster("cloud").Metrics.SetReceiveRate("cloud-a", 3e6)
	env.Cluster("cloud").Metrics.SetReceiveRate("cloud-b", 1.5e6)
	env.Cluster("edge-1").Metrics.SetReceiveRate("edge-1-node-1", 2e5)
	want := map[string]float64{"cloud": 4.5e6, "edge-1": 2e5, "edge-2": 0}

	pc, err := promapi.NewClient(promapi.Config{Address: env.Prometheus.URL})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(pc)
	got := map[string]float64{}
	err = wait.PollUntilContextTimeout(t.Context(), time.Second, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		for name, w := range want {
			q := fmt.Sprintf(`sum(instance:node_network_receive_bytes_excluding_lo:rate5m{cluster_name=%q})`, name)
			v, _, err := api.Query(ctx, q, time.Now())
			if err != nil {
				return false, err
			}
			vec, ok := v.(model.Vector)
			if !ok || len(vec) != 1 {
				got[name] = math.NaN()
				return false, nil
			}
			got[name] = float64(vec[0].Value)
			if math.Abs(got[name]-w) > 0.03*w+1 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("recording rule per cluster_name = %v, want %v (±3%%): %v", got, want, err)
	}

	// Targets added at run time in a file of their own are picked up.
	if err := env.Prometheus.SetTargets("extra", []testenv.TargetGroup{{
		Targets: []string{env.Cluster("edge-2").Metrics.Address}, Labels: map[string]string{"cluster_name": "added"},
	}}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		v, _, err := api.Query(ctx, `node_memory_MemTotal_bytes{cluster_name="added"}`, time.Now())
		if err != nil {
			return false, err
		}
		vec := v.(model.Vector)
		return len(vec) == 1 && float64(vec[0].Value) == 4*(1<<30), nil
	})
	if err != nil {
		t.Errorf("target added through file_sd not scraped: %v", err)
	}
}

func testHelm(t *testing.T, env *testenv.Env) {
	t.Run(testenv.ChartWeb, func(t *testing.T) {
		t.Parallel()
		helmInstall(t, env.Cluster("edge-1"), env.ChartRepo.URL, testenv.ChartWeb, "0.1.0", map[string]any{"replicaCount": 2})
	})
	t.Run(testenv.ChartStateful, func(t *testing.T) {
		t.Parallel()
		c := env.Cluster("cloud")
		rel := helmInstall(t, c, env.ChartRepo.URL, testenv.ChartStateful, "0.1.0", nil)
		pvcs, err := c.Client.CoreV1().PersistentVolumeClaims("apps").List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(pvcs.Items) != 1 || pvcs.Items[0].Status.Phase != corev1.ClaimBound || pvcs.Items[0].Spec.VolumeName != "standard-pv-1" ||
			pvcs.Items[0].Labels["app.kubernetes.io/instance"] != rel.Name {
			t.Errorf("PVCs of %s: %+v, want one bound to standard-pv-1 labelled with the release", rel.Name, pvcs.Items)
		}
	})
}

// helmInstall installs chart from the repository at repoURL into namespace
// "apps" of c with Wait, and checks that the release is deployed.
func helmInstall(t *testing.T, c *testenv.Cluster, repoURL, chart, version string, values map[string]any) *release.Release {
	t.Helper()
	settings := cli.New()
	dir := t.TempDir()
	settings.KubeConfig = c.KubeconfigPath
	settings.SetNamespace("apps") // the namespace Helm's kube client creates objects in
	settings.RepositoryCache = filepath.Join(dir, "cache")
	settings.RepositoryConfig = filepath.Join(dir, "repositories.yaml")
	settings.RegistryConfig = filepath.Join(dir, "registry.json")
	cfg := new(action.Configuration)
	if err := cfg.Init(settings.RESTClientGetter(), "apps", "secret", func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(cfg)
	inst.ReleaseName, inst.Namespace, inst.CreateNamespace = chart, "apps", true
	inst.Wait, inst.Timeout = true, 2*time.Minute
	inst.RepoURL, inst.Version = repoURL, version
	path, err := inst.LocateChart(chart, settings)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := inst.RunWithContext(t.Context(), ch, values)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Info.Status != release.StatusDeployed || rel.Chart.Metadata.Version != version {
		t.Errorf("release %s: status %s, chart version %s", rel.Name, rel.Info.Status, rel.Chart.Metadata.Version)
	}
	return rel
}

func testCilium(t *testing.T, c *testenv.Cluster) {
	ctx := t.Context()
	core := c.Client.CoreV1()
	cm, err := core.ConfigMaps("kube-system").Get(ctx, "cilium-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["cluster-name"] != c.Name || cm.Data["cluster-id"] != fmt.Sprint(c.CiliumClusterID()) || c.CiliumClusterID() == 0 {
		t.Errorf("%s: cilium-config %v, cluster id %d", c.Name, cm.Data, c.CiliumClusterID())
	}
	svc, err := core.Services("kube-system").Get(ctx, "clustermesh-apiserver", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.Ports[0].NodePort != testenv.ClusterMeshNodePort {
		t.Errorf("%s: clustermesh-apiserver Service %+v", c.Name, svc.Spec)
	}
	d, err := c.Client.AppsV1().Deployments("kube-system").Get(ctx, "clustermesh-apiserver", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if args := d.Spec.Template.Spec.Containers[1].Args; args[0] != "--cluster-name="+c.Name {
		t.Errorf("%s: clustermesh-apiserver args %v", c.Name, args)
	}
	// The original's "Cilium is installed" check: a running pod named
	// clustermesh-apiserver-* in kube-system, and the agents on every node.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := core.Pods("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		mesh, agents := 0, 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && strings.HasPrefix(p.Name, "clustermesh-apiserver-") {
				mesh++
			}
			if p.Status.Phase == corev1.PodRunning && p.Labels["k8s-app"] == "cilium" {
				agents++
			}
		}
		return mesh == 1 && agents == len(c.Nodes), nil
	})
	if err != nil {
		t.Errorf("%s: Cilium pods not running: %v", c.Name, err)
	}

	caSecret, err := core.Secrets("kube-system").Get(ctx, "cilium-ca", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca := parseCert(t, caSecret.Data["ca.crt"])
	if !ca.IsCA {
		t.Errorf("%s: cilium-ca is not a CA", c.Name)
	}
	if _, err := tls.X509KeyPair(caSecret.Data["ca.crt"], caSecret.Data["ca.key"]); err != nil {
		t.Errorf("%s: cilium-ca key pair: %v", c.Name, err)
	}
	remote, err := core.Secrets("kube-system").Get(ctx, "clustermesh-apiserver-remote-cert", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(remote.Data["tls.crt"], remote.Data["tls.key"]); err != nil {
		t.Errorf("%s: remote cert key pair: %v", c.Name, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parseCert(t, remote.Data["ca.crt"]))
	_, err = parseCert(t, remote.Data["tls.crt"]).Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil || !parseCert(t, remote.Data["ca.crt"]).Equal(ca) {
		t.Errorf("%s: remote cert does not verify against cilium-ca: %v", c.Name, err)
	}
}

func parseCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("no PEM block in %q", data)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func testTemporal(t *testing.T, tc *testenv.Temporal) {
	nc, err := client.NewNamespaceClient(client.Options{HostPort: tc.Address})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ns, err := nc.Describe(t.Context(), tc.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	if ns.NamespaceInfo.Name != tc.Namespace {
		t.Errorf("namespace %q, want %q", ns.NamespaceInfo.Name, tc.Namespace)
	}
}

func testAPIServerRestart(t *testing.T, c *testenv.Cluster) {
	ctx := t.Context()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survivor"}, Data: map[string]string{"k": "v"}}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "survivor", metav1.GetOptions{}); err == nil {
		t.Fatal("API server answers after StopAPIServer")
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "survivor", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("ConfigMap after restart: %v, %v", got, err)
	}
	// Controllers, scheduler and kwok reconnect.
	testDeploymentAvailable(t, c.Client, "default", "after-restart")
}
