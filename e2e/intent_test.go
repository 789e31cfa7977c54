package e2e

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartorch/smartorch/apiserver"
	"github.com/smartorch/smartorch/testenv"
)

// stopper stops the next request of an operation between its two writes
// (its record and its workflow), as if the API were killed there.
type stopper struct {
	mu      sync.Mutex
	prefix  string
	stopped string
}

// next arms the stopper for the next operation whose id starts with prefix.
func (s *stopper) next(prefix string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prefix, s.stopped = prefix, ""
}

func (s *stopper) at(operationID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prefix == "" || !strings.HasPrefix(operationID, s.prefix) {
		return false
	}
	s.prefix, s.stopped = "", operationID
	return true
}

// request sends a request that the stopper stops at the operation whose
// id starts with prefix, and returns that operation's id.
func (s *stopper) request(o *orchestrator, prefix, method, path string, body any) string {
	o.t.Helper()
	s.next(prefix)
	code, data, err := o.send(method, path, body) // call would fail the test on a 503
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || code != 503 || s.stopped == "" {
		o.t.Fatalf("%s %s: %d %s %v, want it stopped (503) at %s…", method, path, code, data, err, prefix)
	}
	return s.stopped
}

// TestRequestStoppedBetweenItsWrites kills (in effect) the API between the
// two writes of a request: a new cluster or enabler leaves nothing behind
// and its name free; a change to an enabler is started again, or put in
// Error when the record does not say all of it, by the API's repair.
func TestRequestStoppedBetweenItsWrites(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{
			{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}},
			{Name: "edge-1", Workloads: true, StorageClass: "standard"},
			{Name: "edge-2", Workloads: true, StorageClass: "standard"},
		},
	})
	stop := &stopper{}
	o := startOrchestrator(t, env, func(cfg *apiserver.Config) {
		cfg.Interrupt = stop.at
		// The test's requests take milliseconds, not the 30 s a real one may.
		cfg.RepairEvery, cfg.RepairAfter = time.Second, 5*time.Second
	})
	cloud, edge1, edge2 := env.Clusters[0], env.Clusters[1], env.Clusters[2]
	for _, c := range []*testenv.Cluster{cloud, edge1} {
		if code, a := o.join(c, nil, "2m"); code != 202 || a.Cluster.Status != "Enabled" {
			t.Fatalf("join %s: %d %+v", c.Name, code, a)
		}
	}
	o.addTestRepo(env.ChartRepo.URL)
	var orphans []string // workflows whose request was never recorded

	t.Run("a join stopped before its record leaves the name free", func(t *testing.T) {
		body := map[string]any{"name": edge2.Name, "credentials": json.RawMessage(edge2.KubeconfigJSON)}
		orphans = append(orphans, stop.request(o, "cluster-join-", "POST", "/api/k8sclusters", body))
		if code, _ := o.cluster("edge-2"); code != 404 {
			t.Errorf("edge-2 after the stopped join: %d, want 404", code)
		}
		if code, a := o.join(edge2, nil, "2m"); code != 202 || a.Cluster.Status != "Enabled" {
			t.Fatalf("join edge-2 again: %d %+v", code, a)
		}
	})

	t.Run("an enabler stopped before its record leaves the name free", func(t *testing.T) {
		body := map[string]any{"enablerName": "web", "helmChart": "test/web", "vim": "edge-1"}
		orphans = append(orphans, stop.request(o, "enabler-instantiate-", "POST", "/api/enabler", body))
		if code := o.call("GET", "/api/enabler/web", nil, nil); code != 404 {
			t.Errorf("web after the stopped instantiate: %d, want 404", code)
		}
		if e := o.instantiate(map[string]any{"enablerName": "web", "helmChart": "test/web", "vim": "edge-1"}); e.Status != "Enabled" {
			t.Fatalf("instantiate web again: %+v", e)
		}
	})

	t.Run("a terminate stopped before its workflow is started again", func(t *testing.T) {
		stop.request(o, "enabler-terminate-", "POST", "/api/enabler/web/terminate", nil)
		if e := o.enabler("web"); e.Status != "Terminating" {
			t.Fatalf("web after the stopped terminate: %+v, want Terminating", e)
		}
		eventually(t, 2*time.Minute, "web to be Terminated", func() bool { return o.enabler("web").Status == "Terminated" })
		if n := helmReleases(t, edge1, "web"); n != 0 {
			t.Errorf("release web still on edge-1 (%d revisions)", n)
		}
	})

	t.Run("a delete stopped before its workflow goes to Error, and can be sent again", func(t *testing.T) {
		stop.request(o, "enabler-delete-", "DELETE", "/api/enabler/web?volumes=true", nil)
		var e enablerView
		eventually(t, time.Minute, "web to be in Error", func() bool { e = o.enabler("web"); return e.Status == "Error" })
		if !strings.Contains(e.StatusReason, "send the request again") {
			t.Errorf("reason = %q, want it to ask for the request again", e.StatusReason)
		}
		if code, _ := o.op("DELETE", "/api/enabler/web?wait=2m", nil); code != 202 {
			t.Fatalf("delete again: %d", code)
		}
		if code := o.call("GET", "/api/enabler/web", nil, nil); code != 404 {
			t.Errorf("web after the delete: %d, want 404", code)
		}
	})

	t.Run("a drain stopped before its workflow is started again", func(t *testing.T) {
		if e := o.instantiate(map[string]any{"enablerName": "api", "helmChart": "test/web", "vim": "edge-1"}); e.Status != "Enabled" {
			t.Fatalf("instantiate api: %+v", e)
		}
		stop.request(o, "enabler-drain-", "POST", "/api/k8sclusters/edge-1/drain", nil)
		if e := o.enabler("api"); e.Status != "Moving" || e.Cluster != "edge-1" {
			t.Fatalf("api after the stopped drain: %+v, want Moving, on edge-1", e)
		}
		var e enablerView
		eventually(t, 3*time.Minute, "api to be Enabled elsewhere", func() bool {
			e = o.enabler("api")
			return e.Status == "Enabled" && e.Cluster != "edge-1"
		})
		if n := helmReleases(t, edge1, "api"); n != 0 {
			t.Errorf("release api still on edge-1 (%d revisions)", n)
		}
	})

	t.Run("an upgrade stopped before its workflow is started again", func(t *testing.T) {
		before := o.lifecycle("api").ReleaseRevision
		stop.request(o, "enabler-upgrade-", "POST", "/api/enabler/api/upgrade", map[string]any{"additionalParams": map[string]any{"replicaCount": 2}})
		if e := o.enabler("api"); e.Status != "Upgrading" {
			t.Fatalf("api after the stopped upgrade: %+v, want Upgrading", e)
		}
		eventually(t, 2*time.Minute, "api to be upgraded", func() bool {
			e := o.lifecycle("api")
			return e.Status == "Enabled" && e.ReleaseRevision == before+1
		})
	})

	t.Run("the workflows of requests never recorded end by themselves", func(t *testing.T) {
		for _, id := range orphans {
			eventually(t, 2*time.Minute, id+" to end", func() bool { return o.operation(id).State == "Completed" })
			if op := o.operation(id); len(op.Done) != 0 || !strings.Contains(op.LastError, "never recorded") {
				t.Errorf("%s = %+v, want no step done, and why", id, op)
			}
		}
	})
}
