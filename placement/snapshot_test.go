package placement

import (
	"testing"
	"time"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

func TestSnapshotWithHolds(t *testing.T) {
	now := time.Now()
	snap := &snapshot{states: []scheduler.Cluster{
		{ID: "a", Nodes: []scheduler.Node{{Name: "a-1"}, {Name: "a-2"}}},
		{ID: "b", Nodes: []scheduler.Node{{Name: "b-1"}}},
	}}
	share := func(node string, milli int64) []scheduler.NodeShare {
		return []scheduler.NodeShare{{Node: node, Resources: scheduler.Resources{MilliCPU: milli}}}
	}
	held := map[string]*store.Reservation{"a": {Holds: []store.Hold{
		{EnablerID: "live", Nodes: share("a-1", 100), Since: now, Expires: now.Add(time.Minute)},
		{EnablerID: "also-live", Nodes: share("a-1", 50), Since: now, Expires: now.Add(time.Minute)},
		{EnablerID: "ended", Nodes: share("a-2", 400), Since: now.Add(-time.Hour), Expires: now.Add(-time.Second)},
		{EnablerID: "self", Nodes: share("a-2", 200), Since: now, Expires: now.Add(time.Minute)},
	}}}
	got := snap.withHolds(held, "self", now)
	want := map[string]int64{"a-1": 150, "a-2": 0, "b-1": 0}
	for _, c := range got {
		for _, n := range c.Nodes {
			if n.Reserved.MilliCPU != want[n.Name] {
				t.Errorf("node %s reserves %dm, want %dm", n.Name, n.Reserved.MilliCPU, want[n.Name])
			}
		}
	}
	if snap.states[0].Nodes[0].Reserved.MilliCPU != 0 {
		t.Error("withHolds changed the snapshot itself")
	}
}

func TestSnapshotPredates(t *testing.T) {
	now := time.Now()
	snap := &snapshot{read: map[string]time.Time{"a": now.Add(-2 * time.Second), "b": now.Add(-time.Second)}}
	tests := []struct {
		name string
		held map[string]*store.Reservation
		want bool
	}{
		{"nothing freed", nil, false},
		{"freed before the read", map[string]*store.Reservation{"a": {FreedAt: now.Add(-3 * time.Second)}}, false},
		{"released after the read", map[string]*store.Reservation{"b": {FreedAt: now.Add(-500 * time.Millisecond)}}, true},
		{"a lease ended after the read", map[string]*store.Reservation{"a": {Holds: []store.Hold{{Since: now.Add(-time.Hour), Expires: now.Add(-time.Second)}}}}, true},
		{"freed on a cluster not read", map[string]*store.Reservation{"c": {FreedAt: now}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := snap.predates(tt.held); got != tt.want {
				t.Errorf("predates = %v, want %v", got, tt.want)
			}
		})
	}
}
