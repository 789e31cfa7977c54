// Package store persists users, chart repositories, clusters and enablers in
// MongoDB (or FerretDB). It uses only what both support: unique and sparse
// indexes, compare-and-swap updates on a revision field, no transactions.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
	// ErrStale means the document changed since it was read.
	ErrStale = errors.New("modified concurrently")
)

// Unavailable reports whether err means the database did not answer in
// time or could not be reached: worth retrying later, not a fault of the
// request.
func Unavailable(err error) bool {
	return mongo.IsTimeout(err) || mongo.IsNetworkError(err) || errors.Is(err, context.DeadlineExceeded)
}

// Store is the orchestrator's database.
type Store struct {
	client   *mongo.Client
	db       *mongo.Database
	locks    *documentLocks
	Users    *Collection[User]
	Repos    *Collection[Repo]
	Clusters *Collection[Cluster]
	Enablers *Collection[Enabler]
	// Reservations has one document per cluster with placements in flight.
	Reservations *Collection[Reservation]
}

// Open connects to uri, uses database name and makes sure the indexes exist.
func Open(ctx context.Context, uri, name string, cipher *Cipher) (*Store, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(10 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := client.Ping(ctx, nil); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("store: %w", err)
	}
	db := client.Database(name)
	ferret, err := isFerretDB(ctx, db)
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("store: %w", err)
	}
	locks := &documentLocks{coll: db.Collection("locks"), local: newKeyMutex(), ferret: ferret, shared: ferret}
	s := &Store{
		client:       client,
		locks:        locks,
		db:           db,
		Users:        newCollection[User](db, locks, "users", cipher, "username"),
		Repos:        newCollection[Repo](db, locks, "repos", cipher, "name"),
		Clusters:     newCollection[Cluster](db, locks, "clusters", cipher, "name", "cloudSlot", "mesh.id"),
		Enablers:     newCollection[Enabler](db, locks, "enablers", cipher, "name").stamped(db.Collection("stamps")),
		Reservations: newCollection[Reservation](db, locks, "reservations", cipher),
	}
	if err := s.ensureIndexesRetrying(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// ensureIndexesRetrying tries ensureIndexes up to 7 times, waiting longer
// each time (6 to 13 s in all): the API and the worker starting at once on a
// new FerretDB database create the same collections and indexes at once, and
// FerretDB can then fail one of them or drop its connection. The next try
// finds what the other created.
func (s *Store) ensureIndexesRetrying(ctx context.Context) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.ensureIndexes(ctx)
		if err == nil || attempt == 7 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		// The random part keeps two processes from colliding again in step.
		case <-time.After(wait + rand.N(wait)):
		}
		wait *= 2
	}
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	// Unique indexes are sparse: optional unique fields (cloudSlot) may be absent.
	unique := func(unique []string, more ...mongo.IndexModel) []mongo.IndexModel {
		for _, f := range unique {
			more = append(more, mongo.IndexModel{Keys: bson.D{{Key: f, Value: 1}}, Options: options.Index().SetUnique(true).SetSparse(true)})
		}
		return more
	}
	indexes := map[*mongo.Collection][]mongo.IndexModel{
		s.Users.coll:    unique(s.Users.unique),
		s.Repos.coll:    unique(s.Repos.unique),
		s.Clusters.coll: unique(s.Clusters.unique),
		s.Enablers.coll: unique(s.Enablers.unique, mongo.IndexModel{Keys: bson.D{{Key: "clusterId", Value: 1}}}),
	}
	for coll, models := range indexes {
		if err := createMissingIndexes(ctx, coll, models); err != nil {
			return fmt.Errorf("store: indexes of %s: %w", coll.Name(), err)
		}
	}
	return nil
}

