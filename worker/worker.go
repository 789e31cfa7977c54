// Package worker wires the Temporal worker: it registers the workflows and
// the activities with their dependencies on the orchestrator's task queue.
package worker

import (
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/smartorch/smartorch/activities"
	"github.com/smartorch/smartorch/placement"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/workflows"
)

// Options are what the activities need.
type Options struct {
	TaskQueue string
	Store     *store.Store
	// MetricsDir is the file_sd directory of the central Prometheus.
	MetricsDir string
	// Planner places enablers.
	Planner *placement.Planner
	// Health are the cluster health timings; zero fields take the defaults.
	Health activities.HealthSettings
	Logger *slog.Logger
}

// New returns a worker with every workflow and activity registered.
// Activity names are the method names, so they are unique across the sets.
func New(c client.Client, opts Options) worker.Worker {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	w := worker.New(c, opts.TaskQueue, worker.Options{})
	workflows.Register(w)
	w.RegisterActivity(&activities.Clusters{Store: opts.Store, MetricsDir: opts.MetricsDir})
	w.RegisterActivity(&activities.Enablers{Store: opts.Store, Planner: opts.Planner, Logger: logger})
	w.RegisterActivity(&activities.Health{Store: opts.Store, Temporal: c, TaskQueue: opts.TaskQueue, Settings: healthSettings(opts.Health), Logger: logger})
	return w
}

func healthSettings(s activities.HealthSettings) activities.HealthSettings {
	d := activities.DefaultHealthSettings
	if s.Interval > 0 {
		d.Interval = s.Interval
	}
	if s.UnreachableAfter > 0 {
		d.UnreachableAfter = s.UnreachableAfter
	}
	if s.Grace > 0 {
		d.Grace = s.Grace
	}
	return d
}
