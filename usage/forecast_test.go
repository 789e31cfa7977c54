package usage

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/smartorch/smartorch/testenv"
)

// TestForecast backfills a day of history into a real Prometheus and reads
// the forecasts: the window one day earlier is what counts, its mean for
// traffic and its 95th percentile (one spike ignored) for CPU and memory.
func TestForecast(t *testing.T) {
	const gi = 1 << 30
	start := time.Now()
	windowFrom, windowTo := start.Add(-24*time.Hour), start.Add(-23*time.Hour)
	load := func(at time.Time) testenv.NodeLoad {
		l := testenv.NodeLoad{CPUs: 8, MemoryTotal: 16 * gi}
		if at.Before(windowFrom) || at.After(windowTo) {
			// Outside the coming hour's window a day earlier: busy and quiet.
			l.ReceiveBytesPerSecond, l.BusyCores, l.MemoryUsed = 100, 7, 15*gi
			return l
		}
		l.ReceiveBytesPerSecond, l.BusyCores, l.MemoryUsed = 5000, 2, 3*gi
		if at.Sub(windowFrom) > 30*time.Minute && at.Sub(windowFrom) <= 31*time.Minute {
			l.BusyCores = 8 // one scrape's spike
		}
		return l
	}
	history := testenv.NodeHistory("a", "a-1", start.Add(-26*time.Hour), start.Add(-21*time.Hour), time.Minute, load)
	env := testenv.Start(t, testenv.Options{Prometheus: true, History: history})
	prom := Client{URL: env.Prometheus.URL}
	ctx := context.Background()

	f, err := prom.Forecast(ctx, "a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got *float64, want, tolerance float64) {
		t.Helper()
		if got == nil || math.Abs(*got-want) > tolerance {
			t.Errorf("%s = %v, want %g ± %g", what, deref(got), want, tolerance)
		}
	}
	// A minute at either edge of the window may read the samples beside it.
	near("traffic", f.Traffic, 5000, 250)
	near("peak cpu", f.PeakCPU, 2, 0.01)
	near("peak memory", f.PeakMemory, 3*gi, 0.01*gi)
	if f.CPU != nil || f.Memory != nil {
		t.Errorf("live usage %v, %v: the history ended hours ago", deref(f.CPU), deref(f.Memory))
	}

	// Over the whole last day the busy hours count.
	day, err := prom.Forecast(ctx, "a", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	near("peak cpu over a day", day.PeakCPU, 7, 0.01)

	none, err := prom.Forecast(ctx, "b", time.Hour)
	if err != nil || none.Traffic != nil || none.PeakCPU != nil || none.PeakMemory != nil {
		t.Errorf("a cluster without history: %+v, %v; want no figures and no error", none, err)
	}
	if _, err := prom.Forecast(ctx, "a", time.Minute); err == nil || !strings.Contains(err.Error(), "horizon") {
		t.Errorf("a 1m horizon: %v, want an error naming the horizon", err)
	}
	if _, err := (Client{URL: "http://127.0.0.1:1"}).Forecast(ctx, "a", time.Hour); err == nil {
		t.Error("an unreachable Prometheus gave no error")
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
