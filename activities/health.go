package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/clusterstate"
	"github.com/smartorch/smartorch/kubeconfig"
	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// HealthSettings are the cluster health workflow's timings.
type HealthSettings struct {
	// Interval is the time between two probes of a watched cluster.
	Interval time.Duration
	// UnreachableAfter is how long probes must fail before the cluster is
	// Unreachable.
	UnreachableAfter time.Duration
	// Grace is how long a cluster may be Unreachable before its enablers
	// fail over, for those that do not set their own.
	Grace time.Duration
}

// DefaultHealthSettings are the defaults of SMARTORCH_HEALTH_INTERVAL,
// SMARTORCH_HEALTH_UNREACHABLE_AFTER and SMARTORCH_FAILOVER_GRACE.
var DefaultHealthSettings = HealthSettings{Interval: 15 * time.Second, UnreachableAfter: 40 * time.Second, Grace: 5 * time.Minute}

// Health are the activities of the cluster health workflow. They start
// workflows themselves (through Temporal) because this package cannot
// name them: the workflow passes their names.
type Health struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	Settings  HealthSettings
	Logger    *slog.Logger
}

// Probe is what one probe found, and what the health workflow does next.
type Probe struct {
	Cluster string // its name
	State   string
	Since   time.Time
	Reason  string
	// Watched: the cluster hosts an enabler with failover enabled, or
	// stale releases wait to be removed; otherwise probing stops.
	Watched bool
	// Interval is the time until the next probe.
	Interval time.Duration
	// Failover are the enablers to move off the cluster once their grace
	// has passed (only while it is Unreachable).
	Failover []FailoverCandidate
	// Recover: the cluster answers and has stale releases to remove, or
	// was Unreachable just before this probe.
	Recover bool
}

// FailoverCandidate is an enabler with failover enabled on a dead cluster.
type FailoverCandidate struct {
	EnablerID string
	Name      string
	Grace     time.Duration
}

// probeTimeout bounds one look at the API server: a dead one fails the
// probe, it does not stall it.
const probeTimeout = 5 * time.Second

// installed are the statuses of an enabler whose release should be running.
var installed = []string{store.StatusEnabled, store.StatusDegraded, store.StatusMissing}

// ProbeCluster looks at the cluster's API server, its nodes and the
// releases of its enablers, and records the cluster's health. While the
// cluster is Unreachable its installed enablers are shown Degraded; when
// it answers, each shows what its release is: Missing when it is gone,
// Degraded when it failed or is not ready, Enabled otherwise.
func (a *Health) ProbeCluster(ctx context.Context, clusterID string) (Probe, error) {
	c, err := a.Store.Clusters.Get(ctx, clusterID)
	if errors.Is(err, store.ErrNotFound) {
		return Probe{}, nil // removed: nothing to watch
	}
	if err != nil {
		return Probe{}, err
	}
	on, err := a.Store.Enablers.Find(ctx, store.OnCluster(clusterID))
	if err != nil {
		return Probe{}, err
	}
	now := time.Now().UTC()
	seen, problem, releases := a.look(ctx, c, on)
	prev := c.Health
	next := nextHealth(prev, seen, problem, now, a.Settings.UnreachableAfter)
	// The enablers first: once the probe is recorded on the cluster (what a
	// check waits for), their status says what it found.
	if err := a.showStatus(ctx, c.Name, on, next.State == store.HealthUnreachable, next, releases); err != nil {
		return Probe{}, err
	}
	err = a.Store.Clusters.Modify(ctx, clusterID, func(c *store.Cluster) {
		n := next
		if c.Health != nil {
			n.Probes = c.Health.Probes
		}
		n.Probes++
		c.Health = &n
	})
	if err != nil {
		return Probe{}, err
	}
	wasUnreachable := prev != nil && prev.State == store.HealthUnreachable
	p := Probe{Cluster: c.Name, State: next.State, Since: next.Since, Reason: next.Reason, Interval: a.Settings.Interval, Watched: len(c.Stale) > 0}
	for _, e := range on {
		if !e.FailsOver() || e.Status == store.StatusTerminated || e.Status == store.StatusDeleting {
			continue
		}
		p.Watched = true
		if next.State == store.HealthUnreachable && slices.Contains(installed, e.Status) {
			p.Failover = append(p.Failover, FailoverCandidate{EnablerID: e.ID, Name: e.Name, Grace: a.grace(e.Failover)})
		}
	}
	p.Recover = next.State != store.HealthUnreachable && (len(c.Stale) > 0 || wasUnreachable)
	return p, nil
}

