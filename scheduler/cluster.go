package scheduler

import "time"

// Node is one node of a cluster as the caller observed it.
type Node struct {
	Name        string
	Schedulable bool // Ready, not cordoned, no NoSchedule/NoExecute taint (decided by the caller)
	Allocatable Resources
	Requested   Resources // requests of the non-terminal pods bound to the node
	Reserved    Resources // capacity held for placements still in flight
}

// Traffic is a cluster's network receive rate.
type Traffic struct {
	BytesPerSecond float64   `json:"bytesPerSecond"`
	At             time.Time `json:"at,omitzero"`
	Error          string    `json:"error,omitempty"` // why there is no figure (Prometheus unreachable, no series, ...)
}

// Cluster is one cluster as the caller observed it.
type Cluster struct {
	ID, Name    string
	Cloud       bool
	Unavailable string // non-empty: not a candidate, with this reason (e.g. "status Pending")
	Nodes       []Node
	Traffic     *Traffic          // nil when not gathered
	Labels      map[string]string // the operator's labels, matched by a clusterSelector
	Forecast    *Forecast         // load from Prometheus history; nil when not gathered
}
