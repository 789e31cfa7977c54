// Package worker wires the Temporal worker: it registers the workflows and
// the activities with their dependencies on the orchestrator's task queue.
package worker

import (
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// Options are what the activities need.
type Options struct {
	TaskQueue string
	Store     *store.Store
	// MetricsDir is the file_sd directory of the central Prometheus.
	MetricsDir string
	// Prometheus is the central Prometheus URL; empty means none.
	Prometheus string
	// CacheDir holds downloaded charts.
	CacheDir string
}

// New returns a worker with every workflow and activity registered.
func New(c client.Client, opts Options) worker.Worker {
	w := worker.New(c, opts.TaskQueue, worker.Options{})
	w.RegisterWorkflow(workflows.JoinCluster)
	w.RegisterWorkflow(workflows.RemoveCluster)
	w.RegisterActivity(&activities.Clusters{Store: opts.Store, MetricsDir: opts.MetricsDir})
	return w
}
