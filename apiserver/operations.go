package apiserver

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/smartorch/smartorch/workflows"
)

// operationView is an operation as GET /api/operations/:id shows it: the
// workflow's own account (query "status") joined with Temporal's (its
// execution status and the pending activity's retry attempts).
type operationView struct {
	ID    string   `json:"id"`
	Type  string   `json:"type"`
	State string   `json:"state"`
	Step  string   `json:"step,omitempty"`
	Done  []string `json:"done"`
	// Attempts is the current activity attempt of the step (Temporal's retries).
	Attempts int32 `json:"attempts"`
	// OperatorRetries counts the retries an operator asked for on this step.
	OperatorRetries int                 `json:"operatorRetries"`
	LastError       string              `json:"lastError,omitempty"`
	Waiting         *workflows.WaitInfo `json:"waiting,omitempty"`
	Started         time.Time           `json:"started"`
	Ended           *time.Time          `json:"ended,omitempty"`
	TemporalURL     string              `json:"temporalUrl,omitempty"`
}

func (s *server) getOperation(c *fiber.Ctx) error {
	ctx, cancel := requestContext(c)
	defer cancel()
	op, err := s.operation(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(op)
}

func (s *server) operation(ctx context.Context, id string) (*operationView, error) {
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil, apiError(fiber.StatusNotFound, "operation %q not found", id)
	}
	if err != nil {
		return nil, apiError(fiber.StatusServiceUnavailable, "temporal: %v", err)
	}
	info := desc.GetWorkflowExecutionInfo()
	op := &operationView{ID: id, Type: info.GetType().GetName(), Started: info.GetStartTime().AsTime(), Done: []string{}}
	if s.TemporalUI != "" {
		op.TemporalURL = s.TemporalUI + "/workflows/" + url.PathEscape(id) + "/" + url.PathEscape(info.GetExecution().GetRunId()) + "/history"
	}
	if info.GetCloseTime() != nil {
		t := info.GetCloseTime().AsTime()
		op.Ended = &t
	}
	var status workflows.Status
	if v, err := s.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryStatus); err == nil && v.Get(&status) == nil {
		op.State, op.Step, op.Done, op.LastError, op.Waiting = status.State, status.Step, status.Done, status.LastError, status.Waiting
		op.OperatorRetries = max(status.Attempt-1, 0)
	}
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		if op.State == "" {
			op.State = workflows.StateRunning
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		op.State = workflows.StateCompleted
	default:
		// Failed, terminated, timed out or cancelled.
		op.State = workflows.StateFailed
	}
	for _, a := range desc.GetPendingActivities() {
		op.Attempts = a.GetAttempt()
		if f := a.GetLastFailure(); f != nil {
			op.LastError = f.GetMessage()
		}
	}
	return op, nil
}

// signalOperation sends the operator's decision to an operation waiting for one.
func (s *server) signalOperation(signal string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := requestContext(c)
		defer cancel()
		id := c.Params("id")
		op, err := s.operation(ctx, id)
		if err != nil {
			return err
		}
		if op.State != workflows.StateWaiting {
			return apiError(fiber.StatusConflict, "operation %s is %s, not waiting for an operator", id, op.State)
		}
		if err := s.Temporal.SignalWorkflow(ctx, id, "", signal, nil); err != nil {
			return apiError(fiber.StatusServiceUnavailable, "temporal: %v", err)
		}
		s.Logger.Info("operator decision", "requestId", requestID(c), "operation", id, "signal", signal, "user", c.Locals(userKey))
		return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"operationId": id, "signal": signal})
	}
}

// wait blocks until the operation ends or the wait (at most 10 minutes) is over.
func (s *server) wait(c *fiber.Ctx, id, wait string) error {
	d, err := time.ParseDuration(wait)
	if err != nil || d <= 0 || d > 10*time.Minute {
		return apiError(fiber.StatusBadRequest, "wait must be a duration such as 30s or 2m, at most 10m")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), d)
	defer cancel()
	// The outcome is read from the resource; a failed operation is not an error of this request.
	_ = s.Temporal.GetWorkflow(ctx, id, "").Get(ctx, nil)
	return nil
}