func (a *Health) grace(f *store.Failover) time.Duration {
	if f.GraceSeconds != nil {
		return time.Duration(*f.GraceSeconds) * time.Second
	}
	return a.Settings.Grace
}

// releaseSeen is the status and reason an enabler's release calls for.
type releaseSeen struct{ status, reason string }

// look probes the cluster once: reached says whether its API server
// answered; problem is what is wrong (unreachable, nodes or releases not
// ready), or ""; releases are what the releases of the installed enablers
// call for, by enabler id (none for a release that could not be checked).
func (a *Health) look(ctx context.Context, c *store.Cluster, on []store.Enabler) (reached bool, problem string, releases map[string]releaseSeen) {
	client, _, err := kubeconfig.Client(c.Credentials)
	if err != nil {
		return false, "credentials: " + err.Error(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "API server unreachable: " + err.Error(), nil
	}
	releases = map[string]releaseSeen{}
	var problems []string
	for i := range nodes.Items {
		if !clusterstate.Ready(&nodes.Items[i]) {
			problems = append(problems, "node "+nodes.Items[i].Name+" is not Ready")
		}
	}
	for _, e := range on {
		if !slices.Contains(installed, e.Status) {
			continue
		}
		h, err := release.Check(ctx, release.Target{Kubeconfig: c.Credentials, Namespace: e.Namespace, Logger: a.Logger}, e.Name)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("release %s: %v", e.Name, err))
		case h.Release == nil:
			problems = append(problems, "release "+e.Name+" is not installed")
			releases[e.ID] = releaseSeen{store.StatusMissing, fmt.Sprintf("release %s is not installed on %s: it was removed outside the orchestrator", e.Name, c.Name)}
		case h.Release.Status != "deployed":
			problems = append(problems, fmt.Sprintf("release %s is %s, not ready: %s", e.Name, h.Release.Status, strings.Join(h.NotReady, "; ")))
			releases[e.ID] = releaseSeen{store.StatusDegraded, "release status is " + h.Release.Status}
		case !h.Ready:
			problems = append(problems, fmt.Sprintf("release %s is %s, not ready: %s", e.Name, h.Release.Status, strings.Join(h.NotReady, "; ")))
			releases[e.ID] = releaseSeen{store.StatusDegraded, "not ready: " + strings.Join(h.NotReady, "; ")}
		default:
			releases[e.ID] = releaseSeen{store.StatusEnabled, e.MirrorProblems()}
		}
	}
	return true, strings.Join(problems, "; "), releases
}

// nextHealth is the health after a probe. Probes failing for less than
// unreachableAfter keep the state and say since when they fail.
func nextHealth(prev *store.ClusterHealth, reached bool, problem string, now time.Time, unreachableAfter time.Duration) store.ClusterHealth {
	state := store.HealthReady
	if problem != "" {
		state = store.HealthDegraded
	}
	var failingSince *time.Time
	if !reached {
		first := now
		switch {
		case prev != nil && prev.State == store.HealthUnreachable:
			first = prev.Since
		case prev != nil && prev.FailingSince != nil:
			first = *prev.FailingSince
		}
		switch {
		case now.Sub(first) >= unreachableAfter:
			state = store.HealthUnreachable
		case prev != nil:
			state, failingSince = prev.State, &first
		default:
			// Never reached yet: Unreachable only once probes fail for long enough.
			state, failingSince = store.HealthDegraded, &first
		}
		if state == store.HealthUnreachable {
			return store.ClusterHealth{State: state, Since: first, LastProbe: now, Reason: problem}
		}
	}
	since := now
	if prev != nil && prev.State == state {
		since = prev.Since
	}
	return store.ClusterHealth{State: state, Since: since, LastProbe: now, Reason: problem, FailingSince: failingSince}
}

// outagePrefix starts the reason of an enabler Degraded by its cluster's outage.
func outagePrefix(cluster string) string { return "cluster " + cluster + " is Unreachable" }

