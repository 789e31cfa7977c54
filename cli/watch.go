package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// operation is GET /api/operations/:id.
type operation struct {
	ID              string     `json:"id"`
	Type            string     `json:"type"`
	State           string     `json:"state"`
	Step            string     `json:"step,omitempty"`
	Done            []string   `json:"done"`
	Attempts        int        `json:"attempts"`
	OperatorRetries int        `json:"operatorRetries"`
	LastError       string     `json:"lastError,omitempty"`
	Waiting         *waitInfo  `json:"waiting,omitempty"`
	Started         time.Time  `json:"started"`
	Ended           *time.Time `json:"ended,omitempty"`
}

type waitInfo struct {
	Step  string    `json:"step"`
	Error string    `json:"error"`
	Since time.Time `json:"since"`
	Hint  string    `json:"hint"`
}

// Operation states (workflows.State*).
const (
	stateCompleted = "Completed"
	stateFailed    = "Failed"
	stateWaiting   = "WaitingForOperator"
)

func (o *operation) took() time.Duration {
	if o.Ended == nil {
		return time.Since(o.Started)
	}
	return o.Ended.Sub(o.Started)
}

// operationFailed: the operation ended in failure.
type operationFailed struct{ op *operation }

func (e *operationFailed) Error() string {
	reason := e.op.LastError
	if reason == "" {
		reason = "no reason recorded"
	}
	return fmt.Sprintf("operation %s failed: %s", e.op.ID, reason)
}

// operationWaiting: the operation waits for an operator to retry or abort.
type operationWaiting struct{ op *operation }

func (e *operationWaiting) Error() string {
	w := e.op.Waiting
	step, reason := e.op.Step, e.op.LastError
	if w != nil {
		step, reason = w.Step, w.Error
	}
	return fmt.Sprintf("operation %s waits for an operator: step %q used up its retries: %s\n"+
		"  Fix the cause, then run: smartorch op retry %s\n"+
		"  Or undo what it did:      smartorch op abort %s", e.op.ID, step, reason, e.op.ID, e.op.ID)
}

// progress prints an operation's steps as they complete.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	// printed counts the done steps already shown; lastAttempt the retry last shown.
	printed     int
	lastAttempt int
	lastStep    string
	spin        int
	line        bool // a progress line is on screen (tty)
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// update shows what op says that has not been shown yet.
func (p *progress) update(op *operation) {
	p.clear()
	for ; p.printed < len(op.Done); p.printed++ {
		fmt.Fprintf(p.w, "  ✓ %-48s %s\n", op.Done[p.printed], seconds(time.Since(p.start)))
	}
	if op.Step != p.lastStep {
		p.lastStep, p.lastAttempt = op.Step, 0
	}
	if op.Attempts > 1 && op.Attempts != p.lastAttempt && op.LastError != "" {
		p.lastAttempt = op.Attempts
		fmt.Fprintf(p.w, "    %s: attempt %d failed: %s\n", op.Step, op.Attempts-1, op.LastError)
	}
	if p.tty && op.Step != "" && op.Ended == nil {
		p.spin = (p.spin + 1) % len(spinner)
		fmt.Fprintf(p.w, "  %s %s  %s", spinner[p.spin], op.Step, seconds(time.Since(p.start)))
		p.line = true
	}
}

// clear removes the progress line.
func (p *progress) clear() {
	if p.line {
		fmt.Fprint(p.w, "\r\033[K")
		p.line = false
	}
}

// watch follows the operation until it ends and reports how: nil when it
// completed, *operationFailed, *operationWaiting, or errInterrupted when
// ctx ends first (the operation goes on).
func (a *app) watch(ctx context.Context, id string) (*operation, error) {
	api, err := a.api()
	if err != nil {
		return nil, err
	}
	w := a.progressWriter()
	p := &progress{w: w, tty: a.tty && w == a.out, start: time.Now()}
	var failingSince time.Time
	for {
		var op operation
		err := api.Do(ctx, "GET", path("/api/operations", id), nil, &op)
		switch {
		case ctx.Err() != nil:
			p.clear()
			fmt.Fprintf(a.err, "\nStopped waiting; operation %s goes on.\n  Watch it again with: smartorch op watch %s\n", id, id)
			return nil, errInterrupted
		case err != nil && (!transient(err) || !failingSince.IsZero() && time.Since(failingSince) > 30*time.Second):
			p.clear()
			return nil, err
		case err != nil:
			// The API may be restarting: keep trying for a while.
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
		default:
			failingSince = time.Time{}
			p.update(&op)
			switch op.State {
			case stateCompleted:
				p.clear()
				fmt.Fprintf(w, "%s completed in %s\n", op.Type, seconds(op.took()))
				return &op, nil
			case stateFailed:
				p.clear()
				fmt.Fprintf(w, "%s failed after %s\n", op.Type, seconds(op.took()))
				return &op, &operationFailed{&op}
			case stateWaiting:
				p.clear()
				return &op, &operationWaiting{&op}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(a.poll):
		}
	}
}

// transient: the API did not answer, or answered 5xx; a 4xx will not change.
func transient(err error) bool {
	var api *APIError
	return !errors.As(err, &api) || api.Code >= 500
}

// progressWriter is where steps go: stdout for tables, stderr when stdout
// carries JSON or YAML.
func (a *app) progressWriter() io.Writer {
	if a.format == formatTable {
		return a.out
	}
	return a.err
}

// started tells what --no-wait leaves running.
func (a *app) started(opID string, answer any) error {
	if a.format != formatTable {
		return encode(a.out, a.format, answer)
	}
	fmt.Fprintf(a.out, "operation %s started\n  Follow it with: smartorch op watch %s\n", opID, opID)
	return nil
}

// operate sends a request that starts an operation, then (unless
// --no-wait) follows it to its end and calls outcome to report the result.
func (a *app) operate(ctx context.Context, method, urlPath string, body any, outcome func(context.Context) error) error {
	api, err := a.api()
	if err != nil {
		return err
	}
	var raw map[string]any
	if err := api.Do(ctx, method, urlPath, body, &raw); err != nil {
		return err
	}
	opID, _ := raw["operationId"].(string)
	if opID == "" {
		return fmt.Errorf("%s %s answered no operation id", method, strings.SplitN(urlPath, "?", 2)[0])
	}
	if a.noWait {
		return a.started(opID, raw)
	}
	fmt.Fprintf(a.progressWriter(), "operation %s\n", opID)
	if _, err := a.watch(ctx, opID); err != nil {
		return err
	}
	return outcome(ctx)
}
