// Package mirror is the Kubernetes-API side of global services: it finds
// the Services of a release that are meant to be reachable from other
// clusters, and mirrors them into those clusters so that Cilium
// load-balances to the remote backends by service name. It replaces the
// original's always-running MultiClusterService controller (reference
// §6.5) with plain functions that the enabler and cluster workflows call
// only when something changes.
//
//	Find(manifest, ns)                 global Services of a rendered release
//	Apply(ctx, client, svc, owner)     create or update one mirror (never someone else's Service)
//	Prune(ctx, client, ownerID, keep)  delete the owner's mirrors that are not in keep
//	RemoveAll(ctx, client)             delete every mirror the orchestrator made (cluster removal)
//
// A mirror is a selector-less ClusterIP Service with the source's name,
// namespace and ports, annotated global, not shared and with remote
// affinity (the settings the original used, in Cilium's current and
// legacy spellings), and labelled with the owning enabler's id. It carries
// the Helm revision it was made from, so a late writer holding an older
// revision never undoes a newer one.
package mirror

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// Labels and annotations the orchestrator puts on a mirror.
const (
	ManagedByLabel     = "app.kubernetes.io/managed-by"
	managedByValue     = "smartorch"
	OwnerLabel         = "smartorch.io/enabler-id"
	SourceAnnotation   = "smartorch.io/mirror-of"
	RevisionAnnotation = "smartorch.io/release-revision"
)

// Annotations that mark a Service global in its own cluster.
const (
	GlobalAnnotation       = "service.cilium.io/global"
	LegacyGlobalAnnotation = "io.cilium/global-service"
)

// mirrorAnnotations make Cilium send a mirror's traffic to the source's
// backends: global, with no local backends shared, remote first.
var mirrorAnnotations = map[string]string{
	GlobalAnnotation:             "true",
	"service.cilium.io/shared":   "false",
	"service.cilium.io/affinity": "remote",
	LegacyGlobalAnnotation:       "true",
	"io.cilium/shared-service":   "false",
	"io.cilium/service-affinity": "remote",
}

// ErrConflict: the target cluster has a Service of that name the owner did
// not create; it is left alone.
var ErrConflict = errors.New("a Service of that name exists that the orchestrator did not create for this enabler")

// Service is a global service: what a mirror copies.
type Service struct {
	Name      string
	Namespace string
	Ports     []corev1.ServicePort
}

// Owner is who a mirror belongs to: an enabler, its release revision and
// the cluster the backends run in.
type Owner struct {
	EnablerID string
	Revision  int
	Source    string
}

// manifestObject is what Find reads of each manifest document.
type manifestObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Ports []corev1.ServicePort `json:"ports"`
	} `json:"spec"`
}

// Find returns the global services of a rendered release manifest, in
// manifest order: Services annotated service.cilium.io/global or
// io.cilium/global-service "true", and MultiClusterService resources
// (assist.eu/v1), whose spec is a Service spec. Objects without a
// namespace are in namespace.
func Find(manifest, namespace string) ([]Service, error) {
	var found []Service
	dec := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			return found, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		var o manifestObject
		if err := yaml.Unmarshal(doc, &o); err != nil {
			return nil, fmt.Errorf("read manifest: %w", err)
		}
		global := o.APIVersion == "v1" && o.Kind == "Service" &&
			(o.Metadata.Annotations[GlobalAnnotation] == "true" || o.Metadata.Annotations[LegacyGlobalAnnotation] == "true")
		mcs := o.APIVersion == "assist.eu/v1" && o.Kind == "MultiClusterService"
		if !global && !mcs || o.Metadata.Name == "" {
			continue
		}
		ns := o.Metadata.Namespace
		if ns == "" {
			ns = namespace
		}
		found = append(found, Service{Name: o.Metadata.Name, Namespace: ns, Ports: o.Spec.Ports})
	}
}

