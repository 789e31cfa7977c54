package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// A stamp is a token that changes whenever its collection does, so a
// reader that keeps a collection in memory can check with one read by _id
// whether its copy is current. FerretDB (the embedded and test store)
// answers any sorted or filtered query by scanning the whole collection;
// only a read by _id is a single row.
//
// The stamp is a fresh random token, not a counter: FerretDB does not apply
// an update atomically, so concurrent increments could repeat an earlier
// value, while a token once replaced never comes back.
type stampDoc struct {
	ID    string `bson:"_id"`
	Stamp string `bson:"stamp"`
}

// restamp records that the collection changed. It runs after the write, so
// a reader that sees the new stamp and then reads the collection sees the
// write. It is best effort: the write has happened and must not be
// reported as failed, and readers refresh old copies anyway (see Stamp).
func (c *Collection[T]) restamp(ctx context.Context) {
	if c.stamps == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// Two first restamps may race to create the document; either token does.
	_, _ = c.stamps.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.coll.Name()}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "stamp", Value: uuid.NewString()}}}}, options.UpdateOne().SetUpsert(true))
}

// Stamp returns the collection's current stamp, "" before its first write.
// What a reader reads after reading stamp s includes every write whose
// restamp came before; while Stamp still returns s, nothing has been
// written since, except by a writer that failed to restamp, which is why
// readers should still refresh a copy now and then.
func (c *Collection[T]) Stamp(ctx context.Context) (string, error) {
	var d stampDoc
	err := c.stamps.FindOne(ctx, bson.D{{Key: "_id", Value: c.coll.Name()}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	return d.Stamp, err
}

// stamped makes a collection keep a stamp.
func (c *Collection[T]) stamped(stamps *mongo.Collection) *Collection[T] {
	c.stamps = stamps
	return c
}
