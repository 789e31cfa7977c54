package testenv

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/smartorch/smartorch/clusterstate"
)

// kwokNodeAnnotation marks the nodes kwok manages (kwok runs with
// --manage-nodes-with-annotation-selector).
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

func nodesWithDefaults(opts ClusterOptions, clusterIndex int) ([]NodeOptions, error) {
	nodes := opts.Nodes
	if len(nodes) == 0 {
		nodes = []NodeOptions{{}}
	}
	out := make([]NodeOptions, len(nodes))
	for i, n := range nodes {
		if n.Name == "" {
			n.Name = fmt.Sprintf("%s-node-%d", opts.Name, i+1)
		}
		if n.CPU == "" {
			n.CPU = "8"
		}
		if n.Memory == "" {
			n.Memory = "16Gi"
		}
		if n.PodCIDR == "" {
			n.PodCIDR = fmt.Sprintf("10.%d.%d.0/24", 100+clusterIndex, i)
		}
		for _, q := range []string{n.CPU, n.Memory} {
			if _, err := resource.ParseQuantity(q); err != nil {
				return nil, fmt.Errorf("cluster %s node %s: %q: %w", opts.Name, n.Name, q, err)
			}
		}
		out[i] = n
	}
	return out, nil
}

// startControllers starts kube-controller-manager, kube-scheduler and kwok,
// all with the admin kubeconfig.
func (c *Cluster) startControllers() error {
	kubeconfig := c.KubeconfigPath
	f := func(name string) string { return filepath.Join(c.dir, name) }
	stages, err := tool("kwok-stages.yaml")
	if err != nil {
		return err
	}
	specs := []struct {
		bin  string
		dst  **process
		args []string
	}{
		{"kube-controller-manager", &c.kcm, []string{
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--leader-elect=false",
			"--service-account-private-key-file=" + f("sa.key"),
			"--root-ca-file=" + f("ca.crt"),
			"--cluster-signing-cert-file=" + f("ca.crt"),
			"--cluster-signing-key-file=" + f("ca.key"),
			"--use-service-account-credentials=false",
			"--controllers=*",
			"--kube-api-qps=100",
			"--kube-api-burst=200",
			"--cluster-name=" + c.Name,
		}},
		{"kube-scheduler", &c.scheduler, []string{
			"--kubeconfig=" + kubeconfig,
			"--authentication-kubeconfig=" + kubeconfig,
			"--authorization-kubeconfig=" + kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port=0",
			"--leader-elect=false",
		}},
		{"kwok", &c.kwk, []string{
			"--config=" + stages,
			"--kubeconfig=" + kubeconfig,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
			"--node-lease-duration-seconds=40",
			"--cidr=10.244.0.0/16",
			"--node-ip=10.1.0.1",
		}},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range specs {
		bin, err := tool(s.bin)
		if err != nil {
			return err
		}
		p, err := startProcess(c.Name+"/"+s.bin, f(s.bin+".log"), bin, s.args...)
		if err != nil {
			return err
		}
		*s.dst = p
		c.track(p)
	}
	return nil
}

func (c *Cluster) createNodes(ctx context.Context) error {
	for _, n := range c.Nodes {
		labels := map[string]string{
			"type":                   "kwok",
			"kubernetes.io/hostname": n.Name,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
		}
		maps.Copy(labels, n.Labels)
		resources := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(n.CPU), // checked in nodesWithDefaults
			corev1.ResourceMemory: resource.MustParse(n.Memory),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        n.Name,
				Labels:      labels,
				Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			},
			Spec: corev1.NodeSpec{PodCIDR: n.PodCIDR, PodCIDRs: []string{n.PodCIDR}},
			Status: corev1.NodeStatus{
				Capacity:    resources,
				Allocatable: resources,
				NodeInfo:    corev1.NodeSystemInfo{Architecture: "amd64", OperatingSystem: "linux", KubeletVersion: "fake"},
			},
		}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: create node %s: %w", c.Name, n.Name, err)
		}
	}
	return nil
}

// waitWorkloadsReady waits until kwok reports every node Ready and the
// controller manager has made the default ServiceAccount (pods cannot be
// created before it exists).
func (c *Cluster) waitWorkloadsReady(ctx context.Context) error {
	return waitFor(c.Name+" workloads", time.Minute, func() (bool, error) {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("%s: no default ServiceAccount yet", c.Name)
		}
		if err != nil {
			return false, err
		}
		nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, n := range nodes.Items {
			if !clusterstate.Ready(&n) {
				return false, fmt.Errorf("%s: node %s not Ready yet", c.Name, n.Name)
			}
		}
		return true, nil
	}, c.kcm, c.scheduler, c.kwk)
}
