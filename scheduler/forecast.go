package scheduler

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Forecast is a cluster's load from its Prometheus history: in use now and
// expected over the placement's horizon. A figure is nil when there is no
// history for it, and Error says why; the policies then use live values.
type Forecast struct {
	// Traffic is the mean receive rate, in bytes per second, expected over
	// the horizon.
	Traffic *float64 `json:"trafficBytesPerSecond,omitempty"`
	// LiveUsed is the CPU and memory in use now (all nodes).
	LiveUsed *Resources `json:"liveUsed,omitempty"`
	// PeakUsed is the CPU and memory in use at the expected peak over the
	// horizon (all nodes).
	PeakUsed *Resources `json:"peakUsed,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// ForecastMethod says how the caller forecasts, for the decision record.
const ForecastMethod = "from the same window one day earlier in Prometheus: traffic is its mean, CPU and memory in use its 95th percentile"

// sanitizedForecast copies f, dropping a figure JSON cannot carry.
func sanitizedForecast(f *Forecast) *Forecast {
	if f == nil {
		return nil
	}
	c := *f
	if c.Traffic != nil && (math.IsNaN(*c.Traffic) || math.IsInf(*c.Traffic, 0)) {
		c.Traffic = nil
		c.Error = strings.TrimPrefix(c.Error+"; forecast traffic is not a number", "; ")
	}
	return &c
}

// forecastProblem says why f has no figure for the policy, or "".
func forecastProblem(f *Forecast, traffic bool) string {
	switch {
	case f == nil:
		return "no forecast gathered"
	case traffic && f.Traffic != nil, !traffic && f.PeakUsed != nil:
		return ""
	case f.Error != "":
		return f.Error
	case traffic:
		return "no traffic history"
	default:
		return "no CPU and memory history"
	}
}

// rankOnForecast decides whether traffic-most ranks the pool (the feasible
// clusters competing for the choice) on forecast traffic: only when every
// one of them has it, so that no cluster is ranked on a different kind of
// figure. It marks them and returns the decision's forecast note.
func rankOnForecast(pool []*evaluation, req Request) (note string, ranked bool) {
	var problems []string
	for _, e := range pool {
		if p := forecastProblem(e.Forecast, true); p != "" {
			problems = append(problems, e.Cluster+": "+p)
		}
	}
	if len(pool) == 0 || len(problems) > 0 {
		return "traffic-most fell back to live traffic: no forecast for " + strings.Join(problems, "; "), false
	}
	for _, e := range pool {
		e.onForecast = true
	}
	return fmt.Sprintf("traffic-most ranked on forecast traffic over the next %s (%s)", shortDuration(req.Horizon), ForecastMethod), true
}

// vetoPeak is the forecast veto of best-fit and worst-fit: a cluster whose
// free capacity at its forecast peak would not hold what the simulation
// placed on it is no candidate. Free at the peak is the schedulable nodes'
// allocatable minus the peak in use (on all nodes) minus the capacity held
// for placements in flight, which is not in use yet. It returns the
// cluster's fallback, or "", for the decision's note.
func vetoPeak(e *evaluation, c Cluster, req Request) (fallback string) {
	if !e.Feasible {
		return ""
	}
	if p := forecastProblem(e.Forecast, false); p != "" {
		e.Reason += "; no forecast peak (" + p + "): checked on live values only"
		return e.Cluster + ": " + p
	}
	var placed, reserved Resources
	for _, n := range e.nodes {
		placed = placed.Add(n.placed)
	}
	for _, n := range c.Nodes {
		if n.Schedulable {
			reserved = reserved.Add(n.Reserved)
		}
	}
	peak := *e.Forecast.PeakUsed
	free := e.Allocatable.Sub(peak).Sub(reserved).floor()
	if placed.Fits(free) {
		e.Reason += fmt.Sprintf("; forecast peak over the next %s: %s in use, leaving %s free, enough for the %s placed", shortDuration(req.Horizon), peak, free, placed)
		return ""
	}
	e.Feasible, e.ExcludedBy, e.nodes = false, RuleForecastPeak, nil
	e.Reason = fmt.Sprintf("vetoed by forecastPeak (%s): at its forecast peak over the next %s the cluster uses %s of %s, leaving %s free, less than the %s the enabler needs (it fits now: %s)",
		req.Policy, shortDuration(req.Horizon), peak, e.Allocatable, free, placed, e.Reason)
	return ""
}

// peakNote is the decision's forecast note for best-fit and worst-fit.
func peakNote(evals []*evaluation, fallbacks []string, req Request) string {
	var vetoed []string
	for _, e := range evals {
		if e.ExcludedBy == RuleForecastPeak {
			vetoed = append(vetoed, e.Cluster)
		}
	}
	slices.Sort(vetoed)
	slices.Sort(fallbacks)
	s := fmt.Sprintf("%s checked that each cluster's forecast peak over the next %s would hold the enabler (%s): ", req.Policy, shortDuration(req.Horizon), ForecastMethod)
	if len(vetoed) == 0 {
		s += "none vetoed"
	} else {
		s += "vetoed " + strings.Join(vetoed, ", ")
	}
	if len(fallbacks) > 0 {
		s += "; fell back to live values for " + strings.Join(fallbacks, "; ")
	}
	return s
}

// forecasting reports whether the caller gathered forecasts to use.
func (req Request) forecasting() bool { return !req.LiveOnly && req.Horizon > 0 }

// forecastNote is the decision's horizon and forecast note before the
// policy ranks (traffic-most adds its own).
func forecastNote(req Request, peak bool, evals []*evaluation, noPeak []string) (horizon, note string) {
	if req.LiveOnly {
		return "", "off: the request asked for live values only (forecast: false)"
	}
	if !req.forecasting() {
		return "", ""
	}
	if peak {
		note = peakNote(evals, noPeak, req)
	}
	return shortDuration(req.Horizon), note
}

// shortDuration prints 1h rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
