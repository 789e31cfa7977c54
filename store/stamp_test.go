package store_test

import (
	"context"
	"testing"

	"github.com/smartorch/smartorch/store"
)

// The enablers' stamp changes with every insert, update and delete, and
// with nothing else.
func TestEnablerStampChangesWithEveryWrite(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	stamp := func() string {
		t.Helper()
		v, err := s.Enablers.Stamp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	seen := map[string]bool{stamp(): true}
	changed := func(what string) {
		t.Helper()
		v := stamp()
		if seen[v] {
			t.Errorf("after %s the stamp is %q, seen before", what, v)
		}
		seen[v] = true
	}
	e := &store.Enabler{Name: "web", Namespace: "default"}
	if err := s.Enablers.Insert(ctx, e); err != nil {
		t.Fatal(err)
	}
	changed("insert")
	e.Status = store.StatusEnabled
	if err := s.Enablers.Update(ctx, e); err != nil {
		t.Fatal(err)
	}
	changed("update")

	before := stamp()
	if _, err := s.Enablers.Get(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Enablers.Insert(ctx, &store.Enabler{Name: "web"}); err == nil {
		t.Fatal("a second enabler named web was stored")
	}
	if err := s.Clusters.Insert(ctx, &store.Cluster{Name: "edge"}); err != nil {
		t.Fatal(err)
	}
	if after := stamp(); after != before {
		t.Errorf("a read, a refused insert and another collection's write changed the stamp")
	}

	if err := s.Enablers.Delete(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	changed("delete")
}