// showStatus marks the installed enablers of an Unreachable cluster
// Degraded. Once it answers, each shows what its release calls for, or,
// when its release could not be checked, Enabled again if the outage had
// marked it.
func (a *Health) showStatus(ctx context.Context, cluster string, on []store.Enabler, down bool, h store.ClusterHealth, releases map[string]releaseSeen) error {
	enablers := &Enablers{Store: a.Store}
	for _, e := range on {
		ours := e.Status == store.StatusDegraded && strings.HasPrefix(e.StatusReason, outagePrefix(cluster))
		seen, checked := releases[e.ID]
		var err error
		switch {
		case down:
			if e.Status == store.StatusEnabled {
				err = enablers.SetEnablerStatus(ctx, e.ID, store.StatusDegraded, fmt.Sprintf("%s since %s: %s", outagePrefix(cluster), h.Since.Format(time.RFC3339), h.Reason))
			}
		case checked && (seen.status != e.Status || seen.reason != e.StatusReason):
			e.Status, e.StatusReason = seen.status, seen.reason
			// Against the record the probe read: an operation started since
			// wins, its status is the newer truth.
			if err = a.Store.Enablers.Update(ctx, &e); errors.Is(err, store.ErrStale) {
				err = nil
			}
		case !checked && ours:
			err = enablers.SetEnablerStatus(ctx, e.ID, store.StatusEnabled, "")
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Start names a workflow to start.
type Start struct {
	ID       string
	Workflow string
}

// StartMove starts the workflow s that moves the enabler off the cluster
// from, unless it is there no more or another operation runs on it (a later
// probe tries again). The enabler's operation becomes s.ID first, with
// compare-and-swap, so it and an operator's request never both start.
func (a *Health) StartMove(ctx context.Context, s Start, enablerID string, move scheduler.Move) (bool, error) {
	e, err := a.Store.Enablers.Get(ctx, enablerID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if e.ClusterID != move.FromID {
		return false, nil
	}
	if e.OperationID != s.ID {
		if running, err := a.running(ctx, e.OperationID); err != nil || running {
			return false, err
		}
		e.OperationID = s.ID
		if err := a.Store.Enablers.Update(ctx, e); err != nil {
			return false, err // stale: retried
		}
	}
	_, err = a.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: s.ID, TaskQueue: a.TaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, s.Workflow, enablerID, move)
	return err == nil, err
}

// WatchEnabler starts the health workflow s of the enabler's cluster,
// unless it runs or the enabler does not fail over. s.ID is the prefix of
// the workflow's id, which the cluster id completes.
func (a *Health) WatchEnabler(ctx context.Context, s Start, enablerID string) error {
	e, err := a.Store.Enablers.Get(ctx, enablerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || !e.FailsOver() || e.ClusterID == "" {
		return err
	}
	_, err = a.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: s.ID + "-" + e.ClusterID, TaskQueue: a.TaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, s.Workflow, e.ClusterID)
	return err
}

// running reports whether the workflow id runs.
func (a *Health) running(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	desc, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
}

// RemoveStaleReleases uninstalls the releases left on the cluster by
// enablers that moved away. A release whose enabler is back on this
// cluster is its own again and stays; one whose enabler is moving stays
// until the move ends.
func (a *Health) RemoveStaleReleases(ctx context.Context, clusterID string) error {
	c, err := a.Store.Clusters.Get(ctx, clusterID)
	if err != nil {
		return err
	}
	var done []string
	var errs []error
	for _, s := range c.Stale {
		e, err := a.Store.Enablers.Get(ctx, s.EnablerID)
		switch {
		case err == nil && e.ClusterID == clusterID && e.Status == store.StatusMoving:
			continue
		case err == nil && e.ClusterID == clusterID:
			done = append(done, s.EnablerID)
			continue
		case err != nil && !errors.Is(err, store.ErrNotFound):
			errs = append(errs, err)
			continue
		}
		err = removeRelease(ctx, c, s, a.Logger)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, s.EnablerID)
	}
	if len(done) > 0 {
		errs = append(errs, a.Store.Clusters.Modify(ctx, clusterID, func(c *store.Cluster) {
			c.Stale = slices.DeleteFunc(c.Stale, func(s store.StaleRelease) bool { return slices.Contains(done, s.EnablerID) })
		}))
	}
	return errors.Join(errs...)
}

// removeRelease uninstalls s from c if it is still the enabler's.
func removeRelease(ctx context.Context, c *store.Cluster, s store.StaleRelease, logger *slog.Logger) error {
	ctx, stop := heartbeat(ctx)
	defer stop()
	err := release.Uninstall(ctx, release.Target{Kubeconfig: c.Credentials, Namespace: s.Namespace, Logger: logger}, s.Name, s.EnablerID)
	if errors.Is(err, release.ErrNotOwned) {
		return nil // another release of that name: not ours to remove
	}
	if err != nil {
		return fmt.Errorf("cluster %s: uninstall stale release %s: %w", c.Name, s.Name, err)
	}
	return nil
}
