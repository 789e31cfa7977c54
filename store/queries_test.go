package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smartorch/smartorch/store"
)

func TestQueries(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	slot := "cloud"
	cloud := &store.Cluster{Name: "cloud", Cloud: true, CloudSlot: &slot, Status: store.StatusEnabled, Mesh: &store.Mesh{ID: 1, Peers: []string{"edge-1"}}}
	clusters := []*store.Cluster{
		cloud,
		{Name: "edge-1", Status: store.StatusEnabled, Mesh: &store.Mesh{ID: 2}},
		{Name: "edge-2", Status: store.StatusError, Mesh: &store.Mesh{ID: 3}},
		{Name: "edge-3", Status: store.StatusPending},
	}
	for _, c := range clusters {
		if err := s.Clusters.Insert(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	names := func(f any) []string {
		t.Helper()
		found, err := s.Clusters.Find(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, c := range found {
			out = append(out, c.Name)
		}
		return out
	}
	for what, c := range map[string]struct {
		got  []string
		want string
	}{
		"MeshPeers(cloud)":            {names(store.MeshPeers(cloud)), "[edge-1]"},
		"MeshPeers(edge-1)":           {names(store.MeshPeers(clusters[1])), "[cloud]"},
		"HoldingMeshID":               {names(store.HoldingMeshID()), "[cloud edge-1 edge-2]"},
		"ListingMeshPeer(edge-1)":     {names(store.ListingMeshPeer("edge-1")), "[cloud]"},
		"OtherThan(cloud)":            {names(store.OtherThan(cloud.ID)), "[edge-1 edge-2 edge-3]"},
		"EdgeClusters":                {names(store.EdgeClusters()), "[edge-1 edge-2 edge-3]"},
		"CloudCluster":                {names(store.CloudCluster()), "[cloud]"},
		"WithStatus":                  {names(store.WithStatus(store.StatusError, store.StatusPending)), "[edge-2 edge-3]"},
		"UntouchedWithStatus(later)":  {names(store.UntouchedWithStatus(time.Now().Add(time.Hour), store.StatusError, store.StatusPending)), "[edge-2 edge-3]"},
		"UntouchedWithStatus(before)": {names(store.UntouchedWithStatus(time.Now().Add(-time.Hour), store.StatusError, store.StatusPending)), "[]"},
		"ByIDOrName(name)":            {names(store.ByIDOrName("edge-2")), "[edge-2]"},
		"ByIDOrName(id)":              {names(store.ByIDOrName(clusters[3].ID)), "[edge-3]"},
	} {
		if got := fmt.Sprint(c.got); got != c.want {
			t.Errorf("%s = %s, want %s", what, got, c.want)
		}
	}
	if n, err := s.Clusters.Count(ctx, nil); err != nil || n != 4 {
		t.Errorf("Count(nil) = %d, %v; want 4", n, err)
	}
	if err := s.Enablers.Insert(ctx, &store.Enabler{Name: "web", ClusterID: cloud.ID, GlobalServices: []store.GlobalService{{Name: "web"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enablers.Insert(ctx, &store.Enabler{Name: "db", ClusterID: clusters[1].ID}); err != nil {
		t.Fatal(err)
	}
	if on, err := s.Enablers.Find(ctx, store.OnCluster(cloud.ID)); err != nil || len(on) != 1 || on[0].Name != "web" {
		t.Errorf("OnCluster(cloud) = %+v, %v; want web", on, err)
	}
	if with, err := s.Enablers.Find(ctx, store.WithGlobalServices()); err != nil || len(with) != 1 || with[0].Name != "web" {
		t.Errorf("WithGlobalServices = %+v, %v; want web", with, err)
	}
}

// Modify re-reads and reapplies its change when another update wins.
func TestModifyLosesNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	c := &store.Cluster{Name: "edge"}
	if err := s.Clusters.Insert(ctx, c); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := s.Clusters.Modify(ctx, c.ID, func(c *store.Cluster) { c.Notes = append(c.Notes, string(rune('a'+i))) })
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.Clusters.Get(ctx, c.ID)
	if err != nil || len(got.Notes) != n {
		t.Fatalf("after %d modifications: %+v, %v", n, got, err)
	}
}
