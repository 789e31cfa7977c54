package apiserver

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// failoverRequest is the failover field of POST /api/enabler and of an upgrade.
type failoverRequest struct {
	Enabled bool `json:"enabled"`
	// GraceSeconds omitted is the worker's default.
	GraceSeconds *int `json:"graceSeconds" validate:"omitempty,min=0,max=86400"`
}

func (f *failoverRequest) stored() *store.Failover {
	if f == nil {
		return nil
	}
	return &store.Failover{Enabled: f.Enabled, GraceSeconds: f.GraceSeconds}
}

// watchHealth starts the health workflow of the enabler's cluster when the
// enabler fails over (instantiations start it themselves once placed).
func (s *server) watchHealth(c *fiber.Ctx, e *store.Enabler) error {
	if !e.FailsOver() || e.ClusterID == "" {
		return nil
	}
	return s.start(c, workflows.WorkflowID(workflows.OpClusterHealth, e.ClusterID), workflows.ClusterHealth, e.ClusterID)
}

// checkCluster probes the cluster now: its health workflow is signalled,
// or started for one probe. With ?wait it answers once that probe is recorded.
func (s *server) checkCluster(c *fiber.Ctx) error {
	cluster, err := s.cluster(c, c.Params("id"))
	if err != nil {
		return err
	}
	var wait time.Duration
	if w := c.Query("wait"); w != "" {
		if wait, err = time.ParseDuration(w); err != nil || wait <= 0 || wait > 10*time.Minute {
			return apiError(fiber.StatusBadRequest, "wait must be a duration such as 30s or 2m, at most 10m")
		}
	}
	asked := time.Now().UTC()
	opID := workflows.WorkflowID(workflows.OpClusterHealth, cluster.ID)
	ctx, cancel := requestContext(c)
	defer cancel()
	_, err = s.Temporal.SignalWithStartWorkflow(ctx, opID, workflows.SignalCheck, nil,
		client.StartWorkflowOptions{ID: opID, TaskQueue: s.TaskQueue}, workflows.ClusterHealth, cluster.ID)
	if err != nil {
		return apiError(fiber.StatusServiceUnavailable, "cannot start operation %s: %v", opID, err)
	}
	s.Logger.Info("cluster check asked", "requestId", requestID(c), "cluster", cluster.Name, "operation", opID)
	deadline := time.Now().Add(wait)
	for {
		got, err := s.Store.Clusters.Get(ctx, cluster.ID)
		if err != nil {
			return err
		}
		if h := got.Health; time.Now().After(deadline) || h != nil && !h.LastProbe.Before(asked.Truncate(time.Millisecond)) {
			return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"operationId": opID, "cluster": got})
		}
		select {
		case <-ctx.Done():
			return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"operationId": opID, "cluster": got})
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type cordonRequest struct {
	Reason string `json:"reason" validate:"max=1024"`
}

// cordonCluster keeps new placements off the cluster; its enablers stay.
func (s *server) cordonCluster(c *fiber.Ctx) error {
	var req cordonRequest
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	return s.changeCluster(c, func(cl *store.Cluster) {
		if cl.Cordon == nil || req.Reason != "" {
			cl.Cordon = &store.Cordon{Reason: req.Reason, Since: time.Now().UTC()}
		}
	})
}

func (s *server) uncordonCluster(c *fiber.Ctx) error {
	return s.changeCluster(c, func(cl *store.Cluster) { cl.Cordon = nil })
}

// changeCluster applies change to the cluster named by :id and answers it.
// Modify applies it again to a record changed meanwhile (by a join, a probe
// or another change).
func (s *server) changeCluster(c *fiber.Ctx, change func(*store.Cluster)) error {
	cluster, err := s.cluster(c, c.Params("id"))
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	err = s.Store.Clusters.Modify(ctx, cluster.ID, func(cl *store.Cluster) {
		change(cl)
		cluster = cl
	})
	if errors.Is(err, store.ErrNotFound) {
		return apiError(fiber.StatusNotFound, "cluster %q not found", c.Params("id"))
	} else if err != nil {
		return err
	}
	s.Logger.Info("cluster changed", "requestId", requestID(c), "cluster", cluster.Name, "cordoned", cluster.Cordon != nil)
	return c.JSON(cluster)
}

// drained is one enabler of a drain.
type drained struct {
	Enabler     string `json:"enabler"`
	OperationID string `json:"operationId,omitempty"`
	Skipped     string `json:"skipped,omitempty"`
}

