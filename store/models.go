package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/smartorch/smartorch/scheduler"
)

// Meta is embedded in every document: identity, optimistic-concurrency
// revision and timestamps, all maintained by the store.
type Meta struct {
	ID        string    `bson:"_id" json:"id"`
	Revision  int64     `bson:"revision" json:"revision"`
	CreatedAt time.Time `bson:"createdAt" json:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt" json:"updatedAt"`
}

func (m *Meta) meta() *Meta { return m }

// User is someone who may log in.
type User struct {
	Meta         `bson:",inline"`
	Username     string `bson:"username" json:"username"`
	PasswordHash []byte `bson:"passwordHash" json:"-"`
}

// Repo kinds.
const (
	RepoHTTP = "http"
	RepoOCI  = "oci"
)

// Repo is a Helm chart repository: an http(s) index or an OCI registry.
type Repo struct {
	Meta        `bson:",inline"`
	Name        string `bson:"name" json:"name"`
	Description string `bson:"description" json:"description"`
	URL         string `bson:"url" json:"url"`
	Kind        string `bson:"kind" json:"type"`
	Username    string `bson:"username,omitempty" json:"username,omitempty"`
	// Password is plaintext in memory only; the store keeps it sealed.
	Password       string `bson:"-" json:"-"`
	SealedPassword []byte `bson:"password,omitempty" json:"-"`
}

func (r *Repo) seal(c *Cipher) error {
	r.SealedPassword = c.Seal([]byte(r.Password), "repos/"+r.ID+"/password")
	return nil
}

func (r *Repo) open(c *Cipher) error {
	p, err := c.Open(r.SealedPassword, "repos/"+r.ID+"/password")
	r.Password = string(p)
	return err
}

// Cluster statuses.
const (
	StatusPending  = "Pending"
	StatusEnabled  = "Enabled"
	StatusError    = "Error"
	StatusRemoving = "Removing"
)

// Cluster is a joined Kubernetes cluster.
type Cluster struct {
	Meta        `bson:",inline"`
	Name        string `bson:"name" json:"name"`
	Description string `bson:"description" json:"description"`
	K8sVersion  string `bson:"k8sVersion" json:"k8s_version"`
	Cloud       bool   `bson:"cloud" json:"cloud"`
	// CloudSlot is set only on the cloud cluster; a unique sparse index on it
	// makes "only ever one cloud cluster" hold under concurrent requests.
	CloudSlot *string `bson:"cloudSlot,omitempty" json:"-"`
	Status    string  `bson:"status" json:"status"`
	// StatusReason says why the status is Error (or what is noteworthy).
	StatusReason string `bson:"statusReason,omitempty" json:"statusReason,omitempty"`
	// OperationID is the workflow of the last operation on the cluster.
	OperationID string `bson:"operationId,omitempty" json:"operationId,omitempty"`
	// ServerVersion is what the API server reported when the cluster joined.
	ServerVersion string   `bson:"serverVersion,omitempty" json:"serverVersion,omitempty"`
	Notes         []string `bson:"notes,omitempty" json:"notes,omitempty"`
	NodeCount     int      `bson:"nodeCount" json:"nodeCount"`
	PodCIDRs      []string `bson:"podCIDRs,omitempty" json:"podCIDRs,omitempty"`
	// PrometheusURL is the cluster's own Prometheus, when it has one the
	// orchestrator should query instead of the central one.
	PrometheusURL string `bson:"prometheusUrl,omitempty" json:"prometheusUrl,omitempty"`
	// MetricsTargets are the host:port endpoints the central Prometheus scrapes.
	MetricsTargets []string `bson:"metricsTargets,omitempty" json:"metricsTargets,omitempty"`
	Mesh           *Mesh    `bson:"mesh,omitempty" json:"mesh,omitempty"`
	// Labels are the operator's, matched by an enabler's clusterSelector.
	Labels map[string]string `bson:"labels,omitempty" json:"labels,omitempty"`
	// Health is what the last probe of the cluster health workflow found.
	Health *ClusterHealth `bson:"health,omitempty" json:"health,omitempty"`
	// Cordon, when set, keeps new placements off the cluster.
	Cordon *Cordon `bson:"cordon,omitempty" json:"cordon,omitempty"`
	// Stale are releases left on the cluster by enablers that moved away
	// while it was unreachable: uninstalled when it answers again.
	Stale []StaleRelease `bson:"stale,omitempty" json:"staleReleases,omitempty"`
	// Credentials (the kubeconfig) are plaintext in memory only.
	Credentials       []byte `bson:"-" json:"-"`
	SealedCredentials []byte `bson:"credentials,omitempty" json:"-"`
}

