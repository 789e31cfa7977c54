// Command testenv brings up the test environment for people: N clusters
// (cloud, edge-1 … edge-N-1, each with fake nodes, workloads, a default
// StorageClass and Cilium objects), Prometheus and the test chart
// repository, and optionally Temporal. It writes DIR/<cluster>.kubeconfig
// (and .kubeconfig.json, the form the orchestrator's API accepts) and
// DIR/env, prints them, and stays up until SIGINT or SIGTERM.
//
//	eval "$(hack/tools.sh)" && go run ./cmd/testenv -n 3 -dir /tmp/env
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/smartorch/smartorch/testenv"
)

func main() {
	n := flag.Int("n", 3, "number of clusters: cloud plus n-1 edges")
	dir := flag.String("dir", filepath.Join(os.TempDir(), "smartorch-testenv"), "directory for the kubeconfigs and the env file")
	temporal := flag.Bool("temporal", false, "also start a Temporal dev server with its Web UI")
	flag.Parse()
	if *n < 1 {
		log.Fatal("-n must be at least 1")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	// Signals that arrive while starting are handled once Start returns.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	s := testenv.NewSession()
	env := testenv.Start(s, testenv.Options{
		Clusters:   clusters(*n),
		Prometheus: true,
		ChartRepo:  true,
		Temporal:   *temporal,
		TemporalUI: *temporal,
	})
	if err := writeFiles(env, *dir); err != nil {
		s.Fatalf("%v", err)
	}
	log.Printf("environment is up; data and logs in %s; Ctrl-C stops it", env.Dir)
	<-ctx.Done()
	log.Print("stopping")
	s.Close()
}

func clusters(n int) []testenv.ClusterOptions {
	out := []testenv.ClusterOptions{{
		Name: "cloud", Workloads: true, StorageClass: "standard", Cilium: true,
		Nodes: []testenv.NodeOptions{{CPU: "16", Memory: "32Gi"}, {CPU: "16", Memory: "32Gi"}},
	}}
	for i := 1; i < n; i++ {
		out = append(out, testenv.ClusterOptions{
			Name: fmt.Sprintf("edge-%d", i), Workloads: true, StorageClass: "standard", Cilium: true,
			Nodes: []testenv.NodeOptions{{CPU: "4", Memory: "8Gi"}},
		})
	}
	return out
}

// writeFiles writes the kubeconfigs and DIR/env, and prints the latter.
func writeFiles(env *testenv.Env, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var kubeconfigs []string
	lines := []string{
		"PROMETHEUS_URL=" + env.Prometheus.URL,
		"PROMETHEUS_FILE_SD_DIR=" + env.Prometheus.FileSDDir,
		"CHART_REPO_URL=" + env.ChartRepo.URL,
	}
	for _, c := range env.Clusters {
		path := filepath.Join(dir, c.Name+".kubeconfig")
		if err := os.WriteFile(path, c.Kubeconfig, 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(path+".json", c.KubeconfigJSON, 0o600); err != nil {
			return err
		}
		kubeconfigs = append(kubeconfigs, path)
		name := strings.ToUpper(strings.ReplaceAll(c.Name, "-", "_"))
		lines = append(lines, "METRICS_"+name+"="+c.Metrics.Address)
	}
	lines = append(lines, "KUBECONFIG="+strings.Join(kubeconfigs, ":"))
	if env.Temporal != nil {
		lines = append(lines,
			"TEMPORAL_ADDRESS="+env.Temporal.Address,
			"TEMPORAL_NAMESPACE="+env.Temporal.Namespace,
			"TEMPORAL_UI_URL="+env.Temporal.UIURL)
	}
	text := strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(text), 0o644); err != nil {
		return err
	}
	fmt.Print(text)
	return nil
}
