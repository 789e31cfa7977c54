package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/smartorch/smartorch/workflows"
)

// replayHistories replays the history of every workflow the test ran, and
// finished, against the current workflow code: any nondeterminism (a step
// that depends on map order, the clock, randomness) fails the test. With
// SMARTORCH_RECORD_HISTORIES=<dir> it also writes the histories there, to be
// committed under workflows/testdata so later changes are checked against them.
func (o *orchestrator) replayHistories(taskQueue string) {
	ctx := context.Background()
	resp, err := o.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("TaskQueue = '%s' AND ExecutionStatus != 'Running'", taskQueue),
	})
	if err != nil {
		o.t.Errorf("listing workflows to replay: %v", err)
		return
	}
	replayer := worker.NewWorkflowReplayer()
	workflows.Register(replayer)
	record := os.Getenv("SMARTORCH_RECORD_HISTORIES")
	for _, ex := range resp.GetExecutions() {
		history := &historypb.History{}
		iter := o.temporal.GetWorkflowHistory(ctx, ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			event, err := iter.Next()
			if err != nil {
				o.t.Errorf("history of %s: %v", ex.GetExecution().GetWorkflowId(), err)
				return
			}
			history.Events = append(history.Events, event)
		}
		if err := replayer.ReplayWorkflowHistory(nil, history); err != nil {
			o.t.Errorf("replaying %s (%s): %v", ex.GetExecution().GetWorkflowId(), ex.GetType().GetName(), err)
		}
		if record != "" {
			data, err := protojson.Marshal(history)
			if err == nil {
				name := fmt.Sprintf("%s-%s-%s.json", ex.GetType().GetName(), strings.TrimPrefix(taskQueue, "e2e-"), ex.GetExecution().GetWorkflowId()[len(ex.GetExecution().GetWorkflowId())-8:])
				err = os.WriteFile(filepath.Join(record, name), data, 0o644)
			}
			if err != nil {
				o.t.Errorf("recording %s: %v", ex.GetExecution().GetWorkflowId(), err)
			}
		}
	}
}
