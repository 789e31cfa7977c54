package workflows_test

import (
	"reflect"
	"testing"

	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// The workflows that change an installed enabler: no compensation but the
// upgrade's rollback, and "record the error" last when a step fails.

func TestTerminateEnabler(t *testing.T) {
	steps := []string{"remove the global service mirrors", "uninstall the release", "release the reserved capacity"}

	t.Run("uninstalls and keeps the record, Terminated", func(t *testing.T) {
		r := newRun(t)
		r.env.ExecuteWorkflow(workflows.TerminateEnabler, "e1")
		r.ends(workflows.StateCompleted, "", append(steps, "mark the enabler Terminated")...)
		r.lastCall("SetEnablerStatus", "e1", store.StatusTerminated, "")
	})

	t.Run("abort records the error and what may be left", func(t *testing.T) {
		r := newRun(t)
		r.fails("Uninstall", errUnreachable)
		r.onceWaiting("uninstall the release", r.abort)
		r.env.ExecuteWorkflow(workflows.TerminateEnabler, "e1")
		r.ends(workflows.StateFailed, "aborted by the operator", steps[0], "record the error")
		r.lastCall("SetEnablerStatus", "e1", store.StatusError,
			"terminate failed, the release may still be installed: uninstall the release: aborted by the operator after: connection refused")
	})
}

func TestDeleteEnabler(t *testing.T) {
	t.Run("keeping the volumes", func(t *testing.T) {
		r := newRun(t)
		r.env.ExecuteWorkflow(workflows.DeleteEnabler, "e1", false)
		r.ends(workflows.StateCompleted, "",
			"remove the global service mirrors", "uninstall the release", "release the reserved capacity", "delete the record")
		r.lastCall("DeleteEnablerRecord", "e1")
	})

	t.Run("with its volumes, after the release", func(t *testing.T) {
		r := newRun(t)
		r.env.ExecuteWorkflow(workflows.DeleteEnabler, "e1", true)
		r.ends(workflows.StateCompleted, "",
			"remove the global service mirrors", "uninstall the release", "delete the volumes", "release the reserved capacity", "delete the record")
	})

	t.Run("a permanent error keeps the record, in Error", func(t *testing.T) {
		r := newRun(t)
		r.fails("CleanupVolumes", errConflict)
		r.env.ExecuteWorkflow(workflows.DeleteEnabler, "e1", true)
		r.ends(workflows.StateFailed, "delete the volumes: pod CIDR overlaps",
			"remove the global service mirrors", "uninstall the release", "record the error")
		r.lastCall("SetEnablerStatus", "e1", store.StatusError,
			"delete failed, the record is kept and the release may still be installed: delete the volumes: pod CIDR overlaps")
	})
}

func TestCleanupVolumes(t *testing.T) {
	t.Run("returns what it deleted", func(t *testing.T) {
		r := newRun(t)
		want := []store.Volume{{Claim: "data-web-0", Namespace: "default", VolumeDeleted: true}}
		r.returns("CleanupVolumes", want)
		r.env.ExecuteWorkflow(workflows.CleanupVolumes, "e1")
		r.ends(workflows.StateCompleted, "", "delete the volumes")
		var got []store.Volume
		if err := r.env.GetWorkflowResult(&got); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("result = %v, %v; want %v", got, err, want)
		}
	})

	t.Run("a permanent error fails it", func(t *testing.T) {
		r := newRun(t)
		r.fails("CleanupVolumes", errConflict)
		r.env.ExecuteWorkflow(workflows.CleanupVolumes, "e1")
		r.ends(workflows.StateFailed, "delete the volumes: pod CIDR overlaps")
	})
}

func TestUpgradeEnabler(t *testing.T) {
	const (
		read     = "read the deployed revision"
		upgrade  = "upgrade the release"
		rollback = "roll back to the previous revision"
		remirror = "mirror the global services of the restored revision"
	)

	t.Run("upgrades, waits, mirrors, enables", func(t *testing.T) {
		r := newRun(t)
		r.env.ExecuteWorkflow(workflows.UpgradeEnabler, "e1")
		r.ends(workflows.StateCompleted, "",
			read, upgrade, "wait until the release is ready", "mirror the global services", "mark the enabler Enabled")
		r.lastCall("SetEnablerStatus", "e1", store.StatusEnabled, "")
	})

	t.Run("a failed upgrade rolls back to the revision read, then mirrors it; the enabler stays Enabled", func(t *testing.T) {
		r := newRun(t)
		r.returns("CurrentRevision", 3)
		r.fails("Upgrade", errConflict)
		r.env.ExecuteWorkflow(workflows.UpgradeEnabler, "e1")
		r.ends(workflows.StateFailed, upgrade, read, rollback, remirror, "record the error")
		if got := r.callsOf("RevertUpgrade"); len(got) != 1 || !reflect.DeepEqual(got[0], []any{"e1", 3}) {
			t.Errorf("RevertUpgrade calls = %v, want one to revision 3", got)
		}
		r.lastCall("SetEnablerStatus", "e1", store.StatusEnabled, "upgrade failed and was rolled back: upgrade the release: pod CIDR overlaps")
	})

	t.Run("a rollback that keeps failing waits for the operator; abort skips it and leaves Error", func(t *testing.T) {
		r := newRun(t)
		r.fails("Upgrade", errConflict)
		r.fails("RevertUpgrade", errUnreachable)
		r.onceWaiting(rollback, r.abort)
		r.env.ExecuteWorkflow(workflows.UpgradeEnabler, "e1")
		r.ends(workflows.StateFailed, upgrade, read, remirror, "record the error")
		r.lastCall("SetEnablerStatus", "e1", store.StatusError, "upgrade failed and was rolled back: upgrade the release: pod CIDR overlaps")
	})
}

func TestRollbackEnabler(t *testing.T) {
	steps := []string{"roll back the release", "wait until the release is ready", "mirror the global services", "mark the enabler Enabled"}

	t.Run("rolls back to the revision asked", func(t *testing.T) {
		r := newRun(t)
		r.env.ExecuteWorkflow(workflows.RollbackEnabler, "e1", 2)
		r.ends(workflows.StateCompleted, "", steps...)
		if got := r.callsOf("Rollback"); len(got) != 1 || !reflect.DeepEqual(got[0], []any{"e1", 2}) {
			t.Errorf("Rollback calls = %v, want one to revision 2", got)
		}
	})

	t.Run("retry after a failed wait goes on from that step", func(t *testing.T) {
		r := newRun(t)
		r.fails("WaitReady", errUnreachable)
		r.onceWaiting("wait until the release is ready", func() {
			r.fails("WaitReady", nil)
			r.retry()
		})
		r.env.ExecuteWorkflow(workflows.RollbackEnabler, "e1", 0)
		r.ends(workflows.StateCompleted, "", steps...)
		if n := len(r.callsOf("Rollback")); n != 1 {
			t.Errorf("Rollback ran %d times, want once: a retry runs only the step that failed", n)
		}
	})

	t.Run("a permanent error records the error", func(t *testing.T) {
		r := newRun(t)
		r.fails("Rollback", errConflict)
		r.env.ExecuteWorkflow(workflows.RollbackEnabler, "e1", 0)
		r.ends(workflows.StateFailed, "roll back the release", "record the error")
		r.lastCall("SetEnablerStatus", "e1", store.StatusError, "rollback failed: roll back the release: pod CIDR overlaps")
	})
}
