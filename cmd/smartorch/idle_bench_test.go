package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smartorch/smartorch/devstack"
	"github.com/smartorch/smartorch/store"
	"github.com/smartorch/smartorch/testenv"
)

// BenchmarkIdle runs `smartorch api` and `smartorch worker` as separate
// processes of the slim binary (the image's) against a Temporal dev server
// and an embedded FerretDB, started at the same instant on a new database,
// joins a cluster and instantiates an enabler on it, lets them settle, then
// samples each process's CPU time and resident memory for a minute and
// prints them. It asserts nothing.
func BenchmarkIdle(b *testing.B) {
	const settle, window = 15 * time.Second, 60 * time.Second
	env := testenv.Start(b, testenv.Options{
		Temporal: true, ChartRepo: true,
		Clusters: []testenv.ClusterOptions{{Name: "cloud", Workloads: true, StorageClass: "standard",
			Nodes: []testenv.NodeOptions{{CPU: "8", Memory: "16Gi", PodCIDR: "10.217.0.0/24"}}}},
	})
	dir := b.TempDir()
	mongoURI, stopStore, err := devstack.StartFerretDB(context.Background(), filepath.Join(dir, "store"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stopStore)
	bin := filepath.Join(dir, "smartorch")
	// As the Dockerfile builds it, but without -trimpath, which would compile
	// every dependency again instead of reusing the test build's cache.
	if out, err := exec.Command("go", "build", "-tags", "slim", "-ldflags", "-s -w", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	ports, err := devstack.FreePorts("127.0.0.1", 1)
	if err != nil {
		b.Fatal(err)
	}
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	const password = "idle benchmark password"
	environ := append(os.Environ(),
		"SMARTORCH_MONGO_URI="+mongoURI,
		"SMARTORCH_TEMPORAL_ADDRESS="+env.Temporal.Address,
		"SMARTORCH_SECRET_KEY="+hex.EncodeToString(store.NewKey()),
		"SMARTORCH_ADMIN_PASSWORD="+password,
		"SMARTORCH_LISTEN="+strings.TrimPrefix(apiURL, "http://"),
		"SMARTORCH_METRICS_DIR="+filepath.Join(dir, "prometheus"),
		"SMARTORCH_CACHE_DIR="+filepath.Join(dir, "cache"),
		"SMARTORCH_LOG_LEVEL=warn",
	)
	exited := make(chan string, 2)
	start := func(part string) *os.Process {
		cmd := exec.Command(bin, part)
		cmd.Env = environ
		cmd.Stderr = b.Output()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			err := cmd.Wait()
			exited <- fmt.Sprintf("%s exited: %v", part, err)
			close(done)
		}()
		b.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
		return cmd.Process
	}
	// Both at once, as a deployment starts them: each creates the indexes of
	// the new database (store.Open retries when the other's get in the way).
	api, worker := start("api"), start("worker")
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(apiURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the API is not ready after a minute: %v", err)
		}
		select {
		case msg := <-exited:
			b.Fatal(msg)
		case <-time.After(200 * time.Millisecond):
		}
	}

	token := login(b, apiURL, password)
	cloud := env.Clusters[0]
	join, _ := json.Marshal(map[string]any{"name": cloud.Name, "credentials": json.RawMessage(cloud.KubeconfigJSON), "k8s_version": "1.34"})
	var joined struct{ Cluster struct{ Status string } }
	if code := call(b, "POST", apiURL+"/api/k8sclusters?wait=3m", token, string(join), &joined); code != 202 || joined.Cluster.Status != store.StatusEnabled {
		b.Fatalf("join: %d %+v", code, joined)
	}
	if code := call(b, "POST", apiURL+"/api/chartrepo", token, fmt.Sprintf(`{"name":"test","url":%q}`, env.ChartRepo.URL), nil); code != 201 {
		b.Fatalf("add chart repository: %d", code)
	}
	var placed struct{ Enabler struct{ Status string } }
	if code := call(b, "POST", apiURL+"/api/enabler?wait=3m", token, `{"enablerName":"web","helmChart":"test/web","vim":"cloud"}`, &placed); code != 202 || placed.Enabler.Status != store.StatusEnabled {
		b.Fatalf("instantiate: %d %+v", code, placed)
	}

	time.Sleep(settle)
	procs := map[string]*os.Process{"api": api, "worker": worker}
	first, rss := map[string]time.Duration{}, map[string]int64{}
	for name, p := range procs {
		first[name] = cpuTime(b, p.Pid)
	}
	began := time.Now()
	for time.Since(began) < window {
		time.Sleep(time.Second)
		for name, p := range procs {
			rss[name] = max(rss[name], residentKiB(b, p.Pid, "VmRSS"))
		}
	}
	elapsed := time.Since(began)
	load, _ := os.ReadFile("/proc/loadavg")
	for _, name := range []string{"api", "worker"} {
		used := cpuTime(b, procs[name].Pid) - first[name]
		percent := 100 * used.Seconds() / elapsed.Seconds()
		// Anonymous memory is the heap and stacks; file-backed is the
		// binary's own pages, which the kernel can drop and share.
		anon, file := residentKiB(b, procs[name].Pid, "RssAnon"), residentKiB(b, procs[name].Pid, "RssFile")
		fmt.Printf("idle %s over %s (1 cluster, 1 enabler): CPU %.2f%% of a core (%s), RSS max %.1f MiB, at the end %.1f MiB anonymous + %.1f MiB file-backed (load average %s)\n",
			name, elapsed.Round(time.Second), percent, used, float64(rss[name])/1024, float64(anon)/1024, float64(file)/1024, strings.Join(strings.Fields(string(load))[:3], " "))
		b.ReportMetric(percent, name+"-cpu-%")
		b.ReportMetric(float64(rss[name])/1024, name+"-rss-MiB")
		b.ReportMetric(float64(anon)/1024, name+"-rss-anon-MiB")
		b.ReportMetric(float64(file)/1024, name+"-rss-file-MiB")
	}
}

// cpuTime is the user and system CPU time a process has used, from
// /proc/<pid>/stat (utime and stime, in clock ticks of 1/100 s on Linux).
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// residentKiB is a field of /proc/<pid>/status in KiB: VmRSS, RssAnon, RssFile.
func residentKiB(b *testing.B, pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("%s %q", field, v)
			}
			return kib
		}
	}
	b.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}
