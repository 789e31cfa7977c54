package scheduler

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

const (
	Ki = int64(1) << 10
	Mi = int64(1) << 20
	Gi = int64(1) << 30
)

// res is a test shorthand: millicores and bytes.
func res(milliCPU, memory int64) Resources { return Resources{MilliCPU: milliCPU, Memory: memory} }

func TestParseResources(t *testing.T) {
	tests := []struct {
		cpu, memory string
		want        Resources
		err         string // part of the error; "" for none
	}{
		{"0.5", "512M", res(500, 512_000_000), ""},
		{"500m", "1Gi", res(500, Gi), ""},
		{"2", "1073741824", res(2000, Gi), ""},
		{"1.5", "1.5Gi", res(1500, 3*Gi/2), ""},
		{"100m", "1028Mi", res(100, 1028*Mi), ""},
		{"0", "0", res(0, 0), ""},
		{"1k", "1G", res(1_000_000, 1_000_000_000), ""},
		{"0.0001", "64Ki", res(1, 64*Ki), ""}, // rounded up to a millicore, as Kubernetes does
		{"1e3", "1e3", res(1_000_000, 1000), ""},
		{"1e3m", "1Gi", Resources{}, `cpu "1e3m"`},
		{"two", "1Gi", Resources{}, `cpu "two"`},
		{"1", "1GB", Resources{}, `memory "1GB"`},
		{"1", "", Resources{}, `memory ""`},
		{"", "1Gi", Resources{}, `cpu ""`},
		{"-1", "1Gi", Resources{}, `cpu "-1": negative`},
		{"1", "-1Gi", Resources{}, `memory "-1Gi": negative`},
		{"1e30", "1Gi", Resources{}, `cpu "1e30": too large`},
		{"1", "100Ei", Resources{}, `memory "100Ei": too large`},
	}
	for _, tt := range tests {
		got, err := ParseResources(tt.cpu, tt.memory)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseResources(%q, %q) error = %v, want one containing %q", tt.cpu, tt.memory, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseResources(%q, %q) = %+v, %v; want %+v", tt.cpu, tt.memory, got, err, tt.want)
		}
	}
}

func TestResourcesArithmetic(t *testing.T) {
	a, b := res(1500, 3*Gi), res(500, Gi)
	if got := a.Add(b); got != res(2000, 4*Gi) {
		t.Errorf("Add = %v", got)
	}
	if got := a.Sub(b); got != res(1000, 2*Gi) {
		t.Errorf("Sub = %v", got)
	}
	if got := b.Sub(a); got != res(-1000, -2*Gi) {
		t.Errorf("Sub below zero = %v", got)
	}
	if !b.Fits(a) || a.Fits(b) || !a.Fits(a) || res(1, 4*Gi).Fits(a) {
		t.Error("Fits: both dimensions must be <=")
	}
	if !(Resources{}).IsZero() || res(0, 1).IsZero() {
		t.Error("IsZero")
	}
	if got := a.String(); got != "cpu 1500m, memory 3Gi" {
		t.Errorf("String = %q", got)
	}
}

func TestResourcesJSON(t *testing.T) {
	tests := []struct {
		r    Resources
		json string
	}{
		{res(1500, 3*Gi), `{"cpu":"1500m","memory":"3Gi"}`},
		{res(2000, 512_000_000), `{"cpu":"2","memory":"500000Ki"}`},
		{res(0, 0), `{"cpu":"0","memory":"0"}`},
		{res(1, 1023), `{"cpu":"1m","memory":"1023"}`},
		{res(-250, -Gi), `{"cpu":"-250m","memory":"-1Gi"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.r)
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tt.r, b, err, tt.json)
		}
		var back Resources
		if err := json.Unmarshal(b, &back); err != nil || back != tt.r {
			t.Errorf("round trip of %s = %+v, %v", b, back, err)
		}
	}
	var r Resources
	if err := json.Unmarshal([]byte(`{"cpu":"1.5"}`), &r); err != nil || r != res(1500, 0) {
		t.Errorf("absent memory: %+v, %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"cpu":"lots","memory":"1Gi"}`), &r); err == nil || !strings.Contains(err.Error(), `cpu "lots"`) {
		t.Errorf("bad cpu: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{
		"worst-fit": WorstFit, "worst_fit": WorstFit, "Worst-Fit": WorstFit,
		"best-fit": BestFit, "BEST_FIT": BestFit,
		"traffic-most": TrafficMost, "traffic_most": TrafficMost,
		"most-traffic": TrafficMost, "most_traffic": TrafficMost, " Most-Traffic ": TrafficMost,
	} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "manual", "first-fit", "worstfit"} {
		_, err := ParsePolicy(in)
		if err == nil || !strings.Contains(err.Error(), "worst-fit, best-fit, traffic-most") {
			t.Errorf("ParsePolicy(%q) error = %v, want one listing the accepted values", in, err)
		}
	}
}

// A request beyond the int64 range used to convert to 0 millicores (or wrap
// negative) and so fit anywhere; it saturates and fits nowhere.
func TestHugeRequestsSaturate(t *testing.T) {
	d, err := DemandOf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {replicas: 3, template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1e16, memory: 9223372036854775807.5}}}]}}}\n", res(100, Mi))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Workloads[0].Pod; got != res(math.MaxInt64, math.MaxInt64) {
		t.Fatalf("pod = %+v, want both saturated", got)
	}
	if got := d.Total(); got != res(math.MaxInt64, math.MaxInt64) {
		t.Errorf("total = %+v, want both saturated", got)
	}
	if res(math.MaxInt64, 0).Add(res(1, 0)).Fits(res(1000, Gi)) {
		t.Error("a sum past the int64 range fits a small node")
	}
}
