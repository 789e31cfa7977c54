package placement

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/usage"
)

func TestSpecHorizon(t *testing.T) {
	for _, tc := range []struct {
		spec Spec
		want time.Duration
	}{
		{Spec{}, usage.DefaultHorizon},
		{Spec{Horizon: 2 * time.Hour}, 2 * time.Hour},
		{Spec{Horizon: 2 * time.Hour, LiveOnly: true}, 0},
		{Spec{Target: "id-edge-1"}, 0},
	} {
		if got := tc.spec.horizon(); got != tc.want {
			t.Errorf("%+v: horizon %v, want %v", tc.spec, got, tc.want)
		}
	}
}

func TestResources(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	if got := resources(f(1.5), f(1<<30)); got == nil || *got != (scheduler.Resources{MilliCPU: 1500, Memory: 1 << 30}) {
		t.Errorf("resources(1.5 cores, 1Gi) = %v", got)
	}
	if resources(f(1), nil) != nil || resources(nil, f(1)) != nil {
		t.Error("a half-known figure is not a figure")
	}
}

// TestForecastIsCapped: a Prometheus that does not answer costs the
// forecast, within the cap, and the fallback says why.
func TestForecastIsCapped(t *testing.T) {
	hung := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hung)
	p := &Planner{Prometheus: srv.URL}
	start := time.Now()
	f := p.forecast(context.Background(), &store.Cluster{Name: "edge-1"}, time.Hour)
	if took := time.Since(start); took > forecastTimeout+5*time.Second {
		t.Errorf("forecast took %v, past its %v cap", took, forecastTimeout)
	}
	if f.Traffic != nil || f.PeakUsed != nil || !strings.Contains(f.Error, "did not answer the forecast queries within 3s") {
		t.Errorf("forecast %+v, want no figures and the timeout as the reason", f)
	}
	none := (&Planner{}).forecast(context.Background(), &store.Cluster{Name: "edge-1"}, time.Hour)
	if none.Error != "no Prometheus configured" {
		t.Errorf("without Prometheus: %+v", none)
	}
}
