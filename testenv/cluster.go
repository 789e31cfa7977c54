package testenv

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ClusterOptions describes one cluster.
type ClusterOptions struct {
	// Name is the cluster's name and the name of its kubeconfig's cluster,
	// context and user, e.g. "cloud" or "edge-1".
	Name string
	// Nodes are the fake nodes. Empty means one node "<name>-node-1".
	Nodes []NodeOptions
	// Workloads starts kube-controller-manager, kube-scheduler and kwok, so
	// that pods are scheduled, Deployments and StatefulSets become ready and
	// PVCs bind. Without it the cluster is an API server only.
	Workloads bool
	// StorageClass, when set, creates a default StorageClass of that name
	// and ten hostPath PVs of 1Gi to 10Gi in it, so PVCs bind without a
	// provisioner (binding needs Workloads).
	StorageClass string
	// Cilium creates the objects of a Cilium installation with ClusterMesh
	// in kube-system: ConfigMap cilium-config, DaemonSet cilium, Deployments
	// cilium-operator and clustermesh-apiserver, NodePort Service
	// clustermesh-apiserver and Secrets cilium-ca and
	// clustermesh-apiserver-remote-cert with real certificates. Its pods run
	// (under kwok) only with Workloads.
	Cilium bool
	// CiliumClusterID is cilium-config's cluster-id. 0 means the cluster's
	// position in Options.Clusters plus one.
	CiliumClusterID int
}

// NodeOptions describes one fake node.
type NodeOptions struct {
	Name string
	// CPU and Memory are quantities such as "4" and "8Gi". Empty means "8"
	// and "16Gi".
	CPU    string
	Memory string
	Labels map[string]string
	// PodCIDR defaults to 10.<100+cluster position>.<node position>.0/24.
	PodCIDR string
}

// Cluster is one running cluster.
type Cluster struct {
	Name string
	// KubeconfigPath is a file holding Kubeconfig.
	KubeconfigPath string
	// Kubeconfig is the admin kubeconfig as YAML; KubeconfigJSON is the same
	// as a JSON object. Cluster, context and user are all named Name.
	Kubeconfig     []byte
	KubeconfigJSON []byte
	Config         *rest.Config
	Client         kubernetes.Interface
	// Nodes are the fake nodes, with defaults filled in.
	Nodes []NodeOptions
	// Metrics serves node-exporter metrics for Nodes.
	Metrics *Metrics
	// APIServerURL is https://127.0.0.1:<port>; the port stays the same
	// across StopAPIServer and StartAPIServer.
	APIServerURL string

	opts          ClusterOptions
	index         int
	dir           string
	ca            *certAuthority
	apiserverArgs []string
	track         func(*process)

	mu                             sync.Mutex
	apiserver, kcm, scheduler, kwk *process
}

// apiserverServiceIP is the first address of --service-cluster-ip-range: the
// "kubernetes" Service, which the serving certificate must name.
var apiserverServiceIP = net.ParseIP("10.0.0.1")

func newCluster(opts ClusterOptions, index int, dir string, track func(*process)) (*Cluster, error) {
	nodes, err := nodesWithDefaults(opts, index)
	if err != nil {
		return nil, err
	}
	return &Cluster{Name: opts.Name, Nodes: nodes, opts: opts, index: index, dir: dir, track: track}, nil
}

