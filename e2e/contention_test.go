package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/testenv"
)

// Two hundred placements race for room for exactly thirty web pods (three
// clusters of one node with one CPU; each pod requests 100m): exactly
// thirty enablers are Enabled, the others end in Error saying nothing fits,
// no node is over its allocatable (read from the API servers) and no
// capacity is left held.
func TestPlacementsRaceForScarceRoom(t *testing.T) {
	const clusters, room, racers = 3, 30, 200
	opts := testenv.Options{Temporal: true, ChartRepo: true}
	for i := range clusters {
		opts.Clusters = append(opts.Clusters, testenv.ClusterOptions{
			Name: fmt.Sprintf("tight-%d", i), Workloads: true, StorageClass: "standard",
			Nodes: []testenv.NodeOptions{{Name: fmt.Sprintf("tight-%d-node", i), CPU: "1", Memory: "8Gi"}},
		})
	}
	env := testenv.Start(t, opts)
	o := startOrchestrator(t, env)
	o.joinAll(env, nil)
	o.addTestRepo(env.ChartRepo.URL)

	names := make(map[string]string, racers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range racers {
		name := fmt.Sprintf("race-%03d", i)
		wg.Go(func() {
			code, data, err := o.send("POST", "/api/enabler", enablerBody(name, testenv.ChartWeb, "worst-fit", nil))
			if err != nil || code != 202 {
				t.Errorf("POST %s: %d %s %v", name, code, data, err)
				return
			}
			mu.Lock()
			names[name] = name
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	eventually(t, 10*time.Minute, "every placement to end", func() bool {
		// The store is busy with two hundred workflows: a read that times
		// out is tried again.
		stored, err := o.storedEnablers(names)
		if err != nil {
			t.Logf("reading the enablers: %v", err)
			return false
		}
		ended := 0
		for _, e := range stored {
			if e.Status == store.StatusEnabled || e.Status == store.StatusError {
				ended++
			}
		}
		return ended == racers
	})

	stored, err := o.storedEnablers(names)
	must(t, err)
	enabled := 0
	for name, e := range stored {
		switch {
		case e.Status == store.StatusEnabled:
			enabled++
		case !strings.Contains(e.StatusReason, "fit"):
			t.Errorf("%s: %s %q, want Enabled or an error saying nothing fits", name, e.Status, e.StatusReason)
		}
	}
	if enabled != room {
		t.Errorf("%d enablers Enabled, want exactly %d", enabled, room)
	}

	pods := 0
	for _, c := range env.Clusters {
		nodes, err := c.Client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		must(t, err)
		list, err := c.Client.CoreV1().Pods("").List(t.Context(), metav1.ListOptions{FieldSelector: "status.phase!=Succeeded,status.phase!=Failed"})
		must(t, err)
		requested := map[string]corev1.ResourceList{}
		for i := range list.Items {
			p := &list.Items[i]
			if strings.HasPrefix(p.Name, "race-") {
				pods++
			}
			req := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
			sum := requested[p.Spec.NodeName]
			if sum == nil {
				sum = corev1.ResourceList{}
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				q := sum[r]
				q.Add(req[r])
				sum[r] = q
			}
			requested[p.Spec.NodeName] = sum
		}
		for _, n := range nodes.Items {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				used, alloc := requested[n.Name][r], n.Status.Allocatable[r]
				if used.Cmp(alloc) > 0 {
					t.Errorf("%s: node %s has %s %s requested of %s allocatable", c.Name, n.Name, used.String(), r, alloc.String())
				}
			}
		}
	}
	if pods != room {
		t.Errorf("%d race pods in the API servers, want %d", pods, room)
	}

	reservations, err := o.store.Reservations.Find(t.Context(), nil)
	must(t, err)
	for _, r := range reservations {
		for _, h := range r.Holds {
			t.Errorf("cluster %s: enabler %s still holds capacity (since %v, lease to %v)", r.ID, h.EnablerID, h.Since, h.Expires)
		}
	}
}
