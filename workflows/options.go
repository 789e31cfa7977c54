package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/smartorch/smartorch/activities"
)

// The activity handles: workflows name activities by these methods (nil
// receivers, never called here); the worker registers the real ones.
var (
	clusters *activities.Clusters
	enablers *activities.Enablers
)

// Activity options, each with an explicit retry policy. When a policy's
// attempts are used up the operation waits for the operator.
var (
	// clusterCall talks to a cluster's API server: a dead one is retried
	// for about a minute.
	clusterCall = workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    15 * time.Second,
			MaximumAttempts:    6,
		},
	}
	// longClusterCall is a cluster call that may take minutes (an install,
	// an uninstall waiting for the resources to go). It heartbeats, so a
	// worker that dies during it is noticed within the heartbeat timeout.
	longClusterCall = workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    20 * time.Second,
		RetryPolicy:         clusterCall.RetryPolicy,
	}
	// waitReady waits within the enabler's own timeout (at most an hour),
	// heartbeating. Not ready in time is for the operator to judge, at
	// once; a wait cut short (a worker lost, a dead API server) is retried
	// like a cluster call.
	waitReady = workflow.ActivityOptions{
		StartToCloseTimeout: 65 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        15 * time.Second,
			MaximumAttempts:        6,
			NonRetryableErrorTypes: []string{activities.ErrorNotReady},
		},
	}
	// placeCall places an enabler. When nothing fits while other placements
	// are in flight it is retried for minutes, until they settle. A worker
	// decides its placements one at a time, so under load an attempt may
	// queue for a minute or more: it is given five, and heartbeats, so an
	// attempt whose worker died is retried within seconds. (An attempt cut
	// short can still have its hold written, one the lease then ends.)
	placeCall = workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 1.5,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    40,
		},
	}
	// storeCall reads or writes the orchestrator's own store, which is
	// expected back soon after any outage: retried for about five minutes.
	storeCall = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    15,
		},
	}
)

// recordWait waits for the API to record the request that started the
// workflow: for about a minute (seven attempts of five seconds and the
// intervals between), well past the API's 30-second request timeout, so a
// record written at all is seen.
var recordWait = workflow.ActivityOptions{
	StartToCloseTimeout: 10 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
		MaximumAttempts:    7,
	},
}

// probeCall probes a cluster (bounded by its own timeout inside) or starts
// a workflow: retried briefly, the next probe is the real retry.
var probeCall = workflow.ActivityOptions{
	StartToCloseTimeout: time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
		MaximumAttempts:    3,
	},
}

// WorkflowID names the workflow of an operation on a resource, so a
// repeated request finds the running one instead of starting another.
func WorkflowID(operation, resourceID string) string { return operation + "-" + resourceID }

// Operation names, the prefixes of workflow ids.
const (
	OpJoinCluster   = "cluster-join"
	OpRemoveCluster = "cluster-remove"
	OpInstantiate   = "enabler-instantiate"
	OpTerminate     = "enabler-terminate"
	OpDelete        = "enabler-delete"
	OpVolumes       = "enabler-volumes"
	OpUpgrade       = "enabler-upgrade"
	OpRollback      = "enabler-rollback"
	OpFailover      = "enabler-failover"
	OpDrain         = "enabler-drain"
	OpClusterHealth = "cluster-health"
)
