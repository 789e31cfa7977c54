package apiserver

import (
	"context"
	"strings"
	"time"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// A request that changes an enabler records its operation (the status it
// takes and the operation's id) before it starts the operation's workflow:
// that compare-and-swap is what lets only one operation run at a time. If
// the API stops in between, the record is left in that status with no
// operation running. (A new enabler or cluster is not left so: its
// workflow starts first and waits for the record; but one that gave up
// waiting, the store down, is.)
//
// The repair finds such records: in an operation's status, untouched for
// longer than any request takes (RepairAfter), their operation not
// running. It starts the operation again when the record holds all it
// needs, and otherwise puts the record in Error, asking for the request
// again. It runs when the API starts and every RepairEvery.

// repairLoop repairs until ctx is done.
func (s *server) repairLoop(ctx context.Context) {
	tick := time.NewTicker(s.RepairEvery)
	defer tick.Stop()
	for {
		s.repair(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *server) repair(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cutoff := time.Now().Add(-s.RepairAfter)
	enablers, err := s.Store.Enablers.Find(ctx, store.UntouchedWithStatus(cutoff,
		store.StatusPending, store.StatusTerminating, store.StatusDeleting, store.StatusUpgrading, store.StatusRollingBack, store.StatusMoving))
	if err != nil {
		s.Logger.Warn("repair: cannot list enablers", "err", err)
	}
	for _, e := range enablers {
		if err := s.repairEnabler(ctx, &e); err != nil {
			s.Logger.Warn("repair: enabler not repaired", "enabler", e.Name, "operation", e.OperationID, "err", err)
		}
	}
	clusters, err := s.Store.Clusters.Find(ctx, store.UntouchedWithStatus(cutoff, store.StatusPending))
	if err != nil {
		s.Logger.Warn("repair: cannot list clusters", "err", err)
	}
	for _, c := range clusters {
		if err := s.repairCluster(ctx, &c); err != nil {
			s.Logger.Warn("repair: cluster not repaired", "cluster", c.Name, "operation", c.OperationID, "err", err)
		}
	}
}

func (s *server) repairEnabler(ctx context.Context, e *store.Enabler) error {
	if running, err := s.running(ctx, e.OperationID); err != nil || running {
		return err
	}
	op, _ := strings.CutSuffix(e.OperationID, "-"+e.ID)
	switch {
	case op == workflows.OpInstantiate && e.Status == store.StatusPending:
		return s.restartEnabler(ctx, e, workflows.InstantiateEnabler, e.ID)
	case op == workflows.OpTerminate && e.Status == store.StatusTerminating:
		return s.restartEnabler(ctx, e, workflows.TerminateEnabler, e.ID)
	case op == workflows.OpUpgrade && e.Status == store.StatusUpgrading:
		// The new version and values are in the record.
		return s.restartEnabler(ctx, e, workflows.UpgradeEnabler, e.ID)
	case op == workflows.OpDrain && e.Status == store.StatusMoving:
		// Only a drain that never ran: one that did may have moved the
		// enabler already, and the record would not say where from.
		if never, err := s.neverStarted(ctx, e.OperationID, e.UpdatedAt); err != nil || !never {
			return err
		}
		move := scheduler.Move{Kind: scheduler.MoveDrain, FromID: e.ClusterID, From: e.Cluster, Reason: "the operator drains " + e.Cluster, At: time.Now().UTC()}
		return s.restartEnabler(ctx, e, workflows.FailoverEnabler, e.ID, move)
	case op == workflows.OpDelete && e.Status == store.StatusDeleting, op == workflows.OpRollback && e.Status == store.StatusRollingBack:
		// Whether to delete the volumes, the revision to roll back to: the
		// request said, the record does not.
		e.Status, e.StatusReason = store.StatusError, "operation "+e.OperationID+" is not running (the API stopped before starting it, or it ended without recording its outcome): send the request again"
		s.Logger.Warn("repair: operation not running, enabler put in Error", "enabler", e.Name, "operation", e.OperationID)
		return s.Store.Enablers.Update(ctx, e)
	}
	return nil // an operation the API does not start
}

// restartEnabler starts the enabler's operation again. The record changes
// first, with compare-and-swap: of two repairs, one starts it.
func (s *server) restartEnabler(ctx context.Context, e *store.Enabler, workflow any, args ...any) error {
	e.StatusReason = "operation " + e.OperationID + " was not running (the API stopped before starting it, or it ended without recording its outcome): started again"
	if err := s.Store.Enablers.Update(ctx, e); err != nil {
		return err
	}
	s.Logger.Warn("repair: operation not running, starting it again", "enabler", e.Name, "operation", e.OperationID)
	return s.startWorkflow(ctx, e.OperationID, workflow, args...)
}

// repairCluster starts again a join that is not running.
func (s *server) repairCluster(ctx context.Context, c *store.Cluster) error {
	if c.OperationID != workflows.WorkflowID(workflows.OpJoinCluster, c.ID) {
		return nil
	}
	if running, err := s.running(ctx, c.OperationID); err != nil || running {
		return err
	}
	c.StatusReason = "operation " + c.OperationID + " was not running: started again"
	if err := s.Store.Clusters.Update(ctx, c); err != nil {
		return err
	}
	s.Logger.Warn("repair: join not running, starting it again", "cluster", c.Name, "operation", c.OperationID)
	return s.startWorkflow(ctx, c.OperationID, workflows.JoinCluster, c.ID)
}

// neverStarted reports whether operation id has not run since the record
// changed at changed: there is no workflow of that id, or its last
// run ended before the change. (An operation's own last change to its
// record comes before its workflow ends; a later change is a later
// request's, which reuses the id.)
func (s *server) neverStarted(ctx context.Context, id string, changed time.Time) (bool, error) {
	if id == "" {
		return false, nil
	}
	run, err := s.lastRun(ctx, id)
	switch {
	case err != nil:
		return false, err
	case run == nil:
		return true, nil
	}
	return run.GetCloseTime() != nil && run.GetCloseTime().AsTime().Before(changed), nil
}
