// Package storetest gives tests a real store: an embedded FerretDB in a
// temporary directory, like httptest gives them a real server.
package storetest

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"

	"github.com/smartorch/smartorch/devstack"
	"github.com/smartorch/smartorch/store"
)

// Store is an open store and what reopening it takes.
type Store struct {
	*store.Store
	URI string
	Key []byte

	dir  string
	mu   sync.Mutex
	stop func() // nil while the server is stopped
}

// Open starts FerretDB and opens a store on it with a new key. Both stop
// when the test ends.
func Open(t testing.TB) *Store {
	t.Helper()
	dir := t.TempDir()
	uri, stop, err := devstack.StartFerretDB(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{URI: uri, Key: store.NewKey(), dir: dir, stop: stop}
	t.Cleanup(s.StopServer)
	s.Store = Reopen(t, uri, s.Key)
	return s
}

// StopServer stops the FerretDB server, as an outage would: connections
// drop and requests fail until StartServer. Its data stays.
func (s *Store) StopServer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

// StartServer starts the server again after StopServer, at the same URI
// with the same data; clients reconnect on their own.
func (s *Store) StartServer() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return errors.New("the store is already running")
	}
	u, err := url.Parse(s.URI)
	if err != nil {
		return err
	}
	_, stop, err := devstack.StartFerretDBAt(context.Background(), s.dir, u.Host, nil)
	if err != nil {
		return err
	}
	s.stop = stop
	return nil
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