// createMissingIndexes creates only the indexes not there yet: FerretDB
// 1.24 fails when asked to create an existing sparse index again.
func createMissingIndexes(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel) error {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return err
	}
	existing := map[string]bool{}
	for _, s := range specs {
		existing[s.Name] = true
	}
	var missing []mongo.IndexModel
	for _, m := range models {
		if !existing[indexName(m.Keys.(bson.D))] {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = coll.Indexes().CreateMany(ctx, missing)
	return err
}

// indexName is the server's default name for an index: field_1 for {field: 1}.
func indexName(keys bson.D) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s_%v", k.Key, k.Value))
	}
	return strings.Join(parts, "_")
}

// isFerretDB reports whether the server is FerretDB, which says so in its
// build information.
func isFerretDB(ctx context.Context, db *mongo.Database) (bool, error) {
	var info bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, err
	}
	_, ferret := info["ferretdbVersion"]
	return ferret, nil
}

// SoleWriter tells the store that no other process writes to its database
// (`smartorch dev` and its embedded FerretDB): updates are then serialised
// within this process only, without lock documents.
func (s *Store) SoleWriter() { s.locks.shared = false }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx, nil) }

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Raw gives direct access to a collection, for tests that inspect what is stored.
func (s *Store) Raw(collection string) *mongo.Collection { return s.db.Collection(collection) }

// DuplicateError is returned when a unique index refuses a write; Field
// names the unique field whose value is taken.
type DuplicateError struct {
	Collection string
	Field      string
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s: %s already taken", e.Collection, e.Field)
}

func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

type document interface{ meta() *Meta }

// sealer is implemented by documents with secret fields.
type sealer interface {
	seal(*Cipher) error
	open(*Cipher) error
}

// Collection stores documents of type T, which embeds Meta.
type Collection[T any] struct {
	coll   *mongo.Collection
	locks  *documentLocks
	cipher *Cipher
	// unique are the fields with a unique index.
	unique []string
	// stamps holds the collection's stamp, if it keeps one.
	stamps *mongo.Collection
}

func newCollection[T any](db *mongo.Database, locks *documentLocks, name string, cipher *Cipher, unique ...string) *Collection[T] {
	return &Collection[T]{coll: db.Collection(name), locks: locks, cipher: cipher, unique: unique}
}

func metaOf[T any](doc *T) *Meta { return any(doc).(document).meta() }

// Insert stores a new document, giving it an id (unless set), revision 1 and timestamps.
func (c *Collection[T]) Insert(ctx context.Context, doc *T) error {
	m := metaOf(doc)
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	m.Revision, m.CreatedAt, m.UpdatedAt = 1, now, now
	if err := c.seal(doc); err != nil {
		return err
	}
	if _, err := c.coll.InsertOne(ctx, doc); err != nil {
		return c.writeErr(ctx, err, doc)
	}
	c.restamp(ctx)
	return nil
}

// Get finds the document with the given id.
func (c *Collection[T]) Get(ctx context.Context, id string) (*T, error) {
	return c.FindOne(ctx, bson.D{{Key: "_id", Value: id}})
}

// FindOne returns the first document matching filter, one of the queries
// of queries.go.
func (c *Collection[T]) FindOne(ctx context.Context, filter any) (*T, error) {
	doc := new(T)
	if err := c.coll.FindOne(ctx, filter).Decode(doc); err != nil {
		return nil, c.mapErr(err)
	}
	return doc, c.open(doc)
}

// Find returns the documents matching filter (nil: all of them), sorted by
// name then id.
func (c *Collection[T]) Find(ctx context.Context, filter any) ([]T, error) {
	if filter == nil {
		filter = bson.D{}
	}
	cur, err := c.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, c.mapErr(err)
	}
	docs := []T{}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, c.mapErr(err)
	}
	for i := range docs {
		if err := c.open(&docs[i]); err != nil {
			return nil, err
		}
	}
	return docs, nil
}

// Count counts the documents matching filter (nil: all of them).
func (c *Collection[T]) Count(ctx context.Context, filter any) (int64, error) {
	if filter == nil {
		filter = bson.D{}
	}
	n, err := c.coll.CountDocuments(ctx, filter)
	return n, c.mapErr(err)
}

