package store

import "time"

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

// Enabler is a Helm release managed by the orchestrator.
type Enabler struct {
	Meta      `bson:",inline"`
	Name      string `bson:"name" json:"name"`
	HelmChart string `bson:"helmChart" json:"helmChart"`
	Version   string `bson:"version,omitempty" json:"version,omitempty"`
	Namespace string `bson:"namespace" json:"namespace"`
	ClusterID string `bson:"clusterId,omitempty" json:"clusterId,omitempty"`
	Status    string `bson:"status" json:"status"`
}
