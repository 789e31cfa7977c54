package testenv

import (
	"context"
	"crypto/x509"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ClusterMeshNodePort is the NodePort of Service clustermesh-apiserver, the
// default of `cilium clustermesh enable --service-type NodePort`.
const ClusterMeshNodePort = 32379

const ciliumVersion = "v1.16.5" // image tags only; kwok never pulls them

// CiliumClusterID returns the cluster-id written to cilium-config, or 0 when
// the cluster has no Cilium objects.
func (c *Cluster) CiliumClusterID() int {
	if !c.opts.Cilium {
		return 0
	}
	if c.opts.CiliumClusterID != 0 {
		return c.opts.CiliumClusterID
	}
	return c.index + 1
}

// createCilium creates what `cilium install` plus `cilium clustermesh enable`
// leave in kube-system, as far as the orchestrator reads or changes it.
func (c *Cluster) createCilium(ctx context.Context) error {
	const ns = "kube-system"
	id := strconv.Itoa(c.CiliumClusterID())
	ca, err := newCA("Cilium CA")
	if err != nil {
		return err
	}
	remote, err := ca.issue(certRequest{commonName: "remote", usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return err
	}
	objects := []struct {
		kind   string
		create func() error
	}{
		{"ConfigMap cilium-config", func() error {
			_, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "cilium-config"},
				Data: map[string]string{
					"cluster-name":                     c.Name,
					"cluster-id":                       id,
					"ipam":                             "cluster-pool",
					"cluster-pool-ipv4-cidr":           c.Nodes[0].PodCIDR,
					"enable-ipv4":                      "true",
					"clustermesh-enable-endpoint-sync": "true",
				},
			}, metav1.CreateOptions{})
			return err
		}},
		{"Secret cilium-ca", func() error {
			_, err := c.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "cilium-ca"},
				Data:       map[string][]byte{"ca.crt": ca.CertPEM, "ca.key": ca.KeyPEM},
			}, metav1.CreateOptions{})
			return err
		}},
		{"Secret clustermesh-apiserver-remote-cert", func() error {
			_, err := c.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "clustermesh-apiserver-remote-cert"},
				Type:       corev1.SecretTypeTLS,
				Data:       map[string][]byte{"ca.crt": ca.CertPEM, "tls.crt": remote.CertPEM, "tls.key": remote.KeyPEM},
			}, metav1.CreateOptions{})
			return err
		}},
		{"DaemonSet cilium", func() error {
			labels := map[string]string{"k8s-app": "cilium"}
			_, err := c.Client.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
				ObjectMeta: metav1.ObjectMeta{Name: "cilium", Labels: labels},
				Spec: appsv1.DaemonSetSpec{
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: ciliumPodTemplate(labels, corev1.Container{
						Name: "cilium-agent", Image: "quay.io/cilium/cilium:" + ciliumVersion,
						Command: []string{"cilium-agent"}, Args: []string{"--config-dir=/tmp/cilium/config-map"},
					}),
				},
			}, metav1.CreateOptions{})
			return err
		}},
		{"Deployment cilium-operator", func() error {
			labels := map[string]string{"name": "cilium-operator", "io.cilium/app": "operator"}
			return c.createDeployment(ctx, ns, "cilium-operator", labels, corev1.Container{
				Name: "cilium-operator", Image: "quay.io/cilium/operator-generic:" + ciliumVersion,
				Command: []string{"cilium-operator-generic"},
			})
		}},
		{"Deployment clustermesh-apiserver", func() error {
			labels := map[string]string{"k8s-app": "clustermesh-apiserver"}
			// The orchestrator rewrites args[0] and args[1] of the second
			// container, as the original did.
			return c.createDeployment(ctx, ns, "clustermesh-apiserver", labels,
				corev1.Container{Name: "etcd", Image: "quay.io/cilium/clustermesh-apiserver:" + ciliumVersion, Command: []string{"/usr/bin/etcd"}},
				corev1.Container{
					Name: "apiserver", Image: "quay.io/cilium/clustermesh-apiserver:" + ciliumVersion,
					Command: []string{"/usr/bin/clustermesh-apiserver", "clustermesh"},
					Args:    []string{"--cluster-name=" + c.Name, "--cluster-id=" + id, "--kvstore-opt=etcd.config=/var/lib/cilium/etcd-config.yaml"},
				})
		}},
		{"Service clustermesh-apiserver", func() error {
			_, err := c.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "clustermesh-apiserver", Labels: map[string]string{"k8s-app": "clustermesh-apiserver"}},
				Spec: corev1.ServiceSpec{
					Type:     corev1.ServiceTypeNodePort,
					Selector: map[string]string{"k8s-app": "clustermesh-apiserver"},
					Ports: []corev1.ServicePort{{
						Port: 2379, TargetPort: intstr.FromInt32(2379), NodePort: ClusterMeshNodePort, Protocol: corev1.ProtocolTCP,
					}},
				},
			}, metav1.CreateOptions{})
			return err
		}},
	}
	for _, o := range objects {
		if err := o.create(); err != nil {
			return fmt.Errorf("%s: create %s: %w", c.Name, o.kind, err)
		}
	}
	return nil
}

func (c *Cluster) createDeployment(ctx context.Context, ns, name string, labels map[string]string, containers ...corev1.Container) error {
	replicas := int32(1)
	_, err := c.Client.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: ciliumPodTemplate(labels, containers...),
		},
	}, metav1.CreateOptions{})
	return err
}

func ciliumPodTemplate(labels map[string]string, containers ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			Containers:  containers,
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
}
