package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/smartorch/smartorch/store"
)

// Page sizes of GET /api/enabler/instanced.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// enablerList keeps the summaries of every enabler in memory, sorted by
// name, and reads them again only when the store's stamp of the enablers
// has changed. On FerretDB any sorted or paged query scans and sorts the
// whole collection, which at ten thousand enablers costs far more than a
// list request may take; reading the stamp is one row.
type enablerList struct {
	store *store.Store
	// maxAge bounds how long a copy is served without reading it again in
	// the background, in case a writer failed to restamp.
	maxAge time.Duration

	mu         sync.Mutex
	stamp      string
	loaded     time.Time
	snapshot   *enablerSnapshot
	refreshing bool
}

// enablerSnapshot is the list as read at one stamp; it is replaced whole,
// never modified.
type enablerSnapshot struct {
	summaries []store.EnablerSummary
	// encoded are the summaries in JSON: pages are cut from them, since
	// encoding a page would cost more than everything else a list does.
	encoded [][]byte
}

func newEnablerSnapshot(summaries []store.EnablerSummary) (*enablerSnapshot, error) {
	s := &enablerSnapshot{summaries: summaries, encoded: make([][]byte, len(summaries))}
	for i := range summaries {
		data, err := json.Marshal(&summaries[i])
		if err != nil {
			return nil, err
		}
		s.encoded[i] = data
	}
	return s, nil
}

// read loads the summaries and encodes them.
func (l *enablerList) read(ctx context.Context) (*enablerSnapshot, error) {
	summaries, err := l.store.EnablerSummaries(ctx)
	if err != nil {
		return nil, err
	}
	return newEnablerSnapshot(summaries)
}

// current returns the summaries, including every write that finished
// before the call.
func (l *enablerList) current(ctx context.Context) (*enablerSnapshot, error) {
	stamp, err := l.store.Enablers.Stamp(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.snapshot != nil && l.stamp == stamp {
		if time.Since(l.loaded) > l.maxAge && !l.refreshing {
			l.refreshing = true
			go l.refresh()
		}
		return l.snapshot, nil
	}
	// Holding the lock while reading makes concurrent requests wait for one
	// read. The read goes on if this request gives up: the requests waiting
	// for it still need it. (On FerretDB ten thousand enablers take seconds.)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	snapshot, err := l.read(rctx)
	if err != nil {
		return nil, err
	}
	l.stamp, l.snapshot, l.loaded = stamp, snapshot, time.Now()
	return snapshot, nil
}

func (l *enablerList) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stamp, err := l.store.Enablers.Stamp(ctx)
	var snapshot *enablerSnapshot
	if err == nil {
		snapshot, err = l.read(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refreshing = false
	if err == nil {
		l.stamp, l.snapshot, l.loaded = stamp, snapshot, time.Now()
	}
}

// listEnablers answers a page of enabler summaries, by name. The cursor is
// the last name of the previous page, so a page never repeats or skips an
// enabler that existed through the paging, whatever is added or removed
// meanwhile. The JSON stays an array, as the original's; the total and
// the next page's address are in the X-Total-Count and Link headers.
func (s *server) listEnablers(c *fiber.Ctx) error {
	limit, after, err := pageParams(c)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	list, err := s.enablers.current(ctx)
	if err != nil {
		return err
	}
	all := list.summaries
	start := sort.Search(len(all), func(i int) bool { return all[i].Name > after })
	end := min(start+limit, len(all))
	c.Set("X-Total-Count", strconv.Itoa(len(all)))
	if end < len(all) {
		next := url.Values{"limit": {strconv.Itoa(limit)}, "cursor": {encodeCursor(all[end-1].Name)}}
		c.Set(fiber.HeaderLink, fmt.Sprintf(`<%s?%s>; rel="next"`, c.Path(), next.Encode()))
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	page := list.encoded[start:end]
	size := 2 + len(page)
	for _, item := range page {
		size += len(item)
	}
	body := append(make([]byte, 0, size), '[')
	for i, item := range page {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, item...)
	}
	return c.Send(append(body, ']'))
}

// pageParams reads ?limit= and ?cursor=; after is "" for the first page.
func pageParams(c *fiber.Ctx) (limit int, after string, err error) {
	limit = defaultPageSize
	if v := c.Query("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxPageSize {
			return 0, "", apiError(fiber.StatusBadRequest, "limit: want a whole number from 1 to %d, got %q", maxPageSize, v)
		}
	}
	if v := c.Query("cursor"); v != "" {
		if after, err = decodeCursor(v); err != nil {
			return 0, "", apiError(fiber.StatusBadRequest, "cursor: %q is not a cursor this API gave out (take it from the Link header)", v)
		}
	}
	return limit, after, nil
}

func encodeCursor(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func decodeCursor(cursor string) (string, error) {
	name, err := base64.RawURLEncoding.DecodeString(cursor)
	if err == nil && (len(name) == 0 || len(name) > 253) {
		err = fmt.Errorf("bad cursor length")
	}
	return string(name), err
}