// Mesh is the cluster's Cilium ClusterMesh membership.
type Mesh struct {
	// ID is the cluster id (1-255); unique among clusters, held until the
	// cluster is removed.
	ID    int      `bson:"id" json:"id"`
	Peers []string `bson:"peers,omitempty" json:"peers,omitempty"`
}

// Cluster health states.
const (
	HealthReady       = "Ready"
	HealthUnreachable = "Unreachable"
	HealthDegraded    = "Degraded"
)

// ClusterHealth is a cluster's health as its probes saw it.
type ClusterHealth struct {
	State string `bson:"state" json:"state"`
	// Since is when the state began; for Unreachable, the first probe that failed.
	Since     time.Time `bson:"since" json:"since"`
	LastProbe time.Time `bson:"lastProbe" json:"lastProbe"`
	Reason    string    `bson:"reason,omitempty" json:"reason,omitempty"`
	// FailingSince is the first of the probes failing now, before they
	// have failed long enough to make the cluster Unreachable.
	FailingSince *time.Time `bson:"failingSince,omitempty" json:"failingSince,omitempty"`
	// Probes counts the probes of the cluster.
	Probes int64 `bson:"probes" json:"probes"`
}

// Cordon is an operator's order to place nothing new on a cluster.
type Cordon struct {
	Reason string    `bson:"reason,omitempty" json:"reason,omitempty"`
	Since  time.Time `bson:"since" json:"since"`
}

// StaleRelease is an enabler's release left behind on a cluster.
type StaleRelease struct {
	EnablerID string `bson:"enablerId" json:"enablerId"`
	Name      string `bson:"name" json:"name"`
	Namespace string `bson:"namespace" json:"namespace"`
}

func (c *Cluster) seal(ci *Cipher) error {
	c.SealedCredentials = ci.Seal(c.Credentials, "clusters/"+c.ID+"/credentials")
	return nil
}

func (c *Cluster) open(ci *Cipher) error {
	var err error
	c.Credentials, err = ci.Open(c.SealedCredentials, "clusters/"+c.ID+"/credentials")
	return err
}

// Prometheus is the URL of the Prometheus that has the cluster's series:
// its own, else central ("" when there is neither).
func (c *Cluster) Prometheus(central string) string {
	if c.PrometheusURL != "" {
		return c.PrometheusURL
	}
	return central
}

// Enabler statuses beyond the cluster ones (Pending, Enabled, Error). The
// -ing ones last while their operation runs; Missing and Degraded are seen
// by the cluster health probe, when the release is gone or not ready.
const (
	StatusTerminating = "Terminating"
	StatusTerminated  = "Terminated"
	StatusDeleting    = "Deleting"
	StatusUpgrading   = "Upgrading"
	StatusRollingBack = "RollingBack"
	StatusMissing     = "Missing"
	StatusDegraded    = "Degraded"
	// StatusMoving lasts while a failover or a drain re-places the enabler.
	StatusMoving = "Moving"
)

