package apiserver

import (
	"context"
	"errors"
	"maps"
	"slices"

	"github.com/gofiber/fiber/v2"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// enablerOp is an operation on an existing enabler.
type enablerOp struct {
	name string // workflows.Op*
	// allowed are the statuses the enabler may be in; status is the one it
	// takes while the operation runs ("" keeps it).
	allowed []string
	status  string
	// change edits the record before the operation starts.
	change   func(*store.Enabler)
	workflow any
	args     []any
}

// steady are the statuses no operation is running in.
var steady = []string{store.StatusEnabled, store.StatusError, store.StatusTerminated, store.StatusMissing, store.StatusDegraded}

// startOp starts op on the enabler named by :id, one operation per enabler
// at a time: another running operation is a 409; the same one again joins
// it. The record changes with compare-and-swap before the workflow starts,
// so of two concurrent requests one gets 409; a record left changed without
// its workflow (the API stopped in between) is repaired (repair.go).
func (s *server) startOp(c *fiber.Ctx, op enablerOp) (string, *store.Enabler, error) {
	e, err := s.enabler(c, c.Params("id"))
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	opID := workflows.WorkflowID(op.name, e.ID)
	if running, err := s.running(ctx, e.OperationID); err != nil {
		return "", nil, err
	} else if running && e.OperationID == opID {
		return opID, e, nil
	} else if running {
		return "", nil, apiError(fiber.StatusConflict, "enabler %q has operation %s running: wait for it, or abort it", e.Name, e.OperationID)
	}
	if !slices.Contains(op.allowed, e.Status) {
		return "", nil, apiError(fiber.StatusConflict, "enabler %q is %s: this operation needs it %v", e.Name, e.Status, op.allowed)
	}
	e.OperationID = opID
	if op.status != "" {
		e.Status, e.StatusReason = op.status, ""
	}
	if op.change != nil {
		op.change(e)
	}
	if err := s.Store.Enablers.Update(ctx, e); err != nil {
		return "", nil, err
	}
	if err := s.interrupt(opID); err != nil {
		return "", nil, err
	}
	if err := s.start(c, opID, op.workflow, append([]any{e.ID}, op.args...)...); err != nil {
		return "", nil, err
	}
	s.Logger.Info("enabler operation started", "requestId", requestID(c), "enabler", e.Name, "operation", opID)
	return opID, e, nil
}

// running reports whether the workflow id is running.
func (s *server) running(ctx context.Context, id string) (bool, error) {
	run, err := s.lastRun(ctx, id)
	if err != nil {
		return false, apiError(fiber.StatusServiceUnavailable, "temporal: %v", err)
	}
	return run.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// lastRun describes the last run of workflow id, nil when there is none.
func (s *server) lastRun(ctx context.Context, id string) (*workflowpb.WorkflowExecutionInfo, error) {
	if id == "" {
		return nil, nil
	}
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil, nil
	}
	return desc.GetWorkflowExecutionInfo(), err
}

// acceptedEnabler answers 202 with the enabler as it is after the
// operation (or now, without ?wait); a deleted one is reported as such.
func (s *server) acceptedEnabler(c *fiber.Ctx, opID string, e *store.Enabler) error {
	return s.accepted(c, opID, "enabler", func(ctx context.Context) (any, error) {
		got, err := s.Store.Enablers.Get(ctx, e.ID)
		if errors.Is(err, store.ErrNotFound) {
			return fiber.Map{"id": e.ID, "name": e.Name, "status": "Deleted"}, nil
		}
		return got, err
	})
}

func (s *server) terminateEnabler(c *fiber.Ctx) error {
	opID, e, err := s.startOp(c, enablerOp{
		name: workflows.OpTerminate, workflow: workflows.TerminateEnabler,
		allowed: []string{store.StatusEnabled, store.StatusError, store.StatusMissing, store.StatusDegraded},
		status:  store.StatusTerminating,
	})
	if err != nil {
		return err
	}
	return s.acceptedEnabler(c, opID, e)
}

func (s *server) deleteEnabler(c *fiber.Ctx) error {
	volumes := c.QueryBool("volumes")
	opID, e, err := s.startOp(c, enablerOp{
		name: workflows.OpDelete, workflow: workflows.DeleteEnabler, args: []any{volumes},
		allowed: steady, status: store.StatusDeleting,
	})
	if err != nil {
		return err
	}
	return s.acceptedEnabler(c, opID, e)
}

// cleanupVolumes deletes the enabler's volumes. Like the seed's route it
// waits for the result (two minutes unless ?wait says otherwise).
func (s *server) cleanupVolumes(c *fiber.Ctx) error {
	opID, e, err := s.startOp(c, enablerOp{name: workflows.OpVolumes, workflow: workflows.CleanupVolumes, allowed: steady})
	if err != nil {
		return err
	}
	if c.Query("wait") == "" {
		c.Request().URI().QueryArgs().Set("wait", "2m")
	}
	return s.acceptedEnabler(c, opID, e)
}

// instantiateAgain places and installs a terminated (or failed) enabler
// again, with a new placement if the body asks for one.
func (s *server) instantiateAgain(c *fiber.Ctx) error {
	var req placementRequest
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	target, err := s.placementTarget(c, &req)
	if err != nil {
		return err
	}
	opID, e, err := s.startOp(c, enablerOp{
		name: workflows.OpInstantiate, workflow: workflows.InstantiateEnabler,
		allowed: []string{store.StatusTerminated, store.StatusError}, status: store.StatusPending,
		change: func(e *store.Enabler) {
			if target != nil {
				e.Auto, e.Policy, e.Target = target.auto, string(target.Policy), target.Target
			}
			e.Placement, e.ClusterID, e.Cluster = nil, "", ""
		},
	})
	if err != nil {
		return err
	}
	return s.acceptedEnabler(c, opID, e)
}

type upgradeRequest struct {
	AdditionalParams map[string]any `json:"additionalParams"`
	Version          string         `json:"version" validate:"max=128"`
	// ReuseValues merges additionalParams over the current values, as
	// helm upgrade --reuse-values does; otherwise they replace them.
	ReuseValues bool `json:"reuseValues"`
	// Failover, when given, replaces the enabler's failover settings.
	Failover *failoverRequest `json:"failover"`
}

func (s *server) upgradeEnabler(c *fiber.Ctx) error {
	var req upgradeRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	opID, e, err := s.startOp(c, enablerOp{
		name: workflows.OpUpgrade, workflow: workflows.UpgradeEnabler,
		allowed: []string{store.StatusEnabled, store.StatusDegraded}, status: store.StatusUpgrading,
		change: func(e *store.Enabler) {
			e.Previous = &store.PreviousRelease{Version: e.Version, ChartVersion: e.ChartVersion, Revision: e.ReleaseRevision, Values: e.Values}
			values := req.AdditionalParams
			if values == nil {
				values = map[string]any{}
			}
			if req.ReuseValues {
				values = chartutil.MergeTables(maps.Clone(values), e.Values)
			}
			e.Values = values
			if req.Version != "" {
				e.Version = req.Version
			}
			if req.Failover != nil {
				e.Failover = req.Failover.stored()
			}
		},
	})
	if err != nil {
		return err
	}
	if err := s.watchHealth(c, e); err != nil {
		return err
	}
	return s.acceptedEnabler(c, opID, e)
}

type rollbackRequest struct {
	// Revision 0 means the previous one.
	Revision int `json:"revision" validate:"min=0"`
}

func (s *server) rollbackEnabler(c *fiber.Ctx) error {
	var req rollbackRequest
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	opID, e, err := s.startOp(c, enablerOp{
		name: workflows.OpRollback, workflow: workflows.RollbackEnabler, args: []any{req.Revision},
		allowed: []string{store.StatusEnabled, store.StatusDegraded, store.StatusError}, status: store.StatusRollingBack,
	})
	if err != nil {
		return err
	}
	return s.acceptedEnabler(c, opID, e)
}

// enablerHistory lists the release's revisions, read from the cluster.
func (s *server) enablerHistory(c *fiber.Ctx) error {
	e, err := s.enabler(c, c.Params("id"))
	if err != nil {
		return err
	}
	t, err := s.releaseTarget(c, e)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	history, err := release.History(ctx, t, e.Name)
	if errors.Is(err, release.ErrReleaseNotFound) {
		return c.JSON([]release.Release{})
	}
	if err != nil {
		return apiError(fiber.StatusBadGateway, "cluster %s: %v", e.Cluster, err)
	}
	return c.JSON(history)
}

// releaseTarget is where the enabler's release is.
func (s *server) releaseTarget(c *fiber.Ctx, e *store.Enabler) (release.Target, error) {
	if e.ClusterID == "" {
		return release.Target{}, apiError(fiber.StatusConflict, "enabler %q is on no cluster", e.Name)
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	cluster, err := s.Store.Clusters.Get(ctx, e.ClusterID)
	if err != nil {
		return release.Target{}, err
	}
	return release.Target{Kubeconfig: cluster.Credentials, Namespace: e.Namespace, Logger: s.Logger}, nil
}
