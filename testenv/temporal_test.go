package testenv_test

import (
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/smartorch/smartorch/testenv"
)

// A persistent Temporal killed and started again still has its workflows,
// at the same address.
func TestTemporalKillStart(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Temporal: true, TemporalPersistent: true})
	tc := env.Temporal
	c, err := client.Dial(client.Options{HostPort: tc.Address, Namespace: tc.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// No worker runs this type: the workflow stays open.
	run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{ID: "survivor", TaskQueue: "nobody"}, "Unregistered")
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := tc.Kill(); err == nil {
		t.Error("killing a dead server: no error")
	}
	if err := tc.Start(); err != nil {
		t.Fatal(err)
	}
	desc, err := c.DescribeWorkflowExecution(t.Context(), "survivor", run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	if s := desc.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("after the restart the workflow is %v, want running", s)
	}
}
