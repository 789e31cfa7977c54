package scheduler

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"
)

// trafficProblem says why t cannot rank a cluster, or "".
func trafficProblem(t *Traffic, now time.Time, maxAge time.Duration) string {
	switch {
	case t == nil:
		return "no traffic figure gathered"
	case t.Error != "":
		return t.Error
	case maxAge > 0 && t.At.IsZero():
		return "traffic figure has no timestamp"
	case maxAge > 0 && now.Sub(t.At) > maxAge:
		return fmt.Sprintf("Prometheus data is stale (at %s, older than %s)", t.At.UTC().Format(time.RFC3339), maxAge)
	}
	return ""
}

// sanitized copies t, turning a figure JSON cannot carry into an error.
func sanitized(t *Traffic) *Traffic {
	if t == nil {
		return nil
	}
	c := *t
	if math.IsNaN(c.BytesPerSecond) || math.IsInf(c.BytesPerSecond, 0) {
		c.BytesPerSecond, c.Error = 0, cmp.Or(c.Error, "traffic figure is not a number")
	}
	return &c
}

// trafficFallback returns why traffic-most cannot rank the pool (the
// feasible clusters competing for the choice), or "".
func trafficFallback(pool []*evaluation, now time.Time, maxAge time.Duration) string {
	var problems []string
	for _, e := range pool {
		if p := trafficProblem(e.Traffic, now, maxAge); p != "" {
			problems = append(problems, e.Cluster+": "+p)
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return "traffic-most → worst-fit because traffic is unusable for " + strings.Join(problems, "; ")
}

// score is the third stage: higher wins.
func score(e *evaluation, applied Policy) float64 {
	switch applied {
	case BestFit:
		return float64(-e.headroom)
	case TrafficMost:
		if e.onForecast {
			return *e.Forecast.Traffic
		}
		if e.Traffic == nil || e.Traffic.Error != "" {
			return 0
		}
		return e.Traffic.BytesPerSecond
	default:
		return float64(e.headroom)
	}
}

// scoreReason explains a feasible candidate's score.
func scoreReason(e *evaluation, applied Policy) string {
	switch applied {
	case BestFit:
		return fmt.Sprintf("score %g: minus the headroom (best-fit)", e.Score)
	case TrafficMost:
		if e.onForecast {
			return fmt.Sprintf("score %g: forecast bytes received per second (traffic-most)", e.Score)
		}
		return fmt.Sprintf("score %g: bytes received per second (traffic-most)", e.Score)
	default:
		return fmt.Sprintf("score %g: the headroom (worst-fit)", e.Score)
	}
}

// compare orders candidates: feasible first, edge before cloud, higher
// score, more free cpu, more free memory; then by name and id.
func compare(a, b *evaluation) int {
	if a.Feasible != b.Feasible {
		return boolFirst(a.Feasible)
	}
	if a.Feasible {
		if a.Cloud != b.Cloud {
			return boolFirst(!a.Cloud)
		}
		if c := cmp.Or(
			-cmp.Compare(a.Score, b.Score),
			-cmp.Compare(a.Free.MilliCPU, b.Free.MilliCPU),
			-cmp.Compare(a.Free.Memory, b.Free.Memory),
		); c != 0 {
			return c
		}
	}
	return cmp.Or(strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.ClusterID, b.ClusterID))
}

func boolFirst(first bool) int {
	if first {
		return -1
	}
	return 1
}
