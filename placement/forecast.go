package placement

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/usage"
)

// forecastTimeout caps the forecast queries of one cluster: a slow
// Prometheus costs the forecast (the placement falls back to live values),
// never the placement.
const forecastTimeout = 3 * time.Second

// horizon is how far ahead the placement's forecasts look; 0 when none are
// gathered: live values asked for, or a manual placement.
func (s Spec) horizon() time.Duration {
	switch {
	case s.LiveOnly || s.Target != "":
		return 0
	case s.Horizon == 0:
		return usage.DefaultHorizon
	}
	return s.Horizon
}

// startForecast reads the cluster's forecast in the background; the
// returned function waits for it.
func (p *Planner) startForecast(ctx context.Context, c *store.Cluster, horizon time.Duration) func() *scheduler.Forecast {
	done := make(chan *scheduler.Forecast, 1)
	go func() { done <- p.forecast(ctx, c, horizon) }()
	return func() *scheduler.Forecast { return <-done }
}

func (p *Planner) forecast(ctx context.Context, c *store.Cluster, horizon time.Duration) *scheduler.Forecast {
	ctx, cancel := context.WithTimeout(ctx, forecastTimeout)
	defer cancel()
	f, err := usage.Client{URL: c.Prometheus(p.Prometheus), Timeout: forecastTimeout}.Forecast(ctx, c.Name, horizon)
	switch {
	case errors.Is(err, usage.ErrNoPrometheus):
		return &scheduler.Forecast{Error: "no Prometheus configured"}
	case errors.Is(err, context.DeadlineExceeded):
		return &scheduler.Forecast{Error: fmt.Sprintf("Prometheus did not answer the forecast queries within %s", forecastTimeout)}
	case err != nil:
		return &scheduler.Forecast{Error: err.Error()}
	}
	out := &scheduler.Forecast{Traffic: f.Traffic, LiveUsed: resources(f.CPU, f.Memory), PeakUsed: resources(f.PeakCPU, f.PeakMemory)}
	var missing []string
	if f.Traffic == nil {
		missing = append(missing, "traffic")
	}
	if out.PeakUsed == nil {
		missing = append(missing, "CPU and memory in use")
	}
	if len(missing) > 0 {
		out.Error = fmt.Sprintf("no history of %s for cluster_name=%s in the window one day earlier", strings.Join(missing, " or "), c.Name)
	}
	return out
}

// resources turns cores and bytes into Resources, or nil unless both are known.
func resources(cores, bytes *float64) *scheduler.Resources {
	if cores == nil || bytes == nil || !finite(*cores) || !finite(*bytes) {
		return nil
	}
	return &scheduler.Resources{MilliCPU: int64(math.Round(*cores * 1000)), Memory: int64(math.Round(*bytes))}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
