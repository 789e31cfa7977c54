package storetest_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/store/storetest"
)

// A server stopped and started again serves the same data at the same
// URI, and the clients opened before reconnect on their own.
func TestStopStartServer(t *testing.T) {
	s := storetest.Open(t)
	if err := s.Repos.Insert(context.Background(), &store.Repo{Name: "kept", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	s.StopServer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.Repos.FindOne(ctx, bson.D{{Key: "name", Value: "kept"}}); err == nil {
		t.Fatal("a read succeeded with the server stopped")
	}
	if err := s.StartServer(); err != nil {
		t.Fatal(err)
	}
	if err := s.StartServer(); err == nil {
		t.Error("starting a running server: no error")
	}
	got, err := s.Repos.FindOne(context.Background(), bson.D{{Key: "name", Value: "kept"}})
	if err != nil || got.Password != "pw" {
		t.Fatalf("after the restart: %+v, %v", got, err)
	}
}
