package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/kube"
	helmrelease "helm.sh/helm/v3/pkg/release"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/kubernetes"
)

// ErrNotReady wraps WaitReady's error when the timeout passed first.
var ErrNotReady = errors.New("release not ready")

// WaitReady checks again after firstWaitInterval, then a quarter later
// each time up to waitInterval, Helm's fixed interval: most releases of
// small charts are ready within a second or two, which a fixed 2s interval
// overshoots by a second on average, while one that takes minutes is
// checked no more often than Helm does.
const (
	firstWaitInterval = 200 * time.Millisecond
	waitInterval      = 2 * time.Second
)

// WaitReady waits until every resource of the release's latest revision is
// ready by Helm's rules (`helm install --wait --wait-for-jobs`: Deployments,
// StatefulSets and DaemonSets rolled out with ready pods, Jobs complete,
// PVCs bound, Services with IPs, ...), or until timeout, when the error
// wraps ErrNotReady and says which resources are not ready and why their
// pods are not. It returns ctx's error as soon as ctx is done.
//
// It runs Helm's kube.ReadyChecker in its own loop rather than
// kube.Client.Wait, which in Helm 3 takes no context (it could not be
// cancelled) and reports only "context deadline exceeded".
func WaitReady(ctx context.Context, t Target, name string, timeout time.Duration) error {
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return fmt.Errorf("release name %q: %w", name, err)
	}
	cfg, err := configuration(t)
	if err != nil {
		return err
	}
	rel, err := latest(cfg, name)
	if err != nil {
		return err
	}
	w, client, err := newWaiter(cfg, rel, t.logger())
	if err != nil {
		return err
	}

	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := firstWaitInterval
	next := time.NewTimer(interval)
	defer next.Stop()
	var notReady []string // from the last complete round
	var pending kube.ResourceList
	for {
		if n, p, complete := w.check(waitCtx); complete {
			if len(n) == 0 {
				return nil
			}
			notReady, pending = n, p
		}
		select {
		case <-next.C:
			interval = min(interval*5/4, waitInterval)
			next.Reset(interval)
			continue
		case <-waitCtx.Done():
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Timed out: find out why the pending workloads' pods are not
		// ready, within a short time of its own.
		podCtx, cancelPods := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancelPods()
		notReady = append(notReady, podProblems(podCtx, client, pending)...)
		if len(notReady) == 0 {
			notReady = []string{"no readiness check completed"}
		}
		return fmt.Errorf("%w after %v: %s", ErrNotReady, timeout, strings.Join(notReady, "; "))
	}
}

// waiter runs Helm's readiness checks over a release's resources.
type waiter struct {
	resources kube.ResourceList
	checker   kube.ReadyChecker
	reason    string // the checker's last message about the resource being checked
}

// newWaiter returns a waiter over the resources of rel, and the client it
// uses.
func newWaiter(cfg *action.Configuration, rel *helmrelease.Release, log *slog.Logger) (*waiter, kubernetes.Interface, error) {
	resources, err := cfg.KubeClient.Build(strings.NewReader(rel.Manifest), false)
	if err != nil {
		return nil, nil, fmt.Errorf("resources of release %s: %w", rel.Name, err)
	}
	client, err := cfg.KubernetesClientSet()
	if err != nil {
		return nil, nil, err
	}
	w := &waiter{resources: resources}
	helmLog := debugLog(log)
	w.checker = kube.NewReadyChecker(client, func(format string, args ...any) {
		w.reason = fmt.Sprintf(format, args...)
		helmLog(format, args...)
	}, kube.PausedAsReady(true), kube.CheckJobs(true))
	return w, client, nil
}

// check checks every resource once and returns what is not ready (and
// why), and whether the round completed before ctx was done.
func (w *waiter) check(ctx context.Context) (notReady []string, pending kube.ResourceList, complete bool) {
	for _, r := range w.resources {
		w.reason = ""
		ready, err := w.checker.IsReady(ctx, r)
		if ctx.Err() != nil {
			return nil, nil, false
		}
		switch {
		case err != nil:
			notReady = append(notReady, fmt.Sprintf("%s: %v", describe(r), err))
		case ready:
			continue
		case w.reason != "":
			notReady = append(notReady, w.reason)
		default:
			notReady = append(notReady, describe(r)+" is not ready")
		}
		pending = append(pending, r)
	}
	return notReady, pending, true
}

// describe names a resource as "Kind namespace/name".
func describe(r *resource.Info) string {
	kind := r.Object.GetObjectKind().GroupVersionKind().Kind
	if r.Mapping != nil {
		kind = r.Mapping.GroupVersionKind.Kind
	}
	if r.Namespace == "" {
		return kind + " " + r.Name
	}
	return kind + " " + r.Namespace + "/" + r.Name
}

// podProblems says why the pods of the workloads among resources are not
// ready (unschedulable, image pull, crash loop, ...), a few per workload.
func podProblems(ctx context.Context, client kubernetes.Interface, resources kube.ResourceList) []string {
	var out []string
	for _, r := range resources {
		selector, err := kube.SelectorsForObject(kube.AsVersioned(r))
		if err != nil || selector.Empty() {
			continue // not a workload
		}
		pods, err := client.CoreV1().Pods(r.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String(), Limit: 20})
		if err != nil {
			continue
		}
		n := 0
		for _, p := range pods.Items {
			if problem := podProblem(&p); problem != "" && n < 3 {
				out = append(out, fmt.Sprintf("pod %s/%s: %s", p.Namespace, p.Name, problem))
				n++
			}
		}
	}
	return out
}

func podProblem(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return strings.TrimSpace(c.Reason + ": " + c.Message)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && !cs.Ready {
			return strings.TrimSpace(fmt.Sprintf("container %s %s: %s", cs.Name, w.Reason, w.Message))
		}
		if term := cs.State.Terminated; term != nil && !cs.Ready {
			return fmt.Sprintf("container %s terminated: %s (exit code %d)", cs.Name, term.Reason, term.ExitCode)
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			return "not ready (phase " + string(p.Status.Phase) + ")"
		}
	}
	return ""
}
