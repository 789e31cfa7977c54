package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"
)

// Directory where the agent mounts Secret cilium-clustermesh.
const clusterMeshDir = "/var/lib/cilium/clustermesh/"

// peerConfig is the ClusterMesh configuration of one peer, the value of key
// "<peer>" in Secret cilium-clustermesh.
type peerConfig struct {
	Endpoints     []string `json:"endpoints"`
	TrustedCAFile string   `json:"trusted-ca-file"`
	CertFile      string   `json:"cert-file"`
	KeyFile       string   `json:"key-file"`
}

// peerKeys are the keys of Secret cilium-clustermesh that belong to peer.
func peerKeys(peer string) [4]string {
	return [4]string{peer, peer + "-ca.crt", peer + ".crt", peer + ".key"}
}

// Connect makes local trust and reach peer (one direction; call it both
// ways for a two-way mesh):
//
//   - In local's Secret kube-system/cilium-clustermesh it sets the keys
//     "<peer>" (endpoint https://<peer>.mesh.cilium.io:<peer's
//     clustermesh-apiserver NodePort> and the file paths), "<peer>-ca.crt"
//     (peer's cilium-ca ca.crt), "<peer>.crt" and "<peer>.key" (peer's
//     clustermesh-apiserver-remote-cert tls.crt and tls.key), with a JSON
//     merge patch that names only these keys, so connects of other peers
//     running at the same time keep theirs. A missing Secret is created,
//     labelled ManagedByLabel=smartorch.
//   - In local's DaemonSet kube-system/cilium it makes the pod template's
//     hostAliases map <peer>.mesh.cilium.io to the IP of peer.Host, and to
//     nothing else, with a strategic merge patch guarded by the
//     resourceVersion read (retried on conflict). Peers sharing an IP share
//     one hostAlias entry. Nothing is patched when the alias is already
//     there, so the agents do not roll again.
//
// peer's objects are read through peer.Client. A DNS name in peer.Host is
// resolved here; of its addresses the lowest IPv4 one is used (IPv6 only
// when there is no IPv4), so repeated calls choose the same address.
func Connect(ctx context.Context, local, peer Cluster) error {
	for _, c := range []Cluster{local, peer} {
		if err := ValidateName(c.Name); err != nil {
			return err
		}
	}
	if local.Name == peer.Name {
		return fmt.Errorf("mesh: cluster %q cannot connect to itself", local.Name)
	}
	info, err := Detect(ctx, peer)
	if err != nil {
		return err
	}
	if !info.Ready() {
		return fmt.Errorf("mesh: cluster %q: no ClusterMesh to connect to (cilium-config: %t, Service %s/%s: %t, NodePort: %d)",
			peer.Name, info.Cilium, Namespace, APIServerService, info.ClusterMesh, info.NodePort)
	}
	ca, err := secretKey(ctx, peer, CASecret, "ca.crt")
	if err != nil {
		return err
	}
	crt, err := secretKey(ctx, peer, RemoteCertSecret, "tls.crt")
	if err != nil {
		return err
	}
	key, err := secretKey(ctx, peer, RemoteCertSecret, "tls.key")
	if err != nil {
		return err
	}
	ip, err := resolve(ctx, peer.Host)
	if err != nil {
		return fmt.Errorf("mesh: cluster %q: host: %w", peer.Name, err)
	}

	cfg, err := yaml.Marshal(peerConfig{
		Endpoints:     []string{"https://" + net.JoinHostPort(PeerHostname(peer.Name), strconv.Itoa(int(info.NodePort)))},
		TrustedCAFile: clusterMeshDir + peer.Name + "-ca.crt",
		CertFile:      clusterMeshDir + peer.Name + ".crt",
		KeyFile:       clusterMeshDir + peer.Name + ".key",
	})
	if err != nil {
		return err
	}
	k := peerKeys(peer.Name)
	data := map[string][]byte{k[0]: cfg, k[1]: ca, k[2]: crt, k[3]: key}
	if err := mergeSecret(ctx, local, data); err != nil {
		return err
	}
	return patchHostAliases(ctx, local, PeerHostname(peer.Name), ip)
}

// Disconnect removes from local what Connect(local, peer) added: the four
// keys of peerName in Secret cilium-clustermesh (a JSON merge patch setting
// them to null) and peerName's hostname from the cilium DaemonSet's
// hostAliases (an entry left without hostnames is removed). When the Secret
// is then empty and carries ManagedByLabel=smartorch — Connect created it —
// it is deleted, with the resourceVersion as precondition so a concurrent
// Connect is never lost; a Secret someone else created is left, even empty.
// Missing objects are fine, so Disconnect can run any number of times.
func Disconnect(ctx context.Context, local Cluster, peerName string) error {
	if err := ValidateName(peerName); err != nil {
		return err
	}
	data := map[string]any{}
	for _, k := range peerKeys(peerName) {
		data[k] = nil
	}
	patch, _ := json.Marshal(map[string]any{"data": data})
	secrets := local.Client.CoreV1().Secrets(Namespace)
	s, err := secrets.Patch(ctx, ClusterMeshSecret, types.MergePatchType, patch, metav1.PatchOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return local.errorf(err, "patch Secret %s/%s", Namespace, ClusterMeshSecret)
	default:
		if err := deleteIfEmpty(ctx, local, s); err != nil {
			return err
		}
	}
	return patchHostAliases(ctx, local, PeerHostname(peerName), "")
}