// Enabler is a Helm release managed by the orchestrator.
type Enabler struct {
	Meta `bson:",inline"`
	// Name is also the Helm release name.
	Name      string `bson:"name" json:"name"`
	HelmChart string `bson:"helmChart" json:"helmChart"`
	// Version is the chart version asked for (exact, a constraint or empty
	// for the latest); ChartVersion is the exact version it resolved to.
	Version      string `bson:"version,omitempty" json:"version,omitempty"`
	ChartVersion string `bson:"chartVersion,omitempty" json:"chartVersion,omitempty"`
	Namespace    string `bson:"namespace" json:"namespace"`
	// Values are the Helm values (the seed's additionalParams), plaintext in
	// memory only: they often carry passwords.
	Values       map[string]any `bson:"-" json:"additionalParams"`
	SealedValues []byte         `bson:"values,omitempty" json:"-"`
	// Auto asks for placement by Policy; otherwise Target (the seed's vim,
	// a cluster name or id) is where it goes.
	Auto           bool   `bson:"auto" json:"auto"`
	Policy         string `bson:"policy,omitempty" json:"placementPolicy,omitempty"`
	Target         string `bson:"target,omitempty" json:"vim,omitempty"`
	TimeoutSeconds int    `bson:"timeoutSeconds" json:"timeout"`
	// ClusterID and Cluster (its name) say where the enabler was placed.
	ClusterID    string `bson:"clusterId,omitempty" json:"clusterId,omitempty"`
	Cluster      string `bson:"cluster,omitempty" json:"cluster,omitempty"`
	Status       string `bson:"status" json:"status"`
	StatusReason string `bson:"statusReason,omitempty" json:"statusReason,omitempty"`
	OperationID  string `bson:"operationId,omitempty" json:"operationId,omitempty"`
	// Placement is the decision record: every cluster's inputs and verdict.
	Placement *scheduler.Decision `bson:"placement,omitempty" json:"placement,omitempty"`
	// ReleaseRevision is the Helm revision the last operation deployed.
	ReleaseRevision int `bson:"releaseRevision,omitempty" json:"releaseRevision,omitempty"`
	// Previous is what an upgrade replaced: restored if the upgrade fails.
	Previous *PreviousRelease `bson:"previous,omitempty" json:"previous,omitempty"`
	// VolumeCleanup reports the last volume cleanup.
	VolumeCleanup *VolumeCleanup `bson:"volumeCleanup,omitempty" json:"volumeCleanup,omitempty"`
	// GlobalTargets names the clusters its global services are mirrored
	// into. Nil means the default, the original's direction: every edge
	// cluster mesh-connected to the enabler's cluster (so a cloud enabler's
	// services reach every edge); empty means nowhere.
	GlobalTargets *[]string `bson:"globalTargets,omitempty" json:"globalServiceTargets,omitempty"`
	// GlobalServices are the release's global services and their mirrors.
	GlobalServices []GlobalService `bson:"globalServices,omitempty" json:"globalServices,omitempty"`
	// ClusterSelector and AvoidClusters constrain automatic placement
	// (scheduler.Constraints). Forecast false places on live values only;
	// ForecastHorizon is how far ahead forecasts look (a Go duration).
	ClusterSelector string   `bson:"clusterSelector,omitempty" json:"clusterSelector,omitempty"`
	AvoidClusters   []string `bson:"avoidClusters,omitempty" json:"avoidClusters,omitempty"`
	Forecast        *bool    `bson:"forecast,omitempty" json:"forecast,omitempty"`
	ForecastHorizon string   `bson:"forecastHorizon,omitempty" json:"forecastHorizon,omitempty"`
	// Failover, when enabled, re-places the enabler after its cluster has
	// been unreachable for the grace.
	Failover *Failover `bson:"failover,omitempty" json:"failover,omitempty"`
}

// Failover is an enabler's opt-in to be re-placed off a dead cluster.
type Failover struct {
	Enabled bool `bson:"enabled" json:"enabled"`
	// GraceSeconds is how long its cluster may be unreachable first; nil
	// is the worker's default (SMARTORCH_FAILOVER_GRACE).
	GraceSeconds *int `bson:"graceSeconds,omitempty" json:"graceSeconds,omitempty"`
}

// FailsOver reports whether the enabler has failover enabled.
func (e *Enabler) FailsOver() bool { return e.Failover != nil && e.Failover.Enabled }

// GlobalService is a Service of an enabler's release marked global, and
// where it is mirrored.
type GlobalService struct {
	Name      string        `bson:"name" json:"name"`
	Namespace string        `bson:"namespace" json:"namespace"`
	Ports     []ServicePort `bson:"ports" json:"ports"`
	Mirrors   []Mirror      `bson:"mirrors" json:"mirrors"`
}

// ServicePort is a port of a global service.
type ServicePort struct {
	Name     string `bson:"name,omitempty" json:"name,omitempty"`
	Port     int32  `bson:"port" json:"port"`
	Protocol string `bson:"protocol" json:"protocol"`
}

// Mirror is a global service's copy in another cluster.
type Mirror struct {
	Cluster string `bson:"cluster" json:"cluster"`
	State   string `bson:"state" json:"state"`
	Reason  string `bson:"reason,omitempty" json:"reason,omitempty"`
}

// Mirror states.
const (
	MirrorSynced = "Mirrored"
	// MirrorConflict: the cluster has a Service of that name the
	// orchestrator did not create; it is left alone.
	MirrorConflict = "Conflict"
	// MirrorNotConnected: a target the enabler names is not joined or not
	// mesh-connected to the enabler's cluster.
	MirrorNotConnected = "NotConnected"
	MirrorFailed       = "Error"
)

