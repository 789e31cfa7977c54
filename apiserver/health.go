package apiserver

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/store"
)

// health is what a look at an enabler's release found.
type health struct {
	ReleaseStatus string    `json:"releaseStatus,omitempty"`
	Revision      int       `json:"revision,omitempty"`
	Ready         bool      `json:"ready"`
	NotReady      []string  `json:"notReady,omitempty"`
	Error         string    `json:"error,omitempty"`
	CheckedAt     time.Time `json:"checkedAt"`
}

// enablerView is an enabler as GET /api/enabler/:id shows it.
type enablerView struct {
	*store.Enabler
	Health *health `json:"health,omitempty"`
}

// healthCache keeps each enabler's last look for a short while, so reads
// stay cheap without any poller running in the background.
type healthCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]*health
}

func newHealthCache(ttl time.Duration) *healthCache {
	return &healthCache{ttl: ttl, entries: map[string]*health{}}
}

// observed are the statuses of an enabler whose release is worth a look: no
// operation is running on it and it is meant to be installed.
var observed = []string{store.StatusEnabled, store.StatusMissing, store.StatusDegraded}

// withHealth looks at the enabler's release (or reuses a recent look). It
// only shows what it found: the cluster health probe records the status the
// release calls for.
func (s *server) withHealth(c *fiber.Ctx, e *store.Enabler) enablerView {
	view := enablerView{Enabler: e}
	if !slices.Contains(observed, e.Status) || e.ClusterID == "" {
		return view
	}
	// Keyed by revision: a look from before the last change does not count.
	key := fmt.Sprintf("%s@%d", e.ID, e.Revision)
	h := s.health.get(key)
	if h == nil {
		h = s.look(c, e)
		s.health.put(key, h)
	}
	view.Health = h
	return view
}

func (s *server) look(c *fiber.Ctx, e *store.Enabler) *health {
	h := &health{CheckedAt: time.Now().UTC()}
	t, err := s.releaseTarget(c, e)
	if err != nil {
		h.Error = err.Error()
		return h
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 5*time.Second)
	defer cancel()
	got, err := release.Check(ctx, t, e.Name)
	switch {
	case err != nil:
		h.Error = fmt.Sprintf("cluster %s: %v", e.Cluster, err)
	case got.Release != nil:
		h.ReleaseStatus, h.Revision, h.Ready, h.NotReady = got.Release.Status, got.Release.Revision, got.Ready, got.NotReady
	}
	return h
}

func (hc *healthCache) get(id string) *health {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	h := hc.entries[id]
	if h == nil || time.Since(h.CheckedAt) > hc.ttl {
		return nil
	}
	return h
}

func (hc *healthCache) put(id string, h *health) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	for k, old := range hc.entries {
		if time.Since(old.CheckedAt) > hc.ttl {
			delete(hc.entries, k)
		}
	}
	hc.entries[id] = h
}
