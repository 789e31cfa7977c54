package scheduler

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func withForecast(c Cluster, traffic *float64, peak *Resources) Cluster {
	c.Forecast = &Forecast{Traffic: traffic, PeakUsed: peak, LiveUsed: &Resources{}}
	if traffic == nil || peak == nil {
		c.Forecast.Error = "no history for cluster_name=" + c.Name
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func TestPlaceForecast(t *testing.T) {
	// quiet is quiet now but forecast busy; busy the opposite.
	quiet := withTraffic(edge("quiet", nd("quiet-1", 4, 8)), 1e3, now)
	busy := withTraffic(edge("busy", nd("busy-1", 4, 8)), 9e3, now)
	// roomy has the most room now but a forecast peak that would leave too
	// little; snug less room, and a peak that leaves enough.
	roomy := edge("roomy", nd("roomy-1", 8, 16))
	snug := edge("snug", nd("snug-1", 4, 8))
	nohistory := edge("new", nd("new-1", 6, 12))
	reserved := edge("held", nd("held-1", 8, 16))
	reserved.Nodes[0].Reserved = res(3000, 0)

	tests := []struct {
		name     string
		policy   Policy
		liveOnly bool
		clusters []Cluster
		want     string
		applied  Policy
		vetoed   []string
		forecast []string // in the decision's forecast note
		reasons  map[string][]string
	}{
		{name: "traffic-most ranks on forecast traffic", policy: TrafficMost,
			clusters: []Cluster{withForecast(quiet, ptr(8e3), &Resources{}), withForecast(busy, ptr(2e3), &Resources{})},
			want:     "quiet", applied: TrafficMost,
			forecast: []string{"traffic-most ranked on forecast traffic over the next 1h"},
			reasons:  map[string][]string{"quiet": {"score 8000: forecast bytes received per second"}}},
		{name: "forecast: false ranks on live traffic", policy: TrafficMost, liveOnly: true,
			clusters: []Cluster{withForecast(quiet, ptr(8e3), &Resources{}), withForecast(busy, ptr(2e3), &Resources{})},
			want:     "busy", applied: TrafficMost,
			forecast: []string{"off: the request asked for live values only"}},
		{name: "a competitor without history: every cluster on live traffic", policy: TrafficMost,
			clusters: []Cluster{withForecast(quiet, ptr(8e3), &Resources{}), withForecast(busy, nil, &Resources{})},
			want:     "busy", applied: TrafficMost,
			forecast: []string{"traffic-most fell back to live traffic: no forecast for busy: no history for cluster_name=busy"},
			reasons:  map[string][]string{"busy": {"score 9000: bytes received per second"}}},
		{name: "no forecast and no live traffic: worst-fit", policy: TrafficMost,
			clusters: []Cluster{edge("a", nd("a-1", 2, 2)), edge("b", nd("b-1", 4, 4))},
			want:     "b", applied: WorstFit,
			forecast: []string{"traffic-most fell back to live traffic: no forecast for a: no forecast gathered; b: no forecast gathered"}},
		{name: "worst-fit vetoes the roomiest cluster's forecast peak", policy: WorstFit,
			clusters: []Cluster{withForecast(roomy, nil, ptr(res(7000, 8*Gi))), withForecast(snug, nil, ptr(res(1000, Gi)))},
			want:     "snug", applied: WorstFit, vetoed: []string{"roomy"},
			forecast: []string{"worst-fit checked that each cluster's forecast peak over the next 1h would hold the enabler", "vetoed roomy"},
			reasons: map[string][]string{
				"roomy": {"vetoed by forecastPeak (worst-fit): at its forecast peak over the next 1h the cluster uses cpu 7, memory 8Gi of cpu 8, memory 16Gi, leaving cpu 1, memory 8Gi free, less than the cpu 2, memory 2Gi the enabler needs (it fits now: fits 2 pods"},
				"snug":  {"forecast peak over the next 1h: cpu 1, memory 1Gi in use, leaving cpu 3, memory 7Gi free, enough for the cpu 2, memory 2Gi placed"}}},
		{name: "forecast: false: no veto", policy: WorstFit, liveOnly: true,
			clusters: []Cluster{withForecast(roomy, nil, ptr(res(7000, 8*Gi))), withForecast(snug, nil, ptr(res(1000, Gi)))},
			want:     "roomy", applied: WorstFit},
		{name: "best-fit vetoes the tightest cluster's forecast peak", policy: BestFit,
			clusters: []Cluster{withForecast(roomy, nil, ptr(res(1000, Gi))), withForecast(snug, nil, ptr(res(1000, 7*Gi)))},
			want:     "roomy", applied: BestFit, vetoed: []string{"snug"},
			reasons: map[string][]string{"snug": {"vetoed by forecastPeak (best-fit)", "memory 1Gi free, less than the cpu 2, memory 2Gi"}}},
		{name: "no history: checked on live values, and the note says so", policy: BestFit,
			clusters: []Cluster{withForecast(nohistory, nil, nil), withForecast(roomy, nil, ptr(res(0, 0)))},
			want:     "new", applied: BestFit,
			forecast: []string{"none vetoed", "fell back to live values for new: no history for cluster_name=new"},
			reasons:  map[string][]string{"new": {"no forecast peak (no history for cluster_name=new): checked on live values only"}}},
		{name: "capacity held for placements in flight counts against the peak", policy: WorstFit,
			clusters: []Cluster{withForecast(reserved, nil, ptr(res(4000, 0))), withForecast(snug, nil, ptr(res(0, 0)))},
			want:     "snug", applied: WorstFit, vetoed: []string{"held"},
			reasons: map[string][]string{"held": {"leaving cpu 1, memory 16Gi free"}}},
		{name: "every cluster vetoed: nothing fits, each reason says why", policy: WorstFit,
			clusters: []Cluster{withForecast(roomy, nil, ptr(res(8000, 0))), withForecast(snug, nil, ptr(res(3500, 0)))},
			want:     "", applied: WorstFit, vetoed: []string{"roomy", "snug"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Place(Request{Policy: tt.policy, Demand: web(2, 1, 1), Clusters: tt.clusters, Now: now, Horizon: time.Hour, LiveOnly: tt.liveOnly})
			if d.Cluster != tt.want || d.Applied != tt.applied {
				t.Fatalf("chose %q by %s, want %q by %s: %s (%s)", d.Cluster, d.Applied, tt.want, tt.applied, d.Reason, d.Forecast)
			}
			mustContain(t, "forecast note", d.Forecast, tt.forecast...)
			for _, c := range d.Candidates {
				wantVeto := false
				for _, v := range tt.vetoed {
					wantVeto = wantVeto || v == c.Cluster
				}
				if got := c.ExcludedBy == RuleForecastPeak; got != wantVeto || wantVeto && c.Feasible {
					t.Errorf("%s: excluded by %q, feasible %v; want vetoed %v: %s", c.Cluster, c.ExcludedBy, c.Feasible, wantVeto, c.Reason)
				}
				mustContain(t, c.Cluster+"'s reason", c.Reason, tt.reasons[c.Cluster]...)
			}
			if tt.want == "" {
				mustContain(t, "decision reason", d.Reason, "roomy: vetoed by forecastPeak", "snug: vetoed by forecastPeak")
			}
			if !tt.liveOnly && d.Horizon != "1h" {
				t.Errorf("horizon %q, want 1h", d.Horizon)
			}
		})
	}
}

func TestPlaceForecastNotANumber(t *testing.T) {
	c := withForecast(edge("a", nd("a-1", 2, 2)), ptr(math.NaN()), &Resources{})
	d := Place(Request{Policy: TrafficMost, Demand: web(1, 1, 1), Clusters: []Cluster{c}, Now: now, Horizon: time.Hour})
	if _, err := json.Marshal(d); err != nil {
		t.Fatalf("decision does not encode: %v", err)
	}
	if f := candidate(t, d, "a").Forecast; f == nil || f.Traffic != nil || f.Error == "" {
		t.Errorf("forecast %+v, want no traffic and the error", f)
	}
	mustContain(t, "forecast note", d.Forecast, "fell back to live traffic", "forecast traffic is not a number")
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Hour: "1h", 90 * time.Minute: "1h30m", 30 * time.Minute: "30m", 24 * time.Hour: "24h", 45 * time.Second: "45s", 0: "0s"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