// MirrorProblems says which mirrors are missing and why, or "".
func (e *Enabler) MirrorProblems() string {
	var problems []string
	for _, s := range e.GlobalServices {
		for _, m := range s.Mirrors {
			if m.State != MirrorSynced {
				problems = append(problems, fmt.Sprintf("global service %s/%s is not mirrored to %s: %s", s.Namespace, s.Name, m.Cluster, m.Reason))
			}
		}
	}
	return strings.Join(problems, "; ")
}

// PreviousRelease is the version and values an upgrade replaced.
type PreviousRelease struct {
	Version      string         `bson:"version,omitempty" json:"version,omitempty"`
	ChartVersion string         `bson:"chartVersion,omitempty" json:"chartVersion,omitempty"`
	Revision     int            `bson:"revision" json:"revision"`
	Values       map[string]any `bson:"-" json:"additionalParams"`
	SealedValues []byte         `bson:"values,omitempty" json:"-"`
}

// VolumeCleanup is what a volume cleanup deleted.
type VolumeCleanup struct {
	At      time.Time `bson:"at" json:"at"`
	Deleted []Volume  `bson:"deleted" json:"deleted"`
}

// Volume is a claim of a release and the volume it was bound to.
type Volume struct {
	Claim         string `bson:"claim" json:"claim"`
	Namespace     string `bson:"namespace" json:"namespace"`
	Volume        string `bson:"volume,omitempty" json:"volume,omitempty"`
	ReclaimPolicy string `bson:"reclaimPolicy,omitempty" json:"reclaimPolicy,omitempty"`
	Capacity      string `bson:"capacity,omitempty" json:"capacity,omitempty"`
	VolumeDeleted bool   `bson:"volumeDeleted" json:"volumeDeleted"`
}

func (e *Enabler) seal(c *Cipher) (err error) {
	if e.SealedValues, err = sealJSON(c, e.Values, "enablers/"+e.ID+"/values"); err != nil || e.Previous == nil {
		return err
	}
	e.Previous.SealedValues, err = sealJSON(c, e.Previous.Values, "enablers/"+e.ID+"/previous/values")
	return err
}

func (e *Enabler) open(c *Cipher) error {
	if err := openJSON(c, e.SealedValues, "enablers/"+e.ID+"/values", &e.Values); err != nil || e.Previous == nil {
		return err
	}
	return openJSON(c, e.Previous.SealedValues, "enablers/"+e.ID+"/previous/values", &e.Previous.Values)
}

func sealJSON(c *Cipher, v map[string]any, aad string) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return c.Seal(data, aad), nil
}

func openJSON(c *Cipher, sealed []byte, aad string, v *map[string]any) error {
	data, err := c.Open(sealed, aad)
	if err != nil {
		return err
	}
	*v = map[string]any{}
	return json.Unmarshal(data, v)
}

// Reservation holds, for one cluster (its id is the document's), the
// capacity of placements decided but not yet running. Placements update it
// with compare-and-swap, so concurrent ones never promise the same room twice.
type Reservation struct {
	Meta  `bson:",inline"`
	Holds []Hold `bson:"holds" json:"holds"`
	// FreedAt is when a hold last left the document (released or swept):
	// cluster state read before then may lack the pods that took its place.
	FreedAt time.Time `bson:"freedAt,omitempty" json:"freedAt,omitzero"`
}

// Hold is what one enabler's placement keeps on each node, until its
// lease ends: after Expires it counts for nothing and the next placement on
// the cluster removes it, so a hold that outlives its workflow (a write
// that landed after its attempt was given up) cannot keep capacity for ever.
type Hold struct {
	EnablerID string                `bson:"enablerId" json:"enablerId"`
	Nodes     []scheduler.NodeShare `bson:"nodes" json:"nodes"`
	Since     time.Time             `bson:"since" json:"since"`
	Expires   time.Time             `bson:"expires" json:"expires"`
}

// legacyLease is the lease of a hold stored before holds had one.
const legacyLease = time.Hour

// End is when the hold's lease ends.
func (h Hold) End() time.Time {
	if h.Expires.IsZero() {
		return h.Since.Add(legacyLease)
	}
	return h.Expires
}

// Live reports whether the hold still counts at now.
func (h Hold) Live(now time.Time) bool { return now.Before(h.End()) }

// Freed is when the document's capacity was last given back at now: a hold
// released or swept, or one whose lease has ended.
func (r *Reservation) Freed(now time.Time) time.Time {
	freed := r.FreedAt
	for _, h := range r.Holds {
		if !h.Live(now) && h.End().After(freed) {
			freed = h.End()
		}
	}
	return freed
}
