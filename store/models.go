package store

import (
	"encoding/json"
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

func (c *Cluster) seal(ci *Cipher) error {
	c.SealedCredentials = ci.Seal(c.Credentials, "clusters/"+c.ID+"/credentials")
	return nil
}

func (c *Cluster) open(ci *Cipher) error {
	var err error
	c.Credentials, err = ci.Open(c.SealedCredentials, "clusters/"+c.ID+"/credentials")
	return err
}

// Enabler statuses beyond the cluster ones (Pending, Enabled, Error).
const (
	StatusTerminated = "Terminated"
	StatusMissing    = "Missing"
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
}

func (e *Enabler) seal(c *Cipher) error {
	data, err := json.Marshal(e.Values)
	if err != nil {
		return err
	}
	e.SealedValues = c.Seal(data, "enablers/"+e.ID+"/values")
	return nil
}

func (e *Enabler) open(c *Cipher) error {
	data, err := c.Open(e.SealedValues, "enablers/"+e.ID+"/values")
	if err != nil {
		return err
	}
	e.Values = map[string]any{}
	return json.Unmarshal(data, &e.Values)
}

// Reservation holds, for one cluster (its id is the document's), the
// capacity of placements decided but not yet running. Placements update it
// with compare-and-swap, so concurrent ones never promise the same room twice.
type Reservation struct {
	Meta  `bson:",inline"`
	Holds []Hold `bson:"holds" json:"holds"`
}

// Hold is what one enabler's placement keeps on each node.
type Hold struct {
	EnablerID string                `bson:"enablerId" json:"enablerId"`
	Nodes     []scheduler.NodeShare `bson:"nodes" json:"nodes"`
	Since     time.Time             `bson:"since" json:"since"`
}
