// Package storetest gives tests a real store: an embedded FerretDB in a
// temporary directory, like httptest gives them a real server.
package storetest

import (
	"context"
	"testing"

	"github.com/smartorch/smartorch/devstack"
	"github.com/smartorch/smartorch/store"
)

// Store is an open store and what reopening it takes.
type Store struct {
	*store.Store
	URI string
	Key []byte
}

// Open starts FerretDB and opens a store on it with a new key. Both stop
// when the test ends.
func Open(t testing.TB) *Store {
	t.Helper()
	uri, stop, err := devstack.StartFerretDB(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	key := store.NewKey()
	return &Store{Store: Reopen(t, uri, key), URI: uri, Key: key}
}

// Reopen opens another connection to the store at uri, closed when the test ends.
func Reopen(t testing.TB, uri string, key []byte) *store.Store {
	t.Helper()
	cipher, err := store.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), uri, "smartorch_test", cipher)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}
