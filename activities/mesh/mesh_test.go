package mesh_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/smartorch/smartorch/activities/mesh"
	"github.com/smartorch/smartorch/testenv"
)

const ns = mesh.Namespace

func meshCluster(t *testing.T, env *testenv.Env, name string) mesh.Cluster {
	t.Helper()
	c := env.Cluster(name)
	u, err := url.Parse(c.APIServerURL)
	if err != nil {
		t.Fatal(err)
	}
	return mesh.Cluster{Name: name, Client: c.Client, Host: u.Hostname()}
}

func secret(t *testing.T, c mesh.Cluster, name string) *corev1.Secret {
	t.Helper()
	s, err := c.Client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func daemonSet(t *testing.T, c mesh.Cluster) *appsv1.DaemonSet {
	t.Helper()
	ds, err := c.Client.AppsV1().DaemonSets(ns).Get(context.Background(), mesh.AgentDaemonSet, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func deployment(t *testing.T, c mesh.Cluster, name string) *appsv1.Deployment {
	t.Helper()
	d, err := c.Client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// aliasIPs returns, per hostname, the IPs the cilium DaemonSet's template
// maps it to (one entry per occurrence, so duplicates show).
func aliasIPs(t *testing.T, c mesh.Cluster) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	for _, a := range daemonSet(t, c).Spec.Template.Spec.HostAliases {
		if len(a.Hostnames) == 0 {
			t.Errorf("%s: hostAlias %s without hostnames", c.Name, a.IP)
		}
		for _, h := range a.Hostnames {
			m[h] = append(m[h], a.IP)
		}
	}
	return m
}

func wantPeers(t *testing.T, c mesh.Cluster, want ...string) {
	t.Helper()
	got, err := mesh.Peers(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: Peers = %q, want %q", c.Name, got, want)
	}
}

// checkConnected checks everything Connect(local, peer) must leave, with
// peer's real certificates, and that peerIP is the only alias of peer.
func checkConnected(t *testing.T, local, peer mesh.Cluster, peerIP string) {
	t.Helper()
	s := secret(t, local, mesh.ClusterMeshSecret)
	if s == nil {
		t.Fatalf("%s: no Secret %s", local.Name, mesh.ClusterMeshSecret)
	}
	var cfg struct {
		Endpoints     []string `json:"endpoints"`
		TrustedCAFile string   `json:"trusted-ca-file"`
		CertFile      string   `json:"cert-file"`
		KeyFile       string   `json:"key-file"`
	}
	if err := yaml.UnmarshalStrict(s.Data[peer.Name], &cfg); err != nil {
		t.Fatalf("%s: key %s: %v\n%s", local.Name, peer.Name, err, s.Data[peer.Name])
	}
	endpoint := fmt.Sprintf("https://%s.mesh.cilium.io:%d", peer.Name, testenv.ClusterMeshNodePort)
	if !slices.Equal(cfg.Endpoints, []string{endpoint}) {
		t.Errorf("%s: %s endpoints = %q, want [%s]", local.Name, peer.Name, cfg.Endpoints, endpoint)
	}
	dir := "/var/lib/cilium/clustermesh/"
	if cfg.TrustedCAFile != dir+peer.Name+"-ca.crt" || cfg.CertFile != dir+peer.Name+".crt" || cfg.KeyFile != dir+peer.Name+".key" {
		t.Errorf("%s: %s files = %+v", local.Name, peer.Name, cfg)
	}
	ca := secret(t, peer, mesh.CASecret).Data["ca.crt"]
	remote := secret(t, peer, mesh.RemoteCertSecret)
	for key, want := range map[string][]byte{
		peer.Name + "-ca.crt": ca,
		peer.Name + ".crt":    remote.Data["tls.crt"],
		peer.Name + ".key":    remote.Data["tls.key"],
	} {
		if len(want) == 0 || !bytes.Equal(s.Data[key], want) {
			t.Errorf("%s: Secret key %s = %d bytes, not peer %s's %d bytes", local.Name, key, len(s.Data[key]), peer.Name, len(want))
		}
	}
	if got := aliasIPs(t, local)[peer.Name+".mesh.cilium.io"]; !slices.Equal(got, []string{peerIP}) {
		t.Errorf("%s: hostAlias IPs of %s.mesh.cilium.io = %q, want [%s]", local.Name, peer.Name, got, peerIP)
	}
}

func checkDisconnected(t *testing.T, local mesh.Cluster, peer string) {
	t.Helper()
	if s := secret(t, local, mesh.ClusterMeshSecret); s != nil {
		for _, k := range []string{peer, peer + "-ca.crt", peer + ".crt", peer + ".key"} {
			if _, ok := s.Data[k]; ok {
				t.Errorf("%s: Secret still has key %s", local.Name, k)
			}
		}
	}
	if got := aliasIPs(t, local)[peer+".mesh.cilium.io"]; len(got) > 0 {
		t.Errorf("%s: hostAlias %s.mesh.cilium.io still there: %q", local.Name, peer, got)
	}
}

// TestMesh connects, disconnects, sets identities and restarts agents on
// three Cilium clusters and one without Cilium.
func TestMesh(t *testing.T) {
	begin := time.Now()
	env := testenv.Start(t, testenv.Options{Clusters: []testenv.ClusterOptions{
		{Name: "cloud", Cilium: true},
		{Name: "edge-1", Cilium: true},
		{Name: "edge-2", Cilium: true},
		{Name: "plain"},
	}})
	t.Logf("environment in %v", time.Since(begin).Round(time.Millisecond))
	ctx := context.Background()
	cloud, edge1, edge2, plain := meshCluster(t, env, "cloud"), meshCluster(t, env, "edge-1"), meshCluster(t, env, "edge-2"), meshCluster(t, env, "plain")
	// edge-2's host is a DNS name: Connect must resolve it.
	edge2.Host = "localhost"

	t.Run("Detect", func(t *testing.T) {
		for i, c := range []mesh.Cluster{cloud, edge1, edge2} {
			info, err := mesh.Detect(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			want := mesh.Info{Cilium: true, ClusterMesh: true, Identity: mesh.Identity{Name: c.Name, ID: i + 1}, MaxClusterID: 255, NodePort: testenv.ClusterMeshNodePort}
			if info != want || !info.Ready() {
				t.Errorf("Detect(%s) = %+v, want %+v", c.Name, info, want)
			}
		}
		info, err := mesh.Detect(ctx, plain)
		if err != nil || info.Cilium || info.ClusterMesh || info.Ready() {
			t.Errorf("Detect(plain) = %+v, %v; want no Cilium", info, err)
		}
	})

	t.Run("connect concurrently to a fresh cloud, disconnect concurrently", func(t *testing.T) {
		// Rounds of edge-1 and edge-2 connecting to cloud at once (both
		// creating the Secret, both patching the DaemonSet), then leaving
		// at once (both deleting the emptied Secret). From round 3 on the
		// Secret exists already (made by someone else), so both patch it.
		for round := range 6 {
			if s := secret(t, cloud, mesh.ClusterMeshSecret); s != nil {
				t.Fatalf("round %d: Secret exists before connecting: %v", round, s.Data)
			}
			foreign := round >= 3
			if foreign {
				_, err := cloud.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: mesh.ClusterMeshSecret}}, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
			}
			parallel(t, func() error { return mesh.Connect(ctx, cloud, edge1) }, func() error { return mesh.Connect(ctx, cloud, edge2) })
			wantPeers(t, cloud, "edge-1", "edge-2")
			checkConnected(t, cloud, edge1, "127.0.0.1")
			checkConnected(t, cloud, edge2, "127.0.0.1")
			if got := len(daemonSet(t, cloud).Spec.Template.Spec.HostAliases); got != 1 {
				t.Errorf("round %d: %d hostAlias entries for one IP, want 1", round, got)
			}
			if s := secret(t, cloud, mesh.ClusterMeshSecret); (s.Labels[mesh.ManagedByLabel] == "smartorch") == foreign {
				t.Errorf("round %d: Secret labels %v (made by someone else: %t)", round, s.Labels, foreign)
			}
			parallel(t, func() error { return mesh.Disconnect(ctx, cloud, "edge-1") }, func() error { return mesh.Disconnect(ctx, cloud, "edge-2") })
			wantPeers(t, cloud)
			checkDisconnected(t, cloud, "edge-1")
			checkDisconnected(t, cloud, "edge-2")
			s := secret(t, cloud, mesh.ClusterMeshSecret)
			if !foreign && s != nil {
				t.Errorf("round %d: emptied Secret of ours not deleted: %v", round, s.Data)
			}
			if foreign {
				if s == nil || len(s.Data) != 0 {
					t.Fatalf("round %d: someone else's Secret not left empty: %v", round, s)
				}
				if err := cloud.Client.CoreV1().Secrets(ns).Delete(ctx, mesh.ClusterMeshSecret, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if got := daemonSet(t, cloud).Spec.Template.Spec.HostAliases; len(got) != 0 {
				t.Errorf("round %d: hostAliases left: %+v", round, got)
			}
		}
	})

	t.Run("connect both ways, twice", func(t *testing.T) {
		// edge-2 has a Secret made by someone else (as Helm does), with a
		// key of its own: Connect merges into it, Disconnect leaves it.
		_, err := edge2.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: mesh.ClusterMeshSecret},
			Data:       map[string][]byte{"other": []byte("endpoints: []\n")},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			for _, pair := range [][2]mesh.Cluster{{cloud, edge1}, {edge1, cloud}, {cloud, edge2}, {edge2, cloud}} {
				if err := mesh.Connect(ctx, pair[0], pair[1]); err != nil {
					t.Fatalf("pass %d: %v", i, err)
				}
			}
		}
		checkConnected(t, cloud, edge1, "127.0.0.1")
		checkConnected(t, cloud, edge2, "127.0.0.1")
		checkConnected(t, edge1, cloud, "127.0.0.1")
		checkConnected(t, edge2, cloud, "127.0.0.1")
		wantPeers(t, cloud, "edge-1", "edge-2")
		wantPeers(t, edge1, "cloud")
		wantPeers(t, edge2, "cloud", "other")

		// Connecting again changes nothing at all: the agents do not roll.
		before := daemonSet(t, cloud).ResourceVersion
		sBefore := secret(t, cloud, mesh.ClusterMeshSecret).ResourceVersion
		if err := mesh.Connect(ctx, cloud, edge1); err != nil {
			t.Fatal(err)
		}
		if after := daemonSet(t, cloud).ResourceVersion; after != before {
			t.Errorf("repeated Connect changed the DaemonSet (resourceVersion %s -> %s)", before, after)
		}
		if after := secret(t, cloud, mesh.ClusterMeshSecret).ResourceVersion; after != sBefore {
			t.Errorf("repeated Connect changed the Secret (resourceVersion %s -> %s)", sBefore, after)
		}

		// A peer whose address changed is moved, not duplicated.
		moved := edge1
		moved.Host = "127.0.0.2"
		if err := mesh.Connect(ctx, cloud, moved); err != nil {
			t.Fatal(err)
		}
		checkConnected(t, cloud, edge1, "127.0.0.2")
		checkConnected(t, cloud, edge2, "127.0.0.1")
		if err := mesh.Connect(ctx, cloud, edge1); err != nil {
			t.Fatal(err)
		}
		checkConnected(t, cloud, edge1, "127.0.0.1")
		if got := len(daemonSet(t, cloud).Spec.Template.Spec.HostAliases); got != 1 {
			t.Errorf("%d hostAlias entries after moving back, want 1", got)
		}
	})

	t.Run("disconnect", func(t *testing.T) {
		for i := range 2 { // the second time finds nothing to remove
			if err := mesh.Disconnect(ctx, cloud, "edge-1"); err != nil {
				t.Fatalf("pass %d: %v", i, err)
			}
			if err := mesh.Disconnect(ctx, edge1, "cloud"); err != nil {
				t.Fatalf("pass %d: %v", i, err)
			}
		}
		checkDisconnected(t, cloud, "edge-1")
		checkConnected(t, cloud, edge2, "127.0.0.1") // the other peer is untouched
		wantPeers(t, cloud, "edge-2")
		wantPeers(t, edge1)
		if s := secret(t, edge1, mesh.ClusterMeshSecret); s != nil {
			t.Errorf("edge-1: emptied Secret of ours not deleted: %v", s.Data)
		}
		if got := daemonSet(t, edge1).Spec.Template.Spec.HostAliases; len(got) != 0 {
			t.Errorf("edge-1: hostAliases left: %+v", got)
		}

		if err := mesh.Disconnect(ctx, edge2, "cloud"); err != nil {
			t.Fatal(err)
		}
		checkDisconnected(t, edge2, "cloud")
		s := secret(t, edge2, mesh.ClusterMeshSecret)
		if s == nil || len(s.Data) != 1 || string(s.Data["other"]) != "endpoints: []\n" {
			t.Errorf("edge-2: someone else's Secret not kept as it was: %v", s)
		}
		// Absent objects are fine.
		if err := mesh.Disconnect(ctx, plain, "cloud"); err != nil {
			t.Errorf("Disconnect on a cluster without Cilium: %v", err)
		}
	})

	t.Run("connect errors", func(t *testing.T) {
		if err := mesh.Connect(ctx, cloud, plain); err == nil || !contains(err, `"plain"`) {
			t.Errorf("Connect to a cluster without Cilium: %v", err)
		}
		if err := mesh.Connect(ctx, cloud, cloud); err == nil {
			t.Error("Connect to itself succeeded")
		}
		if err := mesh.Connect(ctx, plain, cloud); err == nil || !contains(err, `"plain"`) || !contains(err, "DaemonSet") {
			t.Errorf("Connect into a cluster without Cilium: %v", err)
		}
		bad := edge1
		bad.Host = "no-such-host.invalid"
		if err := mesh.Connect(ctx, cloud, bad); err == nil || !contains(err, `"edge-1"`) {
			t.Errorf("Connect to an unresolvable host: %v", err)
		}
		bad = edge1
		bad.Name = "Edge_1"
		if err := mesh.Connect(ctx, cloud, bad); err == nil {
			t.Error("Connect accepted the cluster name Edge_1")
		}
	})

	t.Run("SetIdentity and RestoreIdentity", func(t *testing.T) {
		// edge-2 becomes "mesh-edge-2" with id 42; it was edge-2 / 3.
		c := edge2
		c.Name = "mesh-edge-2"
		orig := mesh.Identity{Name: "edge-2", ID: 3}
		origArgs := slices.Clone(apiserverArgs(t, c))
		for i, id := range []int{42, 42, 43, 42} {
			prev, err := mesh.SetIdentity(ctx, c, id)
			if err != nil {
				t.Fatal(err)
			}
			if prev != orig {
				t.Errorf("call %d: previous = %+v, want %+v", i, prev, orig)
			}
		}
		info, err := mesh.Detect(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if info.Identity != (mesh.Identity{Name: "mesh-edge-2", ID: 42}) {
			t.Errorf("identity after SetIdentity = %+v", info.Identity)
		}
		wantArgs := []string{"--cluster-name=mesh-edge-2", "--cluster-id=42", origArgs[2]}
		if got := apiserverArgs(t, c); !slices.Equal(got, wantArgs) {
			t.Errorf("clustermesh-apiserver args = %q, want %q", got, wantArgs)
		}
		d := deployment(t, c, mesh.APIServerDeployment)
		if got := d.Spec.Template.Annotations[mesh.IdentityAnnotation]; got != "mesh-edge-2/42" {
			t.Errorf("clustermesh-apiserver template annotation = %q", got)
		}
		if d.Spec.Template.Spec.Containers[0].Args != nil {
			t.Errorf("the etcd container got args: %q", d.Spec.Template.Spec.Containers[0].Args)
		}
		// Same again: nothing changes.
		cmRV := configMap(t, c).ResourceVersion
		if _, err := mesh.SetIdentity(ctx, c, 42); err != nil {
			t.Fatal(err)
		}
		if configMap(t, c).ResourceVersion != cmRV || deployment(t, c, mesh.APIServerDeployment).ResourceVersion != d.ResourceVersion {
			t.Error("repeated SetIdentity changed cilium-config or the Deployment")
		}
		for _, id := range []int{0, 256, -1} {
			if _, err := mesh.SetIdentity(ctx, c, id); err == nil || !contains(err, `"mesh-edge-2"`) {
				t.Errorf("SetIdentity(%d): %v", id, err)
			}
		}
		if _, err := mesh.SetIdentity(ctx, plain, 5); err == nil || !contains(err, "cilium-config") {
			t.Errorf("SetIdentity without Cilium: %v", err)
		}

		for range 2 {
			if err := mesh.RestoreIdentity(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if info, _ := mesh.Detect(ctx, c); info.Identity != orig {
			t.Errorf("identity after RestoreIdentity = %+v, want %+v", info.Identity, orig)
		}
		if got := apiserverArgs(t, c); !slices.Equal(got, origArgs) {
			t.Errorf("clustermesh-apiserver args after RestoreIdentity = %q, want %q", got, origArgs)
		}
		if _, ok := configMap(t, c).Annotations[mesh.PreviousIdentityAnnotation]; ok {
			t.Error("RestoreIdentity left the record on cilium-config")
		}
		if _, ok := deployment(t, c, mesh.APIServerDeployment).Spec.Template.Annotations[mesh.IdentityAnnotation]; ok {
			t.Error("RestoreIdentity left the template annotation")
		}
		// After a restore, the next SetIdentity records afresh.
		if prev, err := mesh.SetIdentity(ctx, c, 7); err != nil || prev != orig {
			t.Errorf("SetIdentity after restore = %+v, %v; want %+v", prev, err, orig)
		}
		if err := mesh.RestoreIdentity(ctx, c); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("RestartAgents", func(t *testing.T) {
		type state struct {
			gen   int64
			stamp string
		}
		read := func(c mesh.Cluster) (ds, op state) {
			d := daemonSet(t, c)
			o := deployment(t, c, mesh.OperatorDeployment)
			return state{d.Generation, d.Spec.Template.Annotations[mesh.RestartedAtAnnotation]},
				state{o.Generation, o.Spec.Template.Annotations[mesh.RestartedAtAnnotation]}
		}
		s1, s2 := "2025-01-02T03:04:05Z", "2025-01-02T03:09:00Z"
		ds0, op0 := read(cloud)
		if err := mesh.RestartAgents(ctx, cloud, s1); err != nil {
			t.Fatal(err)
		}
		ds1, op1 := read(cloud)
		if ds1.stamp != s1 || op1.stamp != s1 || ds1.gen != ds0.gen+1 || op1.gen != op0.gen+1 {
			t.Errorf("after RestartAgents: DaemonSet %+v (was %+v), operator %+v (was %+v)", ds1, ds0, op1, op0)
		}
		if err := mesh.RestartAgents(ctx, cloud, s1); err != nil {
			t.Fatal(err)
		}
		if ds, op := read(cloud); ds != ds1 || op != op1 {
			t.Errorf("same stamp again restarted: DaemonSet %+v, operator %+v", ds, op)
		}
		if err := mesh.RestartAgents(ctx, cloud, s2); err != nil {
			t.Fatal(err)
		}
		if ds, op := read(cloud); ds.stamp != s2 || op.stamp != s2 || ds.gen != ds1.gen+1 || op.gen != op1.gen+1 {
			t.Errorf("new stamp: DaemonSet %+v, operator %+v", ds, op)
		}
		// Without an operator the agents still restart.
		if err := edge1.Client.AppsV1().Deployments(ns).Delete(ctx, mesh.OperatorDeployment, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := mesh.RestartAgents(ctx, edge1, s1); err != nil {
			t.Fatal(err)
		}
		if got := daemonSet(t, edge1).Spec.Template.Annotations[mesh.RestartedAtAnnotation]; got != s1 {
			t.Errorf("edge-1 without operator: stamp %q", got)
		}
		if err := mesh.RestartAgents(ctx, plain, s1); err == nil || !contains(err, `"plain"`) || !contains(err, "DaemonSet") {
			t.Errorf("RestartAgents without Cilium: %v", err)
		}
		if err := mesh.RestartAgents(ctx, cloud, ""); err == nil {
			t.Error("RestartAgents accepted an empty stamp")
		}
	})
}

func configMap(t *testing.T, c mesh.Cluster) *corev1.ConfigMap {
	t.Helper()
	cm, err := c.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), mesh.ConfigMapName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// apiserverArgs returns the args of the clustermesh-apiserver's second
// container, the one carrying the identity.
func apiserverArgs(t *testing.T, c mesh.Cluster) []string {
	t.Helper()
	return deployment(t, c, mesh.APIServerDeployment).Spec.Template.Spec.Containers[1].Args
}

func parallel(t *testing.T, fns ...func() error) {
	t.Helper()
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func contains(err error, s string) bool {
	return bytes.Contains([]byte(err.Error()), []byte(s))
}
