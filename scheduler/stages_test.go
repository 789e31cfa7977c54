package scheduler

import (
	"reflect"
	"testing"
	"time"
)

func TestFilter(t *testing.T) {
	c := edge("e", nd("e-b", 2, 2), Node{Name: "e-off", Allocatable: res(8000, 8*Gi)}, nd("e-a", 4, 4))
	c.Nodes[0].Requested = res(3000, Gi)
	nodes, reason := filter(c)
	want := []node{
		{name: "e-a", allocatable: res(4000, 4*Gi), free: res(4000, 4*Gi)},
		{name: "e-b", allocatable: res(2000, 2*Gi), free: res(0, Gi)},
	}
	if reason != "" || !reflect.DeepEqual(nodes, want) {
		t.Errorf("filter = %+v, %q", nodes, reason)
	}
	c.Unavailable = "status Pending"
	if _, reason := filter(c); reason != "status Pending" {
		t.Errorf("reason %q", reason)
	}
}

func TestCopies(t *testing.T) {
	tests := []struct {
		free, pod Resources
		want      int
	}{
		{res(4000, 4*Gi), res(1000, Gi), 4},
		{res(4000, 2*Gi), res(1000, Gi), 2}, // memory limits
		{res(1500, 8*Gi), res(1000, Gi), 1}, // cpu limits, floored
		{res(4000, 4*Gi), res(0, Gi), 4},    // cpu not requested
		{res(4000, 4*Gi), res(1000, 0), 4},  // memory not requested
		{res(4000, 4*Gi), res(0, 0), 0},     // nothing requested
		{res(0, 0), res(1, 1), 0},
	}
	for _, tt := range tests {
		if got := copies(tt.free, tt.pod); got != tt.want {
			t.Errorf("copies(%v, %v) = %d, want %d", tt.free, tt.pod, got, tt.want)
		}
	}
}

func TestRoomiest(t *testing.T) {
	nodes := []node{
		{name: "a", allocatable: res(4000, 4*Gi), free: res(1000, 4*Gi)},   // 1/4 + 1 before
		{name: "b", allocatable: res(8000, 8*Gi), free: res(6000, 6*Gi)},   // 3/4 + 3/4
		{name: "c", allocatable: res(8000, 8*Gi), free: res(6000, 6*Gi)},   // same as b: b wins by name
		{name: "d", allocatable: res(64000, 64*Gi), free: res(500, 64*Gi)}, // pod does not fit
	}
	if got := roomiest(nodes, res(1000, Gi)); got != 1 {
		t.Errorf("roomiest = %d, want 1 (b)", got)
	}
	if got := roomiest(nodes, res(7000, Gi)); got != -1 {
		t.Errorf("roomiest = %d, want -1", got)
	}
}

func TestTrafficProblem(t *testing.T) {
	tests := []struct {
		traffic *Traffic
		maxAge  time.Duration
		want    string
	}{
		{&Traffic{BytesPerSecond: 1, At: now}, time.Minute, ""},
		{&Traffic{BytesPerSecond: 1, At: now.Add(-time.Minute)}, time.Minute, ""},
		{&Traffic{BytesPerSecond: 1, At: now.Add(-time.Minute - 1)}, time.Minute, "Prometheus data is stale (at 2025-06-01T11:58:59Z, older than 1m0s)"},
		{&Traffic{BytesPerSecond: 1, At: now.Add(-time.Hour)}, 0, ""},
		{&Traffic{BytesPerSecond: 1}, time.Minute, "traffic figure has no timestamp"},
		{&Traffic{Error: "no series"}, 0, "no series"},
		{nil, 0, "no traffic figure gathered"},
	}
	for _, tt := range tests {
		if got := trafficProblem(tt.traffic, now, tt.maxAge); got != tt.want {
			t.Errorf("trafficProblem(%+v, %s) = %q, want %q", tt.traffic, tt.maxAge, got, tt.want)
		}
	}
}
