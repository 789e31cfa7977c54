package apiserver

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/smartorch/smartorch/clusterstate"
	"github.com/smartorch/smartorch/kubeconfig"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/usage"
)

// nodeView is a node as GET /api/k8sclusters/node/:clusterid shows it.
type nodeView struct {
	Name        string              `json:"name"`
	Ready       bool                `json:"ready"`
	Roles       []string            `json:"roles"`
	Labels      map[string]string   `json:"labels"`
	PodCIDRs    []string            `json:"podCIDRs,omitempty"`
	Capacity    corev1.ResourceList `json:"capacity"`
	Allocatable corev1.ResourceList `json:"allocatable"`
	// Requested sums the requests of the node's non-terminal pods.
	Requested corev1.ResourceList `json:"requested"`
	Pods      int                 `json:"pods"`
	// Usage is live usage from Prometheus, when it has some.
	Usage *usage.NodeUsage `json:"usage,omitempty"`
}

const rolePrefix = "node-role.kubernetes.io/"

// clusterNodes reads the cluster's nodes and the requests of the pods on
// them straight from its API server: a cheap read the API may do itself.
func (s *server) clusterNodes(c *fiber.Ctx) error {
	cluster, err := s.cluster(c, c.Params("clusterid"))
	if err != nil {
		return err
	}
	client, _, err := kubeconfig.Client(cluster.Credentials)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(c)
	defer cancel()
	nodes, err := clusterstate.Nodes(ctx, client)
	if err != nil {
		return apiError(fiber.StatusBadGateway, "cluster %s: %v", cluster.Name, err)
	}
	views := make([]nodeView, 0, len(nodes))
	plain := make([]corev1.Node, 0, len(nodes))
	for _, n := range nodes {
		v := nodeView{
			Name: n.Name, Ready: n.Ready, Labels: n.Labels, PodCIDRs: n.Spec.PodCIDRs, Roles: []string{},
			Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable,
			Requested: n.Requested, Pods: n.Pods,
		}
		for label := range n.Labels {
			if role, ok := strings.CutPrefix(label, rolePrefix); ok && role != "" {
				v.Roles = append(v.Roles, role)
			}
		}
		slices.Sort(v.Roles)
		views = append(views, v)
		plain = append(plain, n.Node)
	}
	s.addUsage(ctx, cluster, plain, views)
	return c.JSON(views)
}

// usageTimeout bounds the Prometheus queries of one request: the nodes are
// worth answering without usage, and quickly.
const usageTimeout = 2 * time.Second

// addUsage fills in the nodes' usage from the cluster's own Prometheus, else
// the central one. Without Prometheus, or when it fails, the views stay as
// they are.
func (s *server) addUsage(ctx context.Context, cluster *store.Cluster, nodes []corev1.Node, views []nodeView) {
	url := cluster.Prometheus(s.Prometheus)
	if url == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, usageTimeout)
	defer cancel()
	byNode, err := usage.Client{URL: url, Timeout: usageTimeout}.NodeUsage(ctx, cluster.Name, nodes)
	switch {
	case errors.Is(err, usage.ErrNoData):
		s.Logger.Debug("no node usage in Prometheus", "cluster", cluster.Name)
	case err != nil:
		s.Logger.Warn("node usage from Prometheus", "cluster", cluster.Name, "error", err)
	}
	for i := range views {
		if u, ok := byNode[views[i].Name]; ok {
			views[i].Usage = &u
		}
	}
}
