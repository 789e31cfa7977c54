// Package workflows holds the orchestrator's Temporal workflows. Each reads
// as its list of steps; the side effects live in package activities.
//
// Every workflow runs its steps through an operation, which gives it the
// behaviour operators rely on:
//   - the current step and state are readable with the query "status";
//   - a step whose activity exhausts its retries does not fail the
//     workflow: it waits for the signal "retry" (run the step again) or
//     "abort" (give up: compensate and end in error);
//   - a step that fails permanently (a non-retryable error) compensates at once;
//   - compensations run in reverse order of the steps that registered them.
package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Query and signal names, used by the API and by `temporal workflow signal`.
const (
	QueryStatus = "status"
	SignalRetry = "retry"
	SignalAbort = "abort"
)

// Operation states.
const (
	StateRunning      = "Running"
	StateWaiting      = "WaitingForOperator"
	StateCompensating = "Compensating"
	StateCompleted    = "Completed"
	StateFailed       = "Failed"
)

// Status is what the "status" query answers.
type Status struct {
	State string `json:"state"`
	Step  string `json:"step"`
	// Attempt counts how many times the current step was started by the
	// workflow (operator retries); activity retries within one are in the
	// pending activity of the workflow's description.
	Attempt   int       `json:"attempt"`
	LastError string    `json:"lastError,omitempty"`
	Waiting   *WaitInfo `json:"waiting,omitempty"`
	Done      []string  `json:"done"`
}

// WaitInfo tells an operator what the workflow waits for.
type WaitInfo struct {
	Step  string    `json:"step"`
	Error string    `json:"error"`
	Since time.Time `json:"since"`
	Hint  string    `json:"hint"`
}

// ErrAborted is returned when an operator aborted the operation.
var ErrAborted = errors.New("aborted by the operator")

type operation struct {
	ctx          workflow.Context
	status       Status
	compensation []step
	signals      workflow.ReceiveChannel
	abort        workflow.ReceiveChannel
}

type step struct {
	name string
	opts workflow.ActivityOptions
	fn   any
	args []any
	// retryEvery, when set, retries a step waiting for the operator by
	// itself after that long (what it waits for may come on its own).
	retryEvery time.Duration
}

func newOperation(ctx workflow.Context) (*operation, error) {
	op := &operation{
		ctx:     ctx,
		status:  Status{State: StateRunning, Done: []string{}},
		signals: workflow.GetSignalChannel(ctx, SignalRetry),
		abort:   workflow.GetSignalChannel(ctx, SignalAbort),
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) { return op.status, nil }); err != nil {
		return nil, err
	}
	return op, nil
}

// do runs one step: an activity with its options. When its retries are
// exhausted it waits for the operator; result receives the activity's result.
func (op *operation) do(name string, opts workflow.ActivityOptions, result any, fn any, args ...any) error {
	return op.run(op.ctx, step{name: name, opts: opts, fn: fn, args: args}, result)
}

// doRetrying is do for a step that, once its retries are used up, is also
// tried again every so often without the operator.
func (op *operation) doRetrying(name string, every time.Duration, opts workflow.ActivityOptions, result any, fn any, args ...any) error {
	return op.run(op.ctx, step{name: name, opts: opts, fn: fn, args: args, retryEvery: every}, result)
}

// since reports whether this run takes the steps added by change: runs
// that started before the change replay their recorded history unchanged.
func (op *operation) since(change string) bool {
	return workflow.GetVersion(op.ctx, change, workflow.DefaultVersion, 1) == 1
}

// Changes to workflow steps, for since.
const (
	// Global services are mirrored, and their mirrors removed, by the
	// workflows that change enablers and clusters.
	changeGlobalServices = "global-services"
	// An instantiated enabler with failover enabled has its cluster's
	// health watched.
	changeClusterHealth = "cluster-health"
	// The API starts a new resource's workflow before it records the
	// request, and the workflow waits for the record.
	changeRecordedFirst = "recorded-first"
)

