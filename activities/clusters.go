// Package activities holds every side effect of the workflows: calls to
// Kubernetes clusters, Prometheus configuration and the store. Activities
// are idempotent (a retry after a partial run ends in the same state) and
// read credentials from the store themselves, so no secret ever enters a
// workflow's history.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/renameio/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/smartorch/smartorch/clusterstate"
	"github.com/smartorch/smartorch/kubeconfig"
	"github.com/smartorch/smartorch/store"
)

// ReservedPodCIDR is the seed's range for the orchestrator's own (cloud) cluster.
const ReservedPodCIDR = "10.217.0.0/16"

// Clusters are the activities of the cluster workflows.
type Clusters struct {
	Store *store.Store
	// MetricsDir is the central Prometheus's file_sd directory; empty when
	// there is none to register clusters with.
	MetricsDir string
}

// ClusterInfo is what a workflow needs to know of a cluster: no secrets.
type ClusterInfo struct {
	ID    string
	Name  string
	Cloud bool
}

func (a *Clusters) load(ctx context.Context, id string) (*store.Cluster, kubernetes.Interface, error) {
	c, err := a.Store.Clusters.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	client, _, err := kubeconfig.Client(c.Credentials)
	if err != nil {
		return nil, nil, permanentError(ErrorInvalid, "cluster %s: credentials: %v", c.Name, err)
	}
	return c, client, nil
}

// Describe returns the cluster's name and role.
func (a *Clusters) Describe(ctx context.Context, id string) (ClusterInfo, error) {
	c, err := a.Store.Clusters.Get(ctx, id)
	if err != nil {
		return ClusterInfo{}, err
	}
	return ClusterInfo{ID: c.ID, Name: c.Name, Cloud: c.Cloud}, nil
}

// Connect reaches the API server and records its version, noting a
// difference from the k8s_version the operator declared.
func (a *Clusters) Connect(ctx context.Context, id string) (string, error) {
	c, client, err := a.load(ctx, id)
	if err != nil {
		return "", err
	}
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return "", fmt.Errorf("cluster %s: API server unreachable: %w", c.Name, err)
	}
	return v.GitVersion, a.Store.Clusters.Modify(ctx, id, func(c *store.Cluster) {
		c.ServerVersion = v.GitVersion
		c.Notes = nil
		if c.K8sVersion != "" && !strings.HasPrefix(strings.TrimPrefix(v.GitVersion, "v"), strings.TrimPrefix(c.K8sVersion, "v")) {
			c.Notes = append(c.Notes, fmt.Sprintf("k8s_version %q was declared, the API server reports %s", c.K8sVersion, v.GitVersion))
		}
	})
}

// CheckNodes requires at least one node and every node Ready, and records
// the node count and pod CIDRs.
func (a *Clusters) CheckNodes(ctx context.Context, id string) (int, error) {
	c, client, err := a.load(ctx, id)
	if err != nil {
		return 0, err
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("cluster %s: listing nodes: %w", c.Name, err)
	}
	if len(nodes.Items) == 0 {
		return 0, fmt.Errorf("cluster %s has no nodes: add them before joining", c.Name)
	}
	var notReady, cidrs []string
	for _, n := range nodes.Items {
		if !clusterstate.Ready(&n) {
			notReady = append(notReady, n.Name)
		}
		for _, cidr := range podCIDRs(&n) {
			if !slices.Contains(cidrs, cidr) {
				cidrs = append(cidrs, cidr)
			}
		}
	}
	if len(notReady) > 0 {
		return 0, fmt.Errorf("cluster %s: nodes not Ready: %s", c.Name, strings.Join(notReady, ", "))
	}
	slices.Sort(cidrs)
	return len(nodes.Items), a.Store.Clusters.Modify(ctx, id, func(c *store.Cluster) {
		c.NodeCount = len(nodes.Items)
		c.PodCIDRs = cidrs
	})
}

func podCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

// CheckStorageClass requires a default StorageClass.
func (a *Clusters) CheckStorageClass(ctx context.Context, id string) error {
	c, client, err := a.load(ctx, id)
	if err != nil {
		return err
	}
	classes, err := client.StorageV1().StorageClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("cluster %s: listing storage classes: %w", c.Name, err)
	}
	for _, sc := range classes.Items {
		for _, key := range []string{"storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"} {
			if sc.Annotations[key] == "true" {
				return nil
			}
		}
	}
	return fmt.Errorf("cluster %s has no default StorageClass: install one (annotation storageclass.kubernetes.io/is-default-class: \"true\")", c.Name)
}

