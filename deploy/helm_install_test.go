package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/testenv"
)

// TestHelmInstall installs the chart with the Helm SDK (through package
// release, as the orchestrator installs enablers) into a real cluster
// (kube-apiserver, controller manager, scheduler; kwok runs the pods
// without their image) in a namespace that enforces the "restricted" Pod
// Security Standard, waits for both Deployments, and uninstalls it.
func TestHelmInstall(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Clusters: []testenv.ClusterOptions{{Name: "c", Workloads: true}}})
	cluster := env.Cluster("c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Pods that break the restricted profile (root, privilege escalation,
	// capabilities, no seccomp profile, hostPath, ...) are refused at creation.
	_, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: testNamespace,
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The enforcement is real: a pod with default settings is refused.
	_, err = cluster.Client.CoreV1().Pods(testNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "unrestricted"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/c:1"}}},
	}, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("a pod breaking the restricted profile was not refused: %v", err)
	}

	target := release.Target{Kubeconfig: cluster.Kubeconfig, Namespace: testNamespace}
	vals := withSet(t, minimalValues(), "prometheus.url=http://prometheus.monitoring.svc:9090", "worker.replicas=2")
	begin := time.Now()
	rel, err := release.Install(ctx, target, loadChart(t), testRelease, "deploy-test", vals)
	if err == nil {
		err = release.WaitReady(ctx, target, testRelease, time.Minute)
	}
	if err != nil {
		dumpPods(t, ctx, cluster)
		t.Fatalf("helm install: %v", err)
	}
	t.Logf("installed and ready in %v", time.Since(begin).Round(time.Millisecond))
	if rel.Status != "deployed" {
		t.Errorf("release status %s", rel.Status)
	}

	// Every pod of both Deployments runs and is ready.
	pods, err := cluster.Client.CoreV1().Pods(testNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + testRelease})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, p := range pods.Items {
		component := p.Labels["app.kubernetes.io/component"]
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if p.Status.Phase != corev1.PodRunning || !ready {
			t.Errorf("pod %s (%s): phase %s, ready %v", p.Name, component, p.Status.Phase, ready)
		}
		if p.Spec.AutomountServiceAccountToken == nil || *p.Spec.AutomountServiceAccountToken {
			t.Errorf("pod %s mounts a service account token", p.Name)
		}
		for _, v := range p.Spec.Volumes {
			if v.Projected != nil {
				t.Errorf("pod %s has projected volume %s (a token?)", p.Name, v.Name)
			}
		}
		count[component]++
	}
	if count["api"] != 1 || count["worker"] != 2 {
		t.Errorf("pods per component %v, want 1 api and 2 workers", count)
	}

	// Nothing cluster-wide, no permission granted anywhere.
	crbs, err := cluster.Client.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + testRelease})
	if err != nil || len(crbs.Items) != 0 {
		t.Errorf("ClusterRoleBindings of the release: %v %v", crbs, err)
	}
	rbs, err := cluster.Client.RbacV1().RoleBindings(testNamespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(rbs.Items) != 0 {
		t.Errorf("RoleBindings in %s: %v %v", testNamespace, rbs, err)
	}

	if err := release.Uninstall(ctx, target, testRelease, "deploy-test"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	left, err := cluster.Client.AppsV1().Deployments(testNamespace).List(ctx, metav1.ListOptions{})
	if err != nil || len(left.Items) != 0 {
		t.Errorf("Deployments left after uninstall: %d %v", len(left.Items), err)
	}
}

func dumpPods(t *testing.T, ctx context.Context, cluster *testenv.Cluster) {
	t.Helper()
	events, _ := cluster.Client.CoreV1().Events(testNamespace).List(ctx, metav1.ListOptions{})
	var b strings.Builder
	for _, e := range events.Items {
		fmt.Fprintf(&b, "  %s %s: %s %s\n", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
	}
	t.Logf("events in %s:\n%s", testNamespace, b.String())
}
