package workflows_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/workflows"
)

// fakeActivities stands in for every activity of package activities, as a
// mock of the test environment: each call is recorded in order and answered
// as the test set it up (by default success and a zero result).
type fakeActivities struct {
	mu      sync.Mutex
	calls   []call
	results map[string]any
	errs    map[string]error
}

type call struct {
	activity string
	args     []any // without the context
}

// run is one workflow under test, on the mock clock of Temporal's test
// environment: timers and activity retries take no real time.
type run struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	*fakeActivities
	start time.Time
}

func newRun(t *testing.T) *run {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	workflows.Register(env)
	f := &fakeActivities{results: map[string]any{}, errs: map[string]error{}}
	for _, acts := range []any{&activities.Clusters{}, &activities.Enablers{}, &activities.Health{}} {
		env.RegisterActivity(acts)
		typ := reflect.TypeOf(acts)
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			matchers := make([]any, m.Type.NumIn()-1) // every argument, context included
			for j := range matchers {
				matchers[j] = mock.Anything
			}
			env.OnActivity(m.Name, matchers...).Return(f.answer(m))
		}
	}
	return &run{t: t, env: env, fakeActivities: f, start: env.Now()}
}

// answer is a function of the activity method m's signature (without the
// receiver) that records the call and answers from results and errs.
func (f *fakeActivities) answer(m reflect.Method) any {
	in := make([]reflect.Type, 0, m.Type.NumIn()-1)
	for i := 1; i < m.Type.NumIn(); i++ {
		in = append(in, m.Type.In(i))
	}
	out := make([]reflect.Type, 0, m.Type.NumOut())
	for i := range m.Type.NumOut() {
		out = append(out, m.Type.Out(i))
	}
	fn := reflect.FuncOf(in, out, m.Type.IsVariadic())
	return reflect.MakeFunc(fn, func(args []reflect.Value) []reflect.Value {
		c := call{activity: m.Name}
		for _, a := range args[1:] {
			c.args = append(c.args, a.Interface())
		}
		f.mu.Lock()
		f.calls = append(f.calls, c)
		result, err := f.results[m.Name], f.errs[m.Name]
		f.mu.Unlock()
		outs := make([]reflect.Value, len(out))
		for i, typ := range out[:len(out)-1] {
			outs[i] = reflect.Zero(typ)
			if result != nil {
				outs[i] = reflect.ValueOf(result)
			}
		}
		outs[len(out)-1] = reflect.Zero(out[len(out)-1])
		if err != nil {
			outs[len(out)-1] = reflect.ValueOf(&err).Elem()
		}
		return outs
	}).Interface()
}

// returns makes the activity answer result.
func (f *fakeActivities) returns(activity string, result any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[activity] = result
}

// fails makes the activity fail with err until it is told otherwise (nil:
// succeed again).
func (f *fakeActivities) fails(activity string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[activity] = err
}

// callsOf are the arguments of every call of the activity, in order.
func (f *fakeActivities) callsOf(activity string) [][]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var args [][]any
	for _, c := range f.calls {
		if c.activity == activity {
			args = append(args, c.args)
		}
	}
	return args
}

// A retryable error (a dead API server) and a permanent one (a conflict no
// retry can fix), as activities return them.
var (
	errUnreachable = errors.New("connection refused")
	errConflict    = temporal.NewNonRetryableApplicationError("pod CIDR overlaps", "Conflict", nil)
)

// onceWaiting runs decide once the workflow waits for the operator, after
// checking that it waits at step.
func (r *run) onceWaiting(step string, decide func()) {
	r.env.RegisterDelayedCallback(func() {
		st := r.status()
		if st.State != workflows.StateWaiting || st.Waiting == nil || st.Waiting.Step != step || st.LastError == "" {
			r.t.Errorf("status = %+v, want it waiting for the operator at %q with the error", st, step)
		}
		decide()
	}, time.Hour)
}

// retry sends the retry signal; abort the abort signal.
func (r *run) retry() { r.env.SignalWorkflow(workflows.SignalRetry, nil) }
func (r *run) abort() { r.env.SignalWorkflow(workflows.SignalAbort, nil) }

func (r *run) status() workflows.Status {
	r.t.Helper()
	v, err := r.env.QueryWorkflow(workflows.QueryStatus)
	if err != nil {
		r.t.Fatalf("query status: %v", err)
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		r.t.Fatal(err)
	}
	return st
}

// ends checks the workflow ended in state, with an error containing
// wantErr (none when empty), having done exactly the steps done, in order.
func (r *run) ends(state, wantErr string, done ...string) {
	r.t.Helper()
	if !r.env.IsWorkflowCompleted() {
		r.t.Fatal("the workflow did not complete")
	}
	err := r.env.GetWorkflowError()
	switch {
	case wantErr == "" && err != nil:
		r.t.Errorf("workflow error: %v", err)
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		r.t.Errorf("workflow error = %v, want one containing %q", err, wantErr)
	}
	st := r.status()
	if st.State != state {
		r.t.Errorf("state = %s, want %s", st.State, state)
	}
	if !slices.Equal(st.Done, done) {
		r.t.Errorf("steps done:\n%s\nwant:\n%s", lines(st.Done), lines(done))
	}
}

// lastCall checks the last activity called and its arguments.
func (r *run) lastCall(activity string, args ...any) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		r.t.Fatalf("no activity was called, want %s last", activity)
	}
	got := r.calls[len(r.calls)-1]
	if got.activity != activity || !reflect.DeepEqual(got.args, args) {
		r.t.Errorf("last call = %s%q, want %s%q", got.activity, got.args, activity, args)
	}
}

func lines(steps []string) string { return "  " + strings.Join(steps, "\n  ") }

// doneNothingBut checks that only the activity was called, retried for at
// least the given time (of the mock clock: the activities take none).
func (r *run) doneNothingBut(activity string, retried time.Duration) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c.activity != activity {
			r.t.Errorf("%s was called, want only %s", c.activity, activity)
		}
	}
	if now := r.env.Now().Sub(r.start); now < retried {
		r.t.Errorf("the workflow ended after %v, want it to wait at least %v", now, retried)
	}
}
