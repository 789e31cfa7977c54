package apiserver_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// BenchmarkListRepos measures an authenticated GET /api/chartrepo with 50
// repositories over real HTTP against the real store (token check, store
// read, decryption of the sealed passwords, JSON).
func BenchmarkListRepos(b *testing.B) {
	a := startAPI(b)
	for i := range 50 {
		r := &store.Repo{Name: fmt.Sprintf("repo-%02d", i), URL: "https://charts.example.com", Username: "u", Password: "p"}
		if err := a.store.Repos.Insert(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	token := a.login()
	client := &http.Client{}
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("GET", a.url+"/api/chartrepo", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// BenchmarkListEnablersAt500RPS offers GET /api/enabler/instanced at a
// constant 500 requests/s for 20 s against the real API and store (an
// embedded FerretDB) holding 10,000 enablers, and prints the latency
// percentiles. The load is open: requests leave on a fixed schedule
// whatever the answers do, and each latency counts from the scheduled
// time, so a stall shows in full instead of slowing the offered load
// (no coordinated omission). Everything (store, API, load generator)
// shares the machine's cores. It asserts nothing.
func BenchmarkListEnablersAt500RPS(b *testing.B) {
	a := startAPI(b)
	seedEnablers(b, a.store, 10000)
	token := a.login()
	// The first list after the seeding reads all 10,000 summaries from the
	// store; the load measures the lists that follow.
	if code := a.do("GET", "/api/enabler/instanced", token, nil, nil); code != 200 {
		b.Fatalf("first list: %d", code)
	}
	const rate, duration = 500, 20 * time.Second
	b.Run("first-page", func(b *testing.B) {
		r := offerLoad(b, rate, duration, func(int) string { return a.url + "/api/enabler/instanced" }, token)
		r.print(b, "first page (100 of 10,000 enablers)")
	})
	b.Run("any-page", func(b *testing.B) {
		// Cursors spread over the whole list, as a client paging through it.
		cursors := make([]string, 100)
		for i := range cursors {
			cursors[i] = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "web-%05d", i*100))
		}
		r := offerLoad(b, rate, duration, func(i int) string {
			return a.url + "/api/enabler/instanced?cursor=" + cursors[i%len(cursors)]
		}, token)
		r.print(b, "pages of 100 all over the 10,000 enablers")
	})
}

// seedEnablers writes n enablers through the store as a placement leaves
// them: values, and a decision over four clusters.
func seedEnablers(b *testing.B, st *store.Store, n int) {
	b.Helper()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				d := &scheduler.Decision{Policy: scheduler.WorstFit, Applied: scheduler.WorstFit, ClusterID: "c-1", Cluster: "edge-1",
					Reason: "edge-1 has the most room left"}
				for c := range 4 {
					d.Candidates = append(d.Candidates, scheduler.Candidate{ClusterID: fmt.Sprint("c-", c), Cluster: fmt.Sprint("edge-", c),
						Fits: 10, Needed: 2, Feasible: true, Score: float64(c), Reason: "fits; lower score"})
				}
				e := &store.Enabler{Name: fmt.Sprintf("web-%05d", i), HelmChart: "demo/web", Version: "0.2.0", ChartVersion: "0.2.0",
					Namespace: "default", Values: map[string]any{"replicaCount": 2, "password": "secret"}, Auto: true,
					Policy: string(scheduler.WorstFit), TimeoutSeconds: 300, ClusterID: "c-1", Cluster: "edge-1",
					Status: store.StatusEnabled, OperationID: fmt.Sprint("enabler-instantiate-", i), Placement: d, ReleaseRevision: 1}
				if err := st.Enablers.Insert(b.Context(), e); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d enablers in %s", n, time.Since(start).Round(time.Second))
}

// loadResult is what an open-loop run measured.
type loadResult struct {
	offered   float64
	achieved  float64
	latencies []time.Duration // sorted, of the successful requests
	errors    int
	firstErr  error
}

func (r loadResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(math.Ceil(q*float64(len(r.latencies))))-1]
}

func (r loadResult) print(b *testing.B, what string) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("GET /api/enabler/instanced, %s: offered %.0f req/s, achieved %.1f req/s, "+
		"P50 %.2f ms, P90 %.2f ms, P99 %.2f ms, max %.2f ms, errors %d (load average %s)\n",
		what, r.offered, r.achieved, ms(r.quantile(0.5)), ms(r.quantile(0.9)), ms(r.quantile(0.99)),
		ms(r.quantile(1)), r.errors, strings.Join(strings.Fields(string(load))[:3], " "))
	if r.firstErr != nil {
		fmt.Printf("  first error: %v\n", r.firstErr)
	}
	b.ReportMetric(ms(r.quantile(0.5)), "p50-ms")
	b.ReportMetric(ms(r.quantile(0.99)), "p99-ms")
	b.ReportMetric(r.achieved, "req/s")
	b.ReportMetric(float64(r.errors), "errors")
}

// offerLoad sends GET url(i) for the i-th request at rate per second for
// duration, each on its own goroutine at its scheduled time.
func offerLoad(b *testing.B, rate int, duration time.Duration, url func(i int) string, token string) loadResult {
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1000, MaxIdleConns: 1000},
	}
	n := int(duration.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	latencies := make([]time.Duration, n)
	failed := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		scheduled := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(scheduled))
		wg.Go(func() {
			req, _ := http.NewRequest("GET", url(i), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			latencies[i], failed[i] = time.Since(scheduled), err
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := loadResult{offered: float64(rate), achieved: float64(n) / elapsed.Seconds()}
	for i, d := range latencies {
		if failed[i] != nil {
			r.errors++
			if r.firstErr == nil {
				r.firstErr = failed[i]
			}
			continue
		}
		r.latencies = append(r.latencies, d)
	}
	slices.Sort(r.latencies)
	return r
}
