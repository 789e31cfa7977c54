// Package testenv runs real multi-cluster test environments on one machine:
// Kubernetes clusters (etcd 3.6, kube-apiserver, kube-controller-manager and
// kube-scheduler v1.34.4, kwok for fake nodes and pods), Prometheus, a Helm
// chart repository and a Temporal dev server, all on 127.0.0.1 with free
// ports.
//
// The binaries come from hack/tools.sh (`make tools`), which prints
// `export SMARTORCH_TOOLS_BIN=<dir>`. When that variable is unset or a
// binary is missing, Start fails the test and says so; it never skips.
//
// Typical use:
//
//	env := testenv.Start(t, testenv.Options{
//		Clusters: []testenv.ClusterOptions{
//			{Name: "cloud", Workloads: true, StorageClass: "standard", Cilium: true},
//			{Name: "edge-1", Workloads: true, Nodes: []testenv.NodeOptions{{CPU: "4", Memory: "8Gi"}}},
//		},
//		Prometheus: true,
//		ChartRepo:  true,
//		Temporal:   true,
//	})
//	cloud := env.Cluster("cloud")
//	cloud.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
//	cloud.Metrics.SetReceiveRate("cloud-node-1", 2e6)
//	// sum(instance:node_network_receive_bytes_excluding_lo:rate5m{cluster_name="cloud"}) at env.Prometheus.URL
//	// helm repo at env.ChartRepo.URL, Temporal at env.Temporal.Address
//
// What each cluster offers: KubeconfigPath, Kubeconfig (YAML) and
// KubeconfigJSON with cluster, context and user all named after the
// cluster; Config (*rest.Config) and Client (kubernetes.Interface); fake
// nodes with the requested capacity, labels and pod CIDRs; with Workloads,
// a controller manager, scheduler and kwok so Deployments, StatefulSets and
// DaemonSets become ready; optionally a default StorageClass with ten
// pre-made PVs, and the Cilium/ClusterMesh objects the orchestrator reads;
// Metrics, a node-exporter look-alike whose rates the test sets; and
// StopAPIServer/StartAPIServer for chaos tests. With TemporalPersistent,
// Temporal.Kill and Start crash and restart Temporal with its workflows.
//
// Prometheus scrapes each cluster's Metrics every second as job
// "node-exporter" with the label cluster_name, through file_sd files in
// Prometheus.FileSDDir (Prometheus.SetTargets adds more at run time), and
// evaluates deploy/prometheus/rules.yaml with its [5m] ranges shortened to
// RateWindow (default 5s): rate() over five minutes needs five minutes of
// samples before it shows the rate a test set. A test that sets a rate sees
// it in the recorded series after a few seconds. Metrics tell nodes apart by
// the label "node".
//
// All clusters share one etcd (each API server has its own --etcd-prefix).
// Teardown runs on t.Cleanup, also when the test fails: per cluster kwok,
// scheduler, controller manager, API server, then etcd, then Prometheus and
// Temporal, each killed by PID and waited for. Processes also get
// PR_SET_PDEATHSIG, so a crashed test binary leaves nothing running.
// Env.PIDs lists every process started.
//
// Start takes a T, the part of testing.TB it needs, so *testing.T and
// *testing.B work as they are; programs (cmd/testenv) use a Session.
// StartChartRepo serves only the chart repository, for tests without
// clusters.
//
// Mongo is not part of the environment: tests start devstack.StartFerretDB
// themselves.
package testenv