// Apply makes the mirror of svc in the cluster of client: created when
// missing (with its namespace), updated when it is the owner's and differs,
// left alone when it is the owner's from a newer revision. A Service of
// that name that is not the owner's gives an error wrapping ErrConflict.
func Apply(ctx context.Context, client kubernetes.Interface, svc Service, owner Owner) error {
	want := desired(svc, owner)
	services := client.CoreV1().Services(svc.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		got, err := services.Get(ctx, svc.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if err := ensureNamespace(ctx, client, svc.Namespace); err != nil {
				return err
			}
			_, err = services.Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return apierrors.NewConflict(corev1.Resource("services"), svc.Name, err)
			}
			return err
		}
		if err != nil {
			return err
		}
		if got.Labels[OwnerLabel] != owner.EnablerID || got.Labels[ManagedByLabel] != managedByValue {
			return fmt.Errorf("Service %s/%s: %w", svc.Namespace, svc.Name, ErrConflict)
		}
		if revision(got) > owner.Revision || same(got, want) {
			return nil
		}
		got.Labels, got.Annotations = want.Labels, want.Annotations
		got.Spec.Ports = want.Spec.Ports
		_, err = services.Update(ctx, got, metav1.UpdateOptions{})
		return err
	})
}

// Prune deletes the mirrors of ownerID in the cluster of client except
// those named in keep.
func Prune(ctx context.Context, client kubernetes.Interface, ownerID string, keep []Service) error {
	return remove(ctx, client, ManagedByLabel+"="+managedByValue+","+OwnerLabel+"="+ownerID, func(s corev1.Service) bool {
		return slices.ContainsFunc(keep, func(k Service) bool { return k.Name == s.Name && k.Namespace == s.Namespace })
	})
}

// RemoveAll deletes every mirror the orchestrator made in the cluster of
// client, and returns the ids of the enablers they belonged to.
func RemoveAll(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	var owners []string
	err := remove(ctx, client, ManagedByLabel+"="+managedByValue+","+OwnerLabel, func(s corev1.Service) bool {
		if id := s.Labels[OwnerLabel]; !slices.Contains(owners, id) {
			owners = append(owners, id)
		}
		return false
	})
	return owners, err
}

func remove(ctx context.Context, client kubernetes.Interface, selector string, keep func(corev1.Service) bool) error {
	list, err := client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return fmt.Errorf("list mirrors: %w", err)
	}
	for _, s := range list.Items {
		if keep(s) {
			continue
		}
		// Preconditioned on the UID: a Service re-created by someone else
		// meanwhile is not ours to delete.
		err := client.CoreV1().Services(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete mirror %s/%s: %w", s.Namespace, s.Name, err)
		}
	}
	return nil
}

func desired(svc Service, owner Owner) *corev1.Service {
	annotations := map[string]string{SourceAnnotation: owner.Source, RevisionAnnotation: strconv.Itoa(owner.Revision)}
	for k, v := range mirrorAnnotations {
		annotations[k] = v
	}
	ports := make([]corev1.ServicePort, 0, len(svc.Ports))
	for _, p := range svc.Ports {
		protocol := p.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		// No selector: the mirror has no local backends, so targetPort
		// only has to be valid.
		ports = append(ports, corev1.ServicePort{Name: p.Name, Port: p.Port, Protocol: protocol, TargetPort: intstr.FromInt32(p.Port)})
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: svc.Name, Namespace: svc.Namespace,
			Labels:      map[string]string{ManagedByLabel: managedByValue, OwnerLabel: owner.EnablerID},
			Annotations: annotations,
		},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: ports},
	}
}

// same reports whether got already says what want says.
func same(got, want *corev1.Service) bool {
	for k, v := range want.Annotations {
		if got.Annotations[k] != v {
			return false
		}
	}
	if len(got.Spec.Ports) != len(want.Spec.Ports) {
		return false
	}
	for i, p := range want.Spec.Ports {
		g := got.Spec.Ports[i]
		if g.Name != p.Name || g.Port != p.Port || g.Protocol != p.Protocol || g.TargetPort != p.TargetPort {
			return false
		}
	}
	return true
}

func revision(s *corev1.Service) int {
	n, _ := strconv.Atoi(s.Annotations[RevisionAnnotation])
	return n
}

func ensureNamespace(ctx context.Context, client kubernetes.Interface, name string) error {
	_, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
