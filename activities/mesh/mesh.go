package mesh

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// Names of the Cilium objects this package reads or changes. They are the
// ones `cilium install` and `cilium clustermesh enable` create.
const (
	Namespace                = "kube-system"
	ConfigMapName            = "cilium-config"
	AgentDaemonSet           = "cilium"
	OperatorDeployment       = "cilium-operator"
	APIServerDeployment      = "clustermesh-apiserver"
	APIServerService         = "clustermesh-apiserver"
	ClusterMeshSecret        = "cilium-clustermesh"
	CASecret                 = "cilium-ca"
	RemoteCertSecret         = "clustermesh-apiserver-remote-cert"
	clusterMeshAPIServerPort = 2379
)

// Keys this package writes into objects it does not own.
const (
	// RestartedAtAnnotation is set on the pod templates of the Cilium agent
	// DaemonSet and operator Deployment by RestartAgents.
	RestartedAtAnnotation = "smartorch.io/restartedAt"
	// IdentityAnnotation is set on the clustermesh-apiserver pod template
	// by SetIdentity to "<name>/<id>", so that the Deployment rolls out when
	// the identity changes even when its args read cilium-config.
	IdentityAnnotation = "smartorch.io/cluster-identity"
	// PreviousIdentityAnnotation on cilium-config holds, as JSON, the
	// identity the cluster had before the first SetIdentity. RestoreIdentity
	// puts it back and removes the annotation.
	PreviousIdentityAnnotation = "smartorch.io/previous-cluster-identity"
	// ManagedByLabel marks a cilium-clustermesh Secret that Connect created;
	// Disconnect deletes only such a Secret, and only when it is empty.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	managedByValue = "smartorch"
)

// Cluster is one member of the mesh.
type Cluster struct {
	// Name is the cluster's name and its ClusterMesh name (cilium-config
	// cluster-name); it must be a DNS label of at most 32 characters.
	Name   string
	Client kubernetes.Interface
	// Host is the host of the cluster's API server URL (IP or DNS name).
	// Peers reach its clustermesh-apiserver NodePort at this address.
	Host string
}

// Identity is a cluster's ClusterMesh identity, as in cilium-config.
// An empty Name or a zero ID means the key is absent (Cilium then uses
// "default" and 0).
type Identity struct {
	Name string `json:"name,omitempty"`
	ID   int    `json:"id,omitempty"`
}

// Info is what Detect finds in a cluster.
type Info struct {
	// Cilium: ConfigMap kube-system/cilium-config exists.
	Cilium bool
	// ClusterMesh: Service kube-system/clustermesh-apiserver exists as well.
	ClusterMesh bool
	// Identity is cluster-name and cluster-id in cilium-config.
	Identity Identity
	// MaxClusterID is the largest cluster-id Cilium accepts: 511 when
	// cilium-config has max-connected-clusters: "511", else 255.
	MaxClusterID int
	// NodePort is the clustermesh-apiserver Service's NodePort, 0 when the
	// Service has none (it is not of type NodePort or LoadBalancer).
	NodePort int32
}

// Ready reports whether the cluster can join the mesh: Cilium with
// ClusterMesh enabled and a NodePort to reach its clustermesh-apiserver.
func (i Info) Ready() bool { return i.Cilium && i.ClusterMesh && i.NodePort != 0 }

// Detect reads what the cluster's Cilium installation offers. Absent objects
// are reported in Info, not as errors; errors are API failures or a
// cilium-config that cannot be read.
func Detect(ctx context.Context, c Cluster) (Info, error) {
	info := Info{MaxClusterID: 255}
	cm, err := c.Client.CoreV1().ConfigMaps(Namespace).Get(ctx, ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return info, nil
	}
	if err != nil {
		return info, c.errorf(err, "get ConfigMap %s/%s", Namespace, ConfigMapName)
	}
	info.Cilium = true
	if info.Identity, err = identityOf(cm.Data); err != nil {
		return info, c.errorf(err, "ConfigMap %s/%s", Namespace, ConfigMapName)
	}
	if cm.Data["max-connected-clusters"] == "511" {
		info.MaxClusterID = 511
	}
	svc, err := c.Client.CoreV1().Services(Namespace).Get(ctx, APIServerService, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return info, nil
	}
	if err != nil {
		return info, c.errorf(err, "get Service %s/%s", Namespace, APIServerService)
	}
	info.ClusterMesh = true
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && (info.NodePort == 0 || p.Port == clusterMeshAPIServerPort) {
			info.NodePort = p.NodePort
		}
	}
	return info, nil
}

// Peers returns, sorted, the names of the peers the cluster's
// cilium-clustermesh Secret holds a configuration for (keys without a dot;
// the certificate keys "<peer>-ca.crt", "<peer>.crt" and "<peer>.key" are
// not listed). A missing Secret means no peers.
func Peers(ctx context.Context, c Cluster) ([]string, error) {
	s, err := c.Client.CoreV1().Secrets(Namespace).Get(ctx, ClusterMeshSecret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.errorf(err, "get Secret %s/%s", Namespace, ClusterMeshSecret)
	}
	var peers []string
	for k := range s.Data {
		if !strings.Contains(k, ".") {
			peers = append(peers, k)
		}
	}
	slices.Sort(peers)
	return peers, nil
}

// PeerHostname is the name under which a cluster reaches peer's
// clustermesh-apiserver (resolved by a hostAlias in the agent pods).
func PeerHostname(peer string) string { return peer + ".mesh.cilium.io" }

func identityOf(data map[string]string) (Identity, error) {
	id := Identity{Name: data["cluster-name"]}
	if s := data["cluster-id"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return id, fmt.Errorf("cluster-id %q is not a number", s)
		}
		id.ID = n
	}
	return id, nil
}

// ValidateName checks that name can be a ClusterMesh cluster name: a DNS
// label (it becomes "<name>.mesh.cilium.io" and Secret keys) of at most 32
// characters, Cilium's own limit.
func ValidateName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("mesh: cluster name %q: %s", name, strings.Join(errs, "; "))
	}
	if len(name) > 32 {
		return fmt.Errorf("mesh: cluster name %q: longer than 32 characters", name)
	}
	return nil
}

func (c Cluster) errorf(err error, format string, args ...any) error {
	return fmt.Errorf("mesh: cluster %q: %s: %w", c.Name, fmt.Sprintf(format, args...), err)
}
