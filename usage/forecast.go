package usage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// Horizon bounds: a forecast window shorter than a few scrapes says
// nothing, and one day is as far as "the same window a day earlier" reaches.
const (
	MinHorizon     = 5 * time.Minute
	MaxHorizon     = 24 * time.Hour
	DefaultHorizon = time.Hour
)

// forecastStep is the resolution of the forecast subqueries.
const forecastStep = time.Minute

// Forecast is a cluster's load now and expected over a horizon. A figure is
// nil when Prometheus has no series for it (for the forecasts: no samples
// in the window a day earlier).
type Forecast struct {
	Traffic    *float64 // mean bytes per second received over the horizon
	CPU        *float64 // cores in use now
	Memory     *float64 // bytes in use now
	PeakCPU    *float64 // cores in use at the horizon's 95th percentile
	PeakMemory *float64 // bytes in use at the horizon's 95th percentile
}

// Forecast reads the cluster's load from Prometheus: in use now, and
// forecast over the next horizon as what happened in the same window one
// day earlier, [now−24h, now−24h+horizon]:
//
//	traffic:      avg_over_time(sum(instance:node_network_receive_bytes_excluding_lo:rate5m{cluster_name="<c>"})[<h>:1m] offset <24h−h>)
//	CPU (cores):  quantile_over_time(0.95, sum(instance:node_cpu_utilisation:rate5m{…} * instance:node_num_cpu:sum{…})[<h>:1m] offset <24h−h>)
//	memory:       quantile_over_time(0.95, sum(node_memory_MemTotal_bytes{…} − node_memory_MemAvailable_bytes{…})[<h>:1m] offset <24h−h>)
//
// The same-window-a-day-earlier forecast follows daily cycles, which is
// what a placement for the next hour must survive; predict_linear would
// extrapolate the recent trend and miss a peak still to come when now is a
// trough. Traffic ranks on the mean (what the enabler will serve), capacity
// on the 95th percentile (the peak it must survive, without one scrape's
// spike). The queries run in parallel; an error is returned only when
// Prometheus fails, never for missing history.
func (c Client) Forecast(ctx context.Context, cluster string, horizon time.Duration) (Forecast, error) {
	m, err := matcher(cluster)
	if err != nil {
		return Forecast{}, err
	}
	if horizon < MinHorizon || horizon > MaxHorizon {
		return Forecast{}, fmt.Errorf("forecast horizon %s is outside %s..%s", horizon, MinHorizon, MaxHorizon)
	}
	traffic := "sum(" + trafficRule + "{" + m + "})"
	cpu := "sum(instance:node_cpu_utilisation:rate5m{" + m + "} * instance:node_num_cpu:sum{" + m + "})"
	memory := `sum(node_memory_MemTotal_bytes{job="node-exporter",` + m + `} - node_memory_MemAvailable_bytes{job="node-exporter",` + m + "})"
	window := "[" + model.Duration(horizon).String() + ":" + model.Duration(forecastStep).String() + "]"
	if earlier := 24*time.Hour - horizon; earlier > 0 {
		window += " offset " + model.Duration(earlier).String()
	}

	var f Forecast
	queries := []struct {
		expr string
		into **float64
	}{
		{"avg_over_time(" + traffic + window + ")", &f.Traffic},
		{cpu, &f.CPU},
		{memory, &f.Memory},
		{"quantile_over_time(0.95, " + cpu + window + ")", &f.PeakCPU},
		{"quantile_over_time(0.95, " + memory + window + ")", &f.PeakMemory},
	}
	errs := make([]error, len(queries))
	var wg sync.WaitGroup
	for i, q := range queries {
		wg.Go(func() { *q.into, errs[i] = c.scalar(ctx, q.expr) })
	}
	wg.Wait()
	return f, errors.Join(errs...)
}

// scalar runs expr, which yields at most one series, and returns its value,
// or nil when there is none.
func (c Client) scalar(ctx context.Context, expr string) (*float64, error) {
	vec, err := c.query(ctx, expr)
	if err != nil || len(vec) == 0 {
		return nil, err
	}
	v := float64(vec[0].Value)
	return &v, nil
}
