package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/store/storetest"
)

func openStore(t *testing.T) *store.Store { return storetest.Open(t).Store }

// Reopening an existing database (a restart) keeps the data and the indexes.
func TestReopen(t *testing.T) {
	opened := storetest.Open(t)
	first := opened.Store
	if err := first.Repos.Insert(context.Background(), &store.Repo{Name: "kept", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	second := storetest.Reopen(t, opened.URI, opened.Key)
	got, err := second.Repos.FindOne(context.Background(), bson.D{{Key: "name", Value: "kept"}})
	if err != nil || got.Password != "pw" {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	if err := second.Repos.Insert(context.Background(), &store.Repo{Name: "kept"}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("unique index lost on reopen: %v", err)
	}
}

func TestDuplicateNameIsConflict(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if err := s.Repos.Insert(ctx, &store.Repo{Name: "bitnami", URL: "https://a"}); err != nil {
		t.Fatal(err)
	}
	err := s.Repos.Insert(ctx, &store.Repo{Name: "bitnami", URL: "https://b"})
	var dup *store.DuplicateError
	if !errors.Is(err, store.ErrDuplicate) || !errors.As(err, &dup) {
		t.Fatalf("second insert: got %v, want a duplicate error", err)
	}
	if dup.Field != "name" {
		t.Errorf("duplicate field = %q, want name", dup.Field)
	}
	n, err := s.Repos.Count(ctx, bson.D{})
	if err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
}

func TestOnlyOneCloudCluster(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	slot := "cloud"
	if err := s.Clusters.Insert(ctx, &store.Cluster{Name: "cloud", Cloud: true, CloudSlot: &slot}); err != nil {
		t.Fatal(err)
	}
	// Edges have no slot, so any number of them fit the sparse unique index.
	for _, name := range []string{"edge-1", "edge-2"} {
		if err := s.Clusters.Insert(ctx, &store.Cluster{Name: name}); err != nil {
			t.Fatalf("insert %s: %v", name, err)
		}
	}
	err := s.Clusters.Insert(ctx, &store.Cluster{Name: "cloud-2", Cloud: true, CloudSlot: &slot})
	var dup *store.DuplicateError
	if !errors.As(err, &dup) || dup.Field != "cloudSlot" {
		t.Fatalf("second cloud: got %v, want duplicate on cloudSlot", err)
	}
}

func TestStaleRevisionIsRejected(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	r := &store.Repo{Name: "charts", URL: "https://a"}
	if err := s.Repos.Insert(ctx, r); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Repos.Get(ctx, r.ID)
	second, _ := s.Repos.Get(ctx, r.ID)

	first.Description = "first writer"
	if err := s.Repos.Update(ctx, first); err != nil {
		t.Fatalf("first update: %v", err)
	}
	if first.Revision != 2 {
		t.Errorf("revision after update = %d, want 2", first.Revision)
	}
	second.Description = "second writer"
	if err := s.Repos.Update(ctx, second); !errors.Is(err, store.ErrStale) {
		t.Fatalf("stale update: got %v, want ErrStale", err)
	}
	got, err := s.Repos.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "first writer" || got.Revision != 2 {
		t.Errorf("stored = %q rev %d, want the first writer's at rev 2", got.Description, got.Revision)
	}

	if err := s.Repos.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Repos.Update(ctx, got); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of deleted document: got %v, want ErrNotFound", err)
	}
	if _, err := s.Repos.Get(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get deleted: got %v, want ErrNotFound", err)
	}
}

func TestSecretsAreSealedAtRest(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	kubeconfig := []byte(`{"users":[{"name":"edge","user":{"client-key-data":"TOP-SECRET-KEY"}}]}`)
	c := &store.Cluster{Name: "edge", Credentials: kubeconfig}
	if err := s.Clusters.Insert(ctx, c); err != nil {
		t.Fatal(err)
	}
	r := &store.Repo{Name: "private", URL: "https://charts", Username: "bob", Password: "hunter2-password"}
	if err := s.Repos.Insert(ctx, r); err != nil {
		t.Fatal(err)
	}

	for coll, secret := range map[string]string{"clusters": "TOP-SECRET-KEY", "repos": "hunter2-password"} {
		raw, err := s.Raw(coll).FindOne(ctx, bson.D{}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%s: raw document contains the plaintext secret", coll)
		}
	}

	gotC, err := s.Clusters.Get(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotC.Credentials, kubeconfig) {
		t.Errorf("credentials did not round-trip: %s", gotC.Credentials)
	}
	gotR, err := s.Repos.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gotR.Password != "hunter2-password" {
		t.Errorf("password did not round-trip: %q", gotR.Password)
	}

	// A sealed value moved into another record does not decrypt there.
	var other store.Repo
	other.Name = "other"
	if err := s.Repos.Insert(ctx, &other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Raw("repos").UpdateOne(ctx, bson.D{{Key: "_id", Value: other.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "password", Value: gotR.SealedPassword}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Repos.Get(ctx, other.ID); err == nil {
		t.Error("a password copied from another record decrypted")
	}
}

// Compare-and-swap holds under concurrency: twenty writers that each add
// one hold with read-modify-write, retrying on ErrStale, leave twenty.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	if err := s.Reservations.Insert(ctx, &store.Reservation{Meta: store.Meta{ID: "cluster"}}); err != nil {
		t.Fatal(err)
	}
	const writers = 20
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for {
				r, err := s.Reservations.Get(ctx, "cluster")
				if err != nil {
					t.Error(err)
					return
				}
				r.Holds = append(r.Holds, store.Hold{EnablerID: fmt.Sprint(i)})
				err = s.Reservations.Update(ctx, r)
				if errors.Is(err, store.ErrStale) {
					continue
				}
				if err != nil {
					t.Error(err)
				}
				return
			}
		})
	}
	wg.Wait()
	r, err := s.Reservations.Get(ctx, "cluster")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Holds) != writers || r.Revision != writers+1 {
		t.Errorf("%d holds at revision %d, want %d at %d", len(r.Holds), r.Revision, writers, writers+1)
	}
}

// The API and the worker start at the same instant on a new database: both
// create its indexes at once, and both must come up.
func TestConcurrentOpenOfNewDatabase(t *testing.T) {
	server := storetest.Open(t)
	cipher, err := store.NewCipher(server.Key)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		name := fmt.Sprintf("concurrent_%d", round)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() {
				s, err := store.Open(context.Background(), server.URI, name, cipher)
				if err == nil {
					err = s.Close(context.Background())
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, store %d: %v", round, i, err)
			}
		}
	}
}