// CheckPodCIDRs refuses pod CIDRs that overlap another cluster's, or the
// range reserved for the cloud cluster.
func (a *Clusters) CheckPodCIDRs(ctx context.Context, id string) error {
	c, err := a.Store.Clusters.Get(ctx, id)
	if err != nil {
		return err
	}
	_, reserved, _ := net.ParseCIDR(ReservedPodCIDR)
	others, err := a.Store.Clusters.Find(ctx, store.OtherThan(id))
	if err != nil {
		return err
	}
	for _, cidr := range c.PodCIDRs {
		_, mine, err := net.ParseCIDR(cidr)
		if err != nil {
			return permanentError(ErrorInvalid, "cluster %s: pod CIDR %q is not a CIDR", c.Name, cidr)
		}
		if !c.Cloud && overlap(mine, reserved) {
			return permanentError(ErrorConflict, "cluster %s: pod CIDR %s overlaps %s, reserved for the cloud cluster", c.Name, cidr, ReservedPodCIDR)
		}
		for _, o := range others {
			if o.Status == store.StatusError {
				continue
			}
			for _, ocidr := range o.PodCIDRs {
				if _, theirs, err := net.ParseCIDR(ocidr); err == nil && overlap(mine, theirs) {
					return permanentError(ErrorConflict, "cluster %s: pod CIDR %s overlaps pod CIDR %s of cluster %s", c.Name, cidr, ocidr, o.Name)
				}
			}
		}
	}
	return nil
}

func overlap(a, b *net.IPNet) bool { return a.Contains(b.IP) || b.Contains(a.IP) }

// fileSDGroup is one entry of a Prometheus file_sd file.
type fileSDGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// RegisterMetrics writes the cluster's scrape targets, labelled with its
// cluster_name, as a file_sd file of its own (written atomically), unless
// the cluster has its own Prometheus. Targets default to each node's
// InternalIP on the node-exporter port 9100.
func (a *Clusters) RegisterMetrics(ctx context.Context, id string) error {
	if a.MetricsDir == "" {
		return nil
	}
	c, client, err := a.load(ctx, id)
	if err != nil {
		return err
	}
	if c.PrometheusURL != "" {
		return nil
	}
	targets := c.MetricsTargets
	if len(targets) == 0 {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("cluster %s: listing nodes: %w", c.Name, err)
		}
		for _, n := range nodes.Items {
			for _, addr := range n.Status.Addresses {
				if addr.Type == corev1.NodeInternalIP {
					targets = append(targets, net.JoinHostPort(addr.Address, "9100"))
				}
			}
		}
	}
	data, err := json.MarshalIndent([]fileSDGroup{{Targets: targets, Labels: map[string]string{"cluster_name": c.Name}}}, "", "  ")
	if err != nil {
		return err
	}
	// Through a temporary file: Prometheus reads the whole file or none.
	if err := os.MkdirAll(a.MetricsDir, 0o755); err != nil {
		return err
	}
	return renameio.WriteFile(filepath.Join(a.MetricsDir, c.Name+".json"), data, 0o644, renameio.WithTempDir(a.MetricsDir))
}

// UnregisterMetrics removes the cluster's file_sd file.
func (a *Clusters) UnregisterMetrics(ctx context.Context, id string) error {
	if a.MetricsDir == "" {
		return nil
	}
	c, err := a.Store.Clusters.Get(ctx, id)
	if err != nil {
		return err
	}
	err = os.Remove(filepath.Join(a.MetricsDir, c.Name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// SetStatus records the cluster's status and the reason for it.
func (a *Clusters) SetStatus(ctx context.Context, id, status, reason string) error {
	return a.Store.Clusters.Modify(ctx, id, func(c *store.Cluster) {
		c.Status, c.StatusReason = status, reason
	})
}

// Delete removes the cluster's record; a missing record counts as done.
func (a *Clusters) Delete(ctx context.Context, id string) error {
	err := a.Store.Clusters.Delete(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// ClusterRecorded fails, to be retried, until the cluster's record exists:
// the API starts a join before it writes the record.
func (a *Clusters) ClusterRecorded(ctx context.Context, id string) error {
	return untilRecorded(ctx, func(ctx context.Context) error {
		_, err := a.Store.Clusters.Get(ctx, id)
		return err
	})
}