// drainCluster cordons the cluster and moves every enabler installed there
// elsewhere, one FailoverEnabler workflow each, make-before-break. An
// enabler with another operation running is skipped and says so.
func (s *server) drainCluster(c *fiber.Ctx) error {
	if c.Query("wait") != "" {
		if d, err := time.ParseDuration(c.Query("wait")); err != nil || d <= 0 || d > 10*time.Minute {
			return apiError(fiber.StatusBadRequest, "wait must be a duration such as 30s or 2m, at most 10m")
		}
	}
	cluster, err := s.cluster(c, c.Params("id"))
	if err != nil {
		return err
	}
	if cluster.Status != store.StatusEnabled {
		return apiError(fiber.StatusConflict, "cluster %q is %s, not Enabled", cluster.Name, cluster.Status)
	}
	if cluster.Cordon == nil {
		if err := s.changeCluster(c, func(cl *store.Cluster) {
			if cl.Cordon == nil {
				cl.Cordon = &store.Cordon{Reason: "drained", Since: time.Now().UTC()}
			}
		}); err != nil {
			return err
		}
	}
	ctx, cancel := requestContext(c)
	on, err := s.Store.Enablers.Find(ctx, store.OnCluster(cluster.ID))
	cancel()
	if err != nil {
		return err
	}
	move := scheduler.Move{Kind: scheduler.MoveDrain, FromID: cluster.ID, From: cluster.Name, Reason: "the operator drains " + cluster.Name, At: time.Now().UTC()}
	result := []drained{}
	for _, e := range on {
		if !slices.Contains(observed, e.Status) {
			continue // not installed
		}
		opID, why, err := s.startMove(c, &e, move)
		if err != nil {
			return err
		}
		result = append(result, drained{Enabler: e.Name, OperationID: opID, Skipped: why})
	}
	if w := c.Query("wait"); w != "" {
		for _, d := range result {
			if d.OperationID != "" {
				_ = s.wait(c, d.OperationID, w)
			}
		}
	}
	cluster, err = s.cluster(c, cluster.ID)
	if err != nil {
		return err
	}
	s.Logger.Info("cluster drain started", "requestId", requestID(c), "cluster", cluster.Name, "enablers", len(result))
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"cluster": cluster, "enablers": result})
}

// startMove starts the drain of one enabler, or says why not.
func (s *server) startMove(c *fiber.Ctx, e *store.Enabler, move scheduler.Move) (opID, skipped string, err error) {
	ctx, cancel := requestContext(c)
	defer cancel()
	opID = workflows.WorkflowID(workflows.OpDrain, e.ID)
	if running, err := s.running(ctx, e.OperationID); err != nil {
		return "", "", err
	} else if running && e.OperationID != opID {
		return "", "operation " + e.OperationID + " is running", nil
	}
	e.OperationID, e.Status, e.StatusReason = opID, store.StatusMoving, "drain of "+move.From
	if err := s.Store.Enablers.Update(ctx, e); errors.Is(err, store.ErrStale) {
		return "", "it changed meanwhile: drain again", nil
	} else if err != nil {
		return "", "", err
	}
	if err := s.interrupt(opID); err != nil {
		return "", "", err
	}
	return opID, "", s.start(c, opID, workflows.FailoverEnabler, e.ID, move)
}

// probeCollector exports the clusters' probe counts and health, read from
// the store at each scrape: the probes run in the workers.
type probeCollector struct {
	store  *store.Store
	probes *prometheus.Desc
	state  *prometheus.Desc
}

func newProbeCollector(st *store.Store) *probeCollector {
	return &probeCollector{
		store:  st,
		probes: prometheus.NewDesc("smartorch_cluster_probes_total", "Health probes of each cluster (only clusters hosting an enabler with failover, or checked, are probed).", []string{"cluster"}, nil),
		state:  prometheus.NewDesc("smartorch_cluster_health", "1 for the cluster's last probed health state.", []string{"cluster", "state"}, nil),
	}
}

func (p *probeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.probes; ch <- p.state }

func (p *probeCollector) Collect(ch chan<- prometheus.Metric) {
	if p.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	clusters, err := p.store.Clusters.Find(ctx, nil)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(p.probes, err)
		return
	}
	for _, c := range clusters {
		var probes int64
		if c.Health != nil {
			probes = c.Health.Probes
			ch <- prometheus.MustNewConstMetric(p.state, prometheus.GaugeValue, 1, c.Name, c.Health.State)
		}
		ch <- prometheus.MustNewConstMetric(p.probes, prometheus.CounterValue, float64(probes), c.Name)
	}
}