// recorded is the first step of a workflow the API starts before it
// records the request (so no record is ever left without its workflow):
// it waits for the record, and reports false if it never came, the API
// having failed or stopped before writing it. The workflow then ends
// having done nothing: there is nothing to undo, and no record to tell.
func (op *operation) recorded(name string, fn any, id string) bool {
	op.status.Step = name
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(op.ctx, recordWait), fn, id).Get(op.ctx, nil)
	if err != nil {
		workflow.GetLogger(op.ctx).Info("the request was never recorded: nothing to do", "id", id, "err", err)
		op.status.LastError = "the request was never recorded: " + message(err)
		return false
	}
	op.status.Done = append(op.status.Done, name)
	return true
}

// undo registers a compensation to run if the operation later fails.
// Workflows register it before the step it undoes, not after: a step that
// fails (or whose worker dies before reporting) may have done part of its
// work, and only an undo registered before it cleans that up. So every undo
// is idempotent and does nothing where there is nothing to undo.
func (op *operation) undo(name string, opts workflow.ActivityOptions, fn any, args ...any) {
	op.compensation = append(op.compensation, step{name: name, opts: opts, fn: fn, args: args})
}

func (op *operation) run(ctx workflow.Context, s step, result any) error {
	op.status.Step, op.status.Attempt = s.name, 0
	for {
		op.status.Attempt++
		err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, s.opts), s.fn, s.args...).Get(ctx, result)
		if err == nil {
			op.status.Done = append(op.status.Done, s.name)
			op.status.LastError = ""
			return nil
		}
		op.status.LastError = message(err)
		if permanent(err) {
			return fmt.Errorf("%s: %s", s.name, message(err))
		}
		if !op.waitForOperator(ctx, s, err) {
			return fmt.Errorf("%s: %w after: %s", s.name, ErrAborted, message(err))
		}
	}
}

// waitForOperator blocks until a retry (true) or abort (false) signal, or
// until the step's retryEvery has passed (true).
func (op *operation) waitForOperator(ctx workflow.Context, s step, err error) bool {
	stepName := s.name
	prev := op.status.State
	op.status.State = StateWaiting
	op.status.Waiting = &WaitInfo{
		Step:  stepName,
		Error: message(err),
		Since: workflow.Now(ctx),
		Hint:  "fix the cause, then POST /api/operations/<id>/retry (or temporal workflow signal --name retry); POST …/abort undoes what was done",
	}
	defer func() { op.status.State, op.status.Waiting = prev, nil }()
	retry := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(op.signals, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); retry = true })
	sel.AddReceive(op.abort, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	if s.retryEvery > 0 {
		timerCtx, cancel := workflow.WithCancel(ctx)
		defer cancel()
		sel.AddFuture(workflow.NewTimer(timerCtx, s.retryEvery), func(workflow.Future) { retry = true })
	}
	sel.Select(ctx)
	workflow.GetLogger(ctx).Info("operator decision", "step", stepName, "retry", retry)
	return retry
}

// compensate undoes the registered steps, newest first, and reports
// whether all of them were undone. It runs on a disconnected context so a
// cancelled workflow still cleans up. A compensation that keeps failing
// waits for the operator like any step; abort skips it.
func (op *operation) compensate() bool {
	op.status.State = StateCompensating
	ctx, _ := workflow.NewDisconnectedContext(op.ctx)
	undone := true
	for i := len(op.compensation) - 1; i >= 0; i-- {
		s := op.compensation[i]
		if err := op.run(ctx, s, nil); err != nil {
			workflow.GetLogger(ctx).Error("compensation step skipped", "step", s.name, "err", err)
			undone = false
		}
	}
	op.compensation = nil
	return undone
}

// finish records the outcome.
func (op *operation) finish(err error) {
	if err != nil {
		op.status.State = StateFailed
		op.status.LastError = err.Error()
		return
	}
	op.status.State = StateCompleted
	op.status.Step = ""
}

func permanent(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable()
}

// message is what the activity said, without Temporal's wrapping
// ("activity error (type: …)"): the message of the outermost application
// error, which is the activity's whole error text (its wrapped causes
// follow as nested application errors and would only repeat parts of it).
func message(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}
