package store_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/smartorch/smartorch/store"
)

// A lock holder that stalls past the lock's TTL loses no update: with a
// TTL of a nanosecond every lock document is broken as soon as another
// writer finds it (each update takes milliseconds on FerretDB), so only
// the in-process serialisation stands between concurrent writers and a
// lost update. Every increment that reported success must be in the count.
func TestNoLostUpdateWhenTheLockTTLPasses(t *testing.T) {
	store.SetLockTTL(t, time.Nanosecond)
	s := openStore(t)
	ctx := context.Background()
	counter := &store.Repo{Name: "counter", URL: "https://counter", Description: "0"}
	if err := s.Repos.Insert(ctx, counter); err != nil {
		t.Fatal(err)
	}
	const writers, increments = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for done := 0; done < increments; {
				r, err := s.Repos.Get(ctx, counter.ID)
				if err != nil {
					errs <- err
					return
				}
				n, _ := strconv.Atoi(r.Description)
				r.Description = strconv.Itoa(n + 1)
				switch err := s.Repos.Update(ctx, r); {
				case errors.Is(err, store.ErrStale):
				case err != nil:
					errs <- err
					return
				default:
					done++
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Repos.Get(ctx, counter.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != strconv.Itoa(writers*increments) || got.Revision != writers*increments+1 {
		t.Fatalf("count %s at revision %d, want %d at %d: updates were lost", got.Description, got.Revision, writers*increments, writers*increments+1)
	}
}