// start brings up the API server (and with Workloads the controllers and
// kwok), creates nodes and the optional objects, and waits until the cluster
// can run pods.
func (c *Cluster) start(etcdURL string) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	metrics, err := startMetrics(c.Nodes)
	if err != nil {
		return err
	}
	c.Metrics = metrics
	if err := c.writeCertificates(); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	c.APIServerURL = "https://127.0.0.1:" + strconv.Itoa(port)
	c.apiserverArgs = c.apiserverFlags(etcdURL, port)
	if err := c.writeKubeconfig(); err != nil {
		return err
	}
	if err := c.StartAPIServer(); err != nil {
		return err
	}
	if c.opts.Workloads {
		if err := c.startControllers(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.createNodes(ctx); err != nil {
		return err
	}
	if c.opts.StorageClass != "" {
		if err := c.createStorage(ctx); err != nil {
			return err
		}
	}
	if c.opts.Cilium {
		if err := c.createCilium(ctx); err != nil {
			return err
		}
	}
	if c.opts.Workloads {
		return c.waitWorkloadsReady(ctx)
	}
	return nil
}

func (c *Cluster) writeCertificates() error {
	ca, err := newCA(c.Name + "-ca")
	if err != nil {
		return err
	}
	c.ca = ca
	serving, err := ca.issue(certRequest{
		commonName: "kube-apiserver",
		dnsNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		ips:    []net.IP{net.IPv4(127, 0, 0, 1), apiserverServiceIP},
		usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return err
	}
	saKey, saPub, err := newSigningKey()
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.crt": ca.CertPEM, "ca.key": ca.KeyPEM,
		"apiserver.crt": serving.CertPEM, "apiserver.key": serving.KeyPEM,
		"sa.key": saKey, "sa.pub": saPub,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(c.dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) writeKubeconfig() error {
	admin, err := c.ca.issue(certRequest{
		commonName:    "admin",
		organizations: []string{"system:masters"},
		usages:        []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}
	c.Kubeconfig, c.KubeconfigJSON, err = kubeconfig(c.Name, c.APIServerURL, c.ca.CertPEM, admin)
	if err != nil {
		return err
	}
	c.KubeconfigPath = filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(c.KubeconfigPath, c.Kubeconfig, 0o600); err != nil {
		return err
	}
	c.Config, err = clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig)
	if err != nil {
		return err
	}
	c.Config.QPS, c.Config.Burst = 100, 200
	c.Client, err = kubernetes.NewForConfig(c.Config)
	return err
}

func (c *Cluster) apiserverFlags(etcdURL string, port int) []string {
	f := func(name string) string { return filepath.Join(c.dir, name) }
	return []string{
		"--etcd-servers=" + etcdURL,
		"--etcd-prefix=/registry-" + c.Name,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + f("apiserver.crt"),
		"--tls-private-key-file=" + f("apiserver.key"),
		"--client-ca-file=" + f("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f("sa.pub"),
		"--service-account-signing-key-file=" + f("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		"--enable-priority-and-fairness=false",
		// With 127.0.0.1 as advertise address the default reconciler logs an
		// Endpoints error every 10 seconds.
		"--endpoint-reconciler-type=none",
		"--v=1",
	}
}

// StartAPIServer starts the cluster's API server (on the same port and etcd
// data as before a StopAPIServer) and waits until /readyz answers ok.
func (c *Cluster) StartAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver != nil && !c.apiserver.exited() {
		return fmt.Errorf("%s: kube-apiserver is already running", c.Name)
	}
	bin, err := tool("kube-apiserver")
	if err != nil {
		return err
	}
	p, err := startProcess(c.Name+"/kube-apiserver", filepath.Join(c.dir, "kube-apiserver.log"), bin, c.apiserverArgs...)
	if err != nil {
		return err
	}
	c.apiserver = p
	c.track(p)
	return waitFor(p.name, time.Minute, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return false, err
		}
		return string(body) == "ok", nil
	}, p)
}

// StopAPIServer stops the cluster's API server and waits until it has
// exited. It sends SIGTERM and, a second later, SIGKILL: with clients
// connected the API server would otherwise wait up to a minute for them.
// Controllers and kwok keep running and reconnect after StartAPIServer.
func (c *Cluster) StopAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.apiserver == nil || c.apiserver.exited() {
		return fmt.Errorf("%s: kube-apiserver is not running", c.Name)
	}
	c.apiserver.stop(time.Second)
	return nil
}

// stop stops the cluster's processes in the order kwok, scheduler,
// controller manager, API server, then its metrics server.
func (c *Cluster) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range []*process{c.kwk, c.scheduler, c.kcm, c.apiserver} {
		if p != nil {
			p.stop(stopGrace)
		}
	}
	if c.Metrics != nil {
		c.Metrics.close()
	}
}

// stopGrace is how long a process gets to exit after SIGTERM before SIGKILL.
const stopGrace = 5 * time.Second
