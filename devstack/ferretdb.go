package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// StartFerretDB runs an embedded Mongo-protocol store on SQLite files in dir,
// listening on a free loopback port. stop waits until it has shut down.
func StartFerretDB(ctx context.Context, dir string, logger *slog.Logger) (uri string, stop func(), err error) {
	return StartFerretDBAt(ctx, dir, "127.0.0.1:0", logger)
}

// StartFerretDBAt is StartFerretDB listening on addr (host:port), so that
// a store stopped earlier can be started again at the URI its clients know.
func StartFerretDBAt(ctx context.Context, dir, addr string, logger *slog.Logger) (uri string, stop func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    logger,
	})
	if err != nil {
		return "", nil, fmt.Errorf("ferretdb: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-done
	}
	return f.MongoDBURI(), stop, nil
}
