package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// lockTTL is how long a lock may be held before others may break it: far
// longer than an update takes, short enough that a crashed holder does not
// stall anyone for long.
const lockTTL = 10 * time.Second

type lockDoc struct {
	ID    string    `bson:"_id"`
	Token string    `bson:"token"`
	At    time.Time `bson:"at"`
}

// lock serialises the updates of one document. FerretDB (the embedded and
// test store) does not apply a filtered replace atomically: two writers
// with the same expected revision can both succeed, losing one update. An
// insert of a duplicate _id is refused atomically by MongoDB and FerretDB
// alike, so a lock document per updated document makes the compare-and-swap
// hold on both.
func (c *Collection[T]) lock(ctx context.Context, id string) (unlock func(), err error) {
	key := c.coll.Name() + "/" + id
	token := uuid.NewString()
	for {
		_, err := c.locks.InsertOne(ctx, lockDoc{ID: key, Token: token, At: time.Now().UTC()})
		if err == nil {
			return func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				_, _ = c.locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "token", Value: token}})
			}, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return nil, err
		}
		var held lockDoc
		err = c.locks.FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Decode(&held)
		if err == nil && time.Since(held.At) > lockTTL {
			_, _ = c.locks.DeleteOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "token", Value: held.Token}})
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