func deleteIfEmpty(ctx context.Context, c Cluster, s *corev1.Secret) error {
	secrets := c.Client.CoreV1().Secrets(Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if len(s.Data) > 0 || s.Labels[ManagedByLabel] != managedByValue {
			return nil
		}
		rv := s.ResourceVersion
		err := secrets.Delete(ctx, ClusterMeshSecret, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID, ResourceVersion: &rv}})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if apierrors.IsConflict(err) {
			// Changed since: look again.
			var gerr error
			if s, gerr = secrets.Get(ctx, ClusterMeshSecret, metav1.GetOptions{}); apierrors.IsNotFound(gerr) {
				return nil
			} else if gerr != nil {
				return c.errorf(gerr, "get Secret %s/%s", Namespace, ClusterMeshSecret)
			}
		}
		return c.errorf(err, "delete Secret %s/%s", Namespace, ClusterMeshSecret)
	})
}

// mergeSecret sets data's keys in Secret cilium-clustermesh, creating it
// when it is missing.
func mergeSecret(ctx context.Context, c Cluster, data map[string][]byte) error {
	secrets := c.Client.CoreV1().Secrets(Namespace)
	patch, _ := json.Marshal(map[string]any{"data": data})
	for {
		_, err := secrets.Patch(ctx, ClusterMeshSecret, types.MergePatchType, patch, metav1.PatchOptions{})
		if !apierrors.IsNotFound(err) {
			return c.check(err, "patch Secret %s/%s", Namespace, ClusterMeshSecret)
		}
		_, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:   ClusterMeshSecret,
				Labels: map[string]string{ManagedByLabel: managedByValue},
			},
			Type: corev1.SecretTypeOpaque,
			Data: data,
		}, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			return c.check(err, "create Secret %s/%s", Namespace, ClusterMeshSecret)
		}
		// Created by a concurrent Connect in between: patch it. (It can
		// only vanish again through a Disconnect that emptied it, so this
		// loop ends as soon as the two stop racing.)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func secretKey(ctx context.Context, c Cluster, name, key string) ([]byte, error) {
	s, err := c.Client.CoreV1().Secrets(Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, c.errorf(err, "get Secret %s/%s", Namespace, name)
	}
	v := s.Data[key]
	if len(bytes.TrimSpace(v)) == 0 {
		return nil, fmt.Errorf("mesh: cluster %q: Secret %s/%s has no %s", c.Name, Namespace, name, key)
	}
	return v, nil
}

// resolve returns host as an IP address, looking a DNS name up.
func resolve(ctx context.Context, host string) (string, error) {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return "", fmt.Errorf("empty")
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", err
	}
	var ips []net.IP
	for _, a := range addrs {
		ips = append(ips, a.IP)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("%s has no address", host)
	}
	return pickIP(ips).String(), nil
}

// pickIP returns the lowest IPv4 address of ips, or the lowest one when
// there is no IPv4 address.
func pickIP(ips []net.IP) net.IP {
	slices.SortFunc(ips, func(a, b net.IP) int {
		a4, b4 := a.To4() != nil, b.To4() != nil
		if a4 != b4 {
			if a4 {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.To16(), b.To16())
	})
	return ips[0]
}

// patchHostAliases makes hostname appear in the cilium DaemonSet's
// hostAliases under ip only (ip "" removes it everywhere). A missing
// DaemonSet is an error when adding and fine when removing.
func patchHostAliases(ctx context.Context, c Cluster, hostname, ip string) error {
	dss := c.Client.AppsV1().DaemonSets(Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ds, err := dss.Get(ctx, AgentDaemonSet, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && ip == "" {
			return nil
		}
		if err != nil {
			return c.errorf(err, "get DaemonSet %s/%s", Namespace, AgentDaemonSet)
		}
		items := hostAliasChanges(ds.Spec.Template.Spec.HostAliases, hostname, ip)
		if len(items) == 0 {
			return nil
		}
		patch, _ := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": ds.ResourceVersion},
			"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"hostAliases": items}}},
		})
		_, err = dss.Patch(ctx, AgentDaemonSet, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return c.check(err, "patch DaemonSet %s/%s", Namespace, AgentDaemonSet)
	})
}

// hostAliasChanges returns the strategic-merge-patch items (hostAliases
// merge on "ip"; their hostnames list is replaced whole) that make hostname
// map to ip only, or to nothing when ip is "". No items: nothing to change.
func hostAliasChanges(aliases []corev1.HostAlias, hostname, ip string) []map[string]any {
	var items []map[string]any
	found := false
	for _, a := range aliases {
		has := slices.Contains(a.Hostnames, hostname)
		switch {
		case a.IP == ip && ip != "":
			if !has && !found {
				items = append(items, map[string]any{"ip": a.IP, "hostnames": append(slices.Clone(a.Hostnames), hostname)})
			}
			found = true
		case has:
			rest := slices.DeleteFunc(slices.Clone(a.Hostnames), func(h string) bool { return h == hostname })
			if len(rest) == 0 {
				items = append(items, map[string]any{"ip": a.IP, "$patch": "delete"})
			} else {
				items = append(items, map[string]any{"ip": a.IP, "hostnames": rest})
			}
		}
	}
	if ip != "" && !found {
		items = append(items, map[string]any{"ip": ip, "hostnames": []string{hostname}})
	}
	return items
}
