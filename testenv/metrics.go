package testenv

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/api/resource"
)

// LoopbackReceiveRate is the constant rate, in bytes per second, of every
// node's device "lo". The recording rule excludes it, so a query that shows
// it is wrong.
const LoopbackReceiveRate = 1e6

// Metrics serves node-exporter metrics for a cluster's fake nodes, one
// series set per node told apart by the label "node":
// node_network_receive_bytes_total{device="eth0"|"lo"},
// node_cpu_seconds_total{cpu,mode="idle"|"user"},
// node_memory_MemTotal_bytes and node_memory_MemAvailable_bytes.
// Counters grow at the rates the test sets, computed at scrape time.
type Metrics struct {
	// Address is host:port, what a Prometheus target names.
	Address string
	// URL is the full metrics URL, http://<Address>/metrics.
	URL string

	server *http.Server
	start  time.Time // when the CPU counters were 0
	mu     sync.Mutex
	nodes  map[string]*nodeMetrics
}

type nodeMetrics struct {
	cpus         int
	memTotal     float64
	memAvailable float64
	receive      counter // eth0
	loopback     counter
	cpuBusy      counter // seconds of all CPUs together in mode "user"
}

// counter is a counter whose value grows linearly at rate since since.
type counter struct {
	base  float64
	rate  float64
	since time.Time
}

func (c *counter) value(now time.Time) float64 {
	return c.base + c.rate*now.Sub(c.since).Seconds()
}

func (c *counter) setRate(now time.Time, rate float64) {
	c.base, c.rate, c.since = c.value(now), rate, now
}

func startMetrics(nodes []NodeOptions) (*Metrics, error) {
	now := time.Now()
	m := &Metrics{nodes: map[string]*nodeMetrics{}, start: now}
	for _, n := range nodes {
		cpu := resource.MustParse(n.CPU) // checked in nodesWithDefaults
		mem := resource.MustParse(n.Memory)
		total := float64(mem.Value())
		m.nodes[n.Name] = &nodeMetrics{
			cpus:         max(1, int(cpu.Value())),
			memTotal:     total,
			memAvailable: total,
			receive:      counter{since: now},
			loopback:     counter{rate: LoopbackReceiveRate, since: now},
			cpuBusy:      counter{since: now},
		}
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.Address = l.Addr().String()
	m.URL = "http://" + m.Address + "/metrics"
	go func() { _ = m.server.Serve(l) }()
	return m, nil
}

// SetReceiveRate makes node's eth0 receive counter grow at bytesPerSecond
// from now on.
func (m *Metrics) SetReceiveRate(node string, bytesPerSecond float64) {
	m.update(node, func(n *nodeMetrics, now time.Time) { n.receive.setRate(now, bytesPerSecond) })
}

// SetCPUUsage makes node's CPUs busy (mode "user") for cores CPU seconds
// per second in total, spread evenly and at most all CPUs; the rest is idle.
func (m *Metrics) SetCPUUsage(node string, cores float64) {
	m.update(node, func(n *nodeMetrics, now time.Time) { n.cpuBusy.setRate(now, min(cores, float64(n.cpus))) })
}

// SetMemoryAvailable sets node_memory_MemAvailable_bytes of node.
func (m *Metrics) SetMemoryAvailable(node string, bytes float64) {
	m.update(node, func(n *nodeMetrics, _ time.Time) { n.memAvailable = bytes })
}

func (m *Metrics) update(node string, f func(*nodeMetrics, time.Time)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[node]
	if !ok {
		panic("testenv: metrics for unknown node " + strconv.Quote(node))
	}
	f(n, time.Now())
}

func (m *Metrics) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = m.server.Shutdown(ctx)
}

var (
	receiveDesc = prometheus.NewDesc("node_network_receive_bytes_total",
		"Network device statistic receive_bytes.", []string{"node", "device"}, nil)
	cpuDesc = prometheus.NewDesc("node_cpu_seconds_total",
		"Seconds the CPUs spent in each mode.", []string{"node", "cpu", "mode"}, nil)
	memTotalDesc = prometheus.NewDesc("node_memory_MemTotal_bytes",
		"Memory information field MemTotal_bytes.", []string{"node"}, nil)
	memAvailableDesc = prometheus.NewDesc("node_memory_MemAvailable_bytes",
		"Memory information field MemAvailable_bytes.", []string{"node"}, nil)
)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{receiveDesc, cpuDesc, memTotalDesc, memAvailableDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for name, n := range m.nodes {
		ch <- prometheus.MustNewConstMetric(receiveDesc, prometheus.CounterValue, n.receive.value(now), name, "eth0")
		ch <- prometheus.MustNewConstMetric(receiveDesc, prometheus.CounterValue, n.loopback.value(now), name, "lo")
		busy := n.cpuBusy.value(now) / float64(n.cpus)
		idle := now.Sub(m.start).Seconds() - busy
		for cpu := range n.cpus {
			id := strconv.Itoa(cpu)
			ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, busy, name, id, "user")
			ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, idle, name, id, "idle")
		}
		ch <- prometheus.MustNewConstMetric(memTotalDesc, prometheus.GaugeValue, n.memTotal, name)
		ch <- prometheus.MustNewConstMetric(memAvailableDesc, prometheus.GaugeValue, n.memAvailable, name)
	}
}
