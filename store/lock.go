package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// lockTTL is how long a lock document may be held before another process
// may break it: far longer than an update takes, short enough that a
// crashed holder does not stall anyone for long.
var lockTTL = 10 * time.Second

type lockDoc struct {
	ID    string    `bson:"_id"`
	Token string    `bson:"token"`
	At    time.Time `bson:"at"`
}

// documentLocks serialise the updates of one document. FerretDB (the
// embedded and test store) does not apply a filtered replace atomically: two
// writers with the same expected revision can both succeed, losing one update.
//
// Two layers make the compare-and-swap hold:
//   - within this process, a mutex per document. It has no timeout, so a
//     holder that stalls (a GC pause, a slow store) keeps everyone else in
//     the process waiting instead of letting them past. Where one process
//     owns the store (`smartorch dev` with its embedded FerretDB) this alone
//     makes every update safe.
//   - across processes sharing a FerretDB, a lock document: an insert of a
//     duplicate _id is refused atomically. It can be broken after lockTTL,
//     so it only guards against holders that crashed. MongoDB needs none:
//     its filtered replace is atomic.
type documentLocks struct {
	coll  *mongo.Collection
	local *keyMutex
	// ferret: the database is FerretDB, which does not apply a filtered
	// replace atomically.
	ferret bool
	// shared: other processes may update the same FerretDB documents.
	shared bool
}

// lock locks the document named key (collection/id).
func (l *documentLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	release, err := l.local.lock(ctx, key)
	if err != nil || !l.shared {
		return release, err
	}
	unlockDoc, err := l.lockDocument(ctx, key)
	if err != nil {
		release()
		return nil, err
	}
	return func() {
		unlockDoc()
		release()
	}, nil
}

func (l *documentLocks) lockDocument(ctx context.Context, key string) (unlock func(), err error) {
	token := uuid.NewString()
	for {
		_, err := l.coll.InsertOne(ctx, lockDoc{ID: key, Token: token, At: time.Now().UTC()})
		if err == nil {
			return func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_, _ = l.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "token", Value: token}})
			}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, err
		}
		var held lockDoc
		err = l.coll.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held)
		if err == nil && time.Since(held.At) > lockTTL {
			_, _ = l.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "token", Value: held.Token}})
			continue
		}
		if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(1+rand.IntN(5)) * time.Millisecond):
		}
	}
}

// keyMutex is a mutex per key, kept only while someone holds or waits for it.
type keyMutex struct {
	mu   sync.Mutex
	keys map[string]*keyEntry
}

type keyEntry struct {
	ch    chan struct{} // holds a token while the key is locked
	users int
}

func newKeyMutex() *keyMutex { return &keyMutex{keys: map[string]*keyEntry{}} }

// lock waits until key is free or ctx ends.
func (k *keyMutex) lock(ctx context.Context, key string) (unlock func(), err error) {
	k.mu.Lock()
	e := k.keys[key]
	if e == nil {
		e = &keyEntry{ch: make(chan struct{}, 1)}
		k.keys[key] = e
	}
	e.users++
	k.mu.Unlock()
	done := func() {
		k.mu.Lock()
		if e.users--; e.users == 0 {
			delete(k.keys, key)
		}
		k.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}
