package placement

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// nodeReads shares the reading of a cluster's nodes and pods between the
// placements running at the same time: two hundred placements at once
// then list a cluster's pods a few times, not two hundred.
type nodeReads struct {
	mu   sync.Mutex
	last map[string]*nodeRead // the latest read of each cluster, by id
}

type nodeRead struct {
	began time.Time
	done  chan struct{}
	nodes []scheduler.Node
	err   error
}

// get returns the cluster's nodes from a read that began at notBefore or
// later, waiting for one in flight or starting one, and when it began.
func (r *nodeReads) get(ctx context.Context, c *store.Cluster, notBefore time.Time) ([]scheduler.Node, time.Time, error) {
	r.mu.Lock()
	read := r.last[c.ID]
	if read == nil || read.began.Before(notBefore) {
		read = &nodeRead{began: time.Now(), done: make(chan struct{})}
		if r.last == nil {
			r.last = map[string]*nodeRead{}
		}
		r.last[c.ID] = read
		// The read serves others too: the first caller going away must
		// not cut it short.
		readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), clusterTimeout)
		go func() {
			defer cancel()
			read.nodes, read.err = readNodes(readCtx, c)
			close(read.done)
		}()
	}
	r.mu.Unlock()
	select {
	case <-read.done:
		return slices.Clone(read.nodes), read.began, read.err
	case <-ctx.Done():
		return nil, read.began, ctx.Err()
	}
}