// Update replaces the stored document if its revision is still doc's
// revision, then advances doc's revision. Otherwise it returns ErrStale
// (or ErrNotFound when the document is gone) and changes nothing.
func (c *Collection[T]) Update(ctx context.Context, doc *T) error {
	m := metaOf(doc)
	unlock, err := c.locks.lock(ctx, c.coll.Name()+"/"+m.ID)
	if err != nil {
		return err
	}
	defer unlock()
	expected := m.Revision
	next := *m
	next.Revision = expected + 1
	next.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
	*m = next
	if err := c.seal(doc); err != nil {
		return err
	}
	if err := c.replace(ctx, m.ID, expected, doc); err != nil {
		m.Revision = expected
		return c.writeErr(ctx, err, doc)
	}
	c.restamp(ctx)
	return nil
}

// replace writes doc over the stored document id if that is still at
// revision expected, with the document's lock held.
func (c *Collection[T]) replace(ctx context.Context, id string, expected int64, doc *T) error {
	if !c.locks.ferret {
		res, err := c.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revision", Value: expected}}, doc)
		if err == nil && res.MatchedCount == 0 {
			err = c.missingOrStale(ctx, id)
		}
		return err
	}
	// FerretDB reads a single row only for a filter on _id alone; any other
	// filter decodes the whole collection. The lock held makes reading the
	// revision, then replacing by _id, a compare-and-swap.
	var stored Meta
	err := c.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&stored)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%s %s: %w", c.coll.Name(), id, ErrNotFound)
	case err != nil:
		return err
	case stored.Revision != expected:
		return fmt.Errorf("%s %s: %w", c.coll.Name(), id, ErrStale)
	}
	res, err := c.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc)
	if err == nil && res.MatchedCount == 0 {
		err = fmt.Errorf("%s %s: %w", c.coll.Name(), id, ErrNotFound)
	}
	return err
}

// Delete removes the document with the given id.
func (c *Collection[T]) Delete(ctx context.Context, id string) error {
	res, err := c.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return c.mapErr(err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%s %s: %w", c.coll.Name(), id, ErrNotFound)
	}
	c.restamp(ctx)
	return nil
}

func (c *Collection[T]) missingOrStale(ctx context.Context, id string) error {
	n, err := c.coll.CountDocuments(ctx, bson.D{{Key: "_id", Value: id}})
	switch {
	case err != nil:
		return err
	case n == 0:
		return fmt.Errorf("%s %s: %w", c.coll.Name(), id, ErrNotFound)
	default:
		return fmt.Errorf("%s %s: %w", c.coll.Name(), id, ErrStale)
	}
}

func (c *Collection[T]) seal(doc *T) error {
	if s, ok := any(doc).(sealer); ok {
		return s.seal(c.cipher)
	}
	return nil
}

func (c *Collection[T]) open(doc *T) error {
	if s, ok := any(doc).(sealer); ok {
		return s.open(c.cipher)
	}
	return nil
}

func (c *Collection[T]) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%s: %w", c.coll.Name(), ErrNotFound)
	case mongo.IsDuplicateKeyError(err):
		return &DuplicateError{Collection: c.coll.Name()}
	default:
		return err
	}
}

// writeErr maps err and, for a duplicate, finds the field whose value another
// document holds. (MongoDB names the index in its message, FerretDB does not.)
func (c *Collection[T]) writeErr(ctx context.Context, err error, doc *T) error {
	err = c.mapErr(err)
	var dup *DuplicateError
	if !errors.As(err, &dup) {
		return err
	}
	raw, merr := bson.Marshal(doc)
	if merr != nil {
		return err
	}
	for _, field := range c.unique {
		v, lerr := bson.Raw(raw).LookupErr(field)
		if lerr != nil {
			continue
		}
		filter := bson.D{{Key: field, Value: v}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: metaOf(doc).ID}}}}
		if n, _ := c.coll.CountDocuments(ctx, filter); n > 0 {
			dup.Field = field
			break
		}
	}
	return dup
}
