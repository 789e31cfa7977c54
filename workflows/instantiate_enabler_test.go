package workflows_test

import (
	"reflect"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

func TestInstantiateEnabler(t *testing.T) {
	const (
		demand  = "resolve the chart and compute its demand"
		place   = "place the enabler and record the decision"
		install = "install the release"
		wait    = "wait until the release is ready"
		release = "release the reserved capacity"
		mirror  = "mirror the global services"
		enable  = "enable the enabler"
		watch   = "watch the cluster's health if the enabler fails over"
	)

	t.Run("the record comes late: the workflow waits for it, then runs", func(t *testing.T) {
		r := newRun(t)
		r.fails("EnablerRecorded", store.ErrNotFound)
		r.env.RegisterDelayedCallback(func() { r.fails("EnablerRecorded", nil) }, 20*time.Second)
		r.env.ExecuteWorkflow(workflows.InstantiateEnabler, "e1")
		r.ends(workflows.StateCompleted, "", recorded, demand, place, install, wait, release, mirror, enable, watch)
		if n := len(r.callsOf("EnablerRecorded")); n < 2 {
			t.Errorf("EnablerRecorded ran %d times, want it retried until the record came", n)
		}
	})

	t.Run("never recorded: ends, having done nothing", func(t *testing.T) {
		r := newRun(t)
		r.fails("EnablerRecorded", store.ErrNotFound)
		r.env.ExecuteWorkflow(workflows.InstantiateEnabler, "e1")
		r.ends(workflows.StateCompleted, "")
		r.doneNothingBut("EnablerRecorded", 30*time.Second)
	})

	t.Run("started before the API recorded first: no wait", func(t *testing.T) {
		r := newRun(t)
		r.env.OnGetVersion("recorded-first", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		r.env.ExecuteWorkflow(workflows.InstantiateEnabler, "e1")
		r.ends(workflows.StateCompleted, "", demand, place, install, wait, release, mirror, enable, watch)
	})

	t.Run("places with the chart's demand, installs, waits, enables", func(t *testing.T) {
		r := newRun(t)
		want := scheduler.Demand{Workloads: []scheduler.Workload{{Kind: "Deployment", Name: "web", Replicas: 2}}}
		r.returns("Demand", want)
		r.env.ExecuteWorkflow(workflows.InstantiateEnabler, "e1")
		r.ends(workflows.StateCompleted, "", recorded, demand, place, install, wait, release, mirror, enable, watch)
		if got := r.callsOf("Place"); len(got) != 1 || !reflect.DeepEqual(got[0], []any{"e1", want}) {
			t.Errorf("Place calls = %v, want one with the demand %v", got, want)
		}
		if got := r.callsOf("SetEnablerStatus"); len(got) != 1 || !reflect.DeepEqual(got[0], []any{"e1", store.StatusEnabled, ""}) {
			t.Errorf("SetEnablerStatus calls = %v, want one setting Enabled", got)
		}
	})

	t.Run("nothing fits: the reservation is released and the error recorded", func(t *testing.T) {
		r := newRun(t)
		r.fails("Place", temporal.NewNonRetryableApplicationError("no cluster fits", "Conflict", nil))
		r.env.ExecuteWorkflow(workflows.InstantiateEnabler, "e1")
		r.ends(workflows.StateFailed, "no cluster fits", recorded, demand, release, "record the error")
		r.lastCall("SetEnablerStatus", "e1", store.StatusError, place+": no cluster fits")
	})

	t.Run("a failed install is uninstalled, then the reservation released", func(t *testing.T) {
		r := newRun(t)
		r.fails("Install", errConflict)
		r.env.ExecuteWorkflow(workflows.InstantiateEnabler, "e1")
		r.ends(workflows.StateFailed, install, recorded, demand, place, "uninstall the release", release, "record the error")
	})

	t.Run("not ready in time waits for the operator at once; abort undoes all", func(t *testing.T) {
		r := newRun(t)
		r.fails("WaitReady", temporal.NewApplicationError("not ready within 5m0s", activities.ErrorNotReady))
		r.onceWaiting(wait, r.abort)
		r.env.ExecuteWorkflow(workflows.InstantiateEnabler, "e1")
		r.ends(workflows.StateFailed, "aborted by the operator", recorded, demand, place, install, "uninstall the release", release, "record the error")
		if n := len(r.callsOf("WaitReady")); n != 1 {
			t.Errorf("WaitReady ran %d times, want once: waiting again would not help", n)
		}
	})

	t.Run("failed mirrors are removed before the release is uninstalled", func(t *testing.T) {
		r := newRun(t)
		r.fails("SyncGlobalServices", errConflict)
		r.env.ExecuteWorkflow(workflows.InstantiateEnabler, "e1")
		r.ends(workflows.StateFailed, mirror, recorded, demand, place, install, wait, release,
			"remove the global service mirrors", "uninstall the release", release, "record the error")
	})
}
