package placement

import (
	"context"
	"testing"
	"time"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/store/storetest"
	"github.com/smartorch/smartorch/testenv"
)

// A Place attempt that was given up (it timed out) can still have its hold
// written afterwards: here its write lands after the retry placed the
// enabler and the workflow released the capacity. The stray hold keeps the
// capacity only until its lease ends; then decisions ignore it and the
// next placement on the cluster removes it.
func TestStrayHoldEndsWithItsLease(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Clusters: []testenv.ClusterOptions{{
		Name: "edge", Workloads: true, // kwok makes the node Ready
		Nodes: []testenv.NodeOptions{{Name: "edge-node", CPU: "1", Memory: "4Gi"}},
	}}})
	st := storetest.Open(t).Store
	ctx := context.Background()
	cluster := &store.Cluster{Name: "edge", Status: store.StatusEnabled, Credentials: env.Clusters[0].Kubeconfig}
	if err := st.Clusters.Insert(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	p := &Planner{Store: st}
	spec := Spec{Name: "web", Policy: scheduler.WorstFit, LiveOnly: true}
	// Only one such enabler fits on the node's one CPU.
	demand := scheduler.Demand{Workloads: []scheduler.Workload{{Kind: "Deployment", Name: "web", Replicas: 1, Pod: scheduler.Resources{MilliCPU: 600, Memory: 256 << 20}}}}
	const lease = 2 * time.Second

	firstAttempt, err := p.Preview(ctx, spec, demand)
	if err != nil || firstAttempt.ClusterID != cluster.ID {
		t.Fatalf("first attempt's decision: %+v, %v", firstAttempt, err)
	}
	if d, err := p.Reserve(ctx, "retried", spec, demand, lease); err != nil || d.ClusterID != cluster.ID {
		t.Fatalf("the retry: %+v, %v", d, err)
	}
	if err := p.Release(ctx, "retried"); err != nil {
		t.Fatal(err)
	}
	held, err := p.reservations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.hold(ctx, firstAttempt, held[cluster.ID], "retried", lease); err != nil {
		t.Fatalf("the first attempt's late write: %v", err)
	}
	landed := time.Now()

	if ok, err := p.Holds(ctx, "retried"); err != nil || !ok {
		t.Fatalf("the stray hold should count during its lease: %v, %v", ok, err)
	}
	if d, err := p.Preview(ctx, spec, demand); err != nil || d.ClusterID != "" {
		t.Fatalf("during the stray hold's lease another enabler should not fit: %+v, %v", d, err)
	}

	time.Sleep(time.Until(landed.Add(lease)))
	if ok, err := p.Holds(ctx, "retried"); err != nil || ok {
		t.Fatalf("after its lease the stray hold should count for nothing: %v, %v", ok, err)
	}
	if n, err := p.OtherHolds(ctx, "next"); err != nil || n != 0 {
		t.Fatalf("other holds after the lease: %d, %v", n, err)
	}
	d, err := p.Reserve(ctx, "next", spec, demand, time.Minute)
	if err != nil || d.ClusterID != cluster.ID {
		t.Fatalf("after the lease the capacity should be free: %+v, %v", d, err)
	}
	r, err := st.Reservations.Get(ctx, cluster.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Holds) != 1 || r.Holds[0].EnablerID != "next" {
		t.Fatalf("the next placement should have swept the stray hold: %+v", r.Holds)
	}
	if r.FreedAt.Before(landed.Add(lease).Add(-time.Second)) {
		t.Errorf("freedAt %v should record the stray hold's end (about %v)", r.FreedAt, landed.Add(lease))
	}
}
