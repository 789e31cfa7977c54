// Package usage reads the live usage and network traffic of clusters from
// Prometheus: node-exporter series labelled cluster_name and the
// kube-prometheus recording rules of deploy/prometheus/rules.yaml.
package usage

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
)

// Client queries one Prometheus (the central one, or a cluster's own). A
// zero URL means none: every call returns ErrNoPrometheus.
type Client struct {
	URL     string
	Timeout time.Duration // per query; default 5s
}

var (
	ErrNoPrometheus = errors.New("no Prometheus configured")
	ErrNoData       = errors.New("no data") // the query returned no series
)

const defaultTimeout = 5 * time.Second

// Sample is a value and when Prometheus computed it.
type Sample struct {
	Value float64
	At    time.Time
}

// NodeUsage is live usage of one node.
type NodeUsage struct {
	CPU    float64   `json:"cpuCores"`    // cores busy
	Memory float64   `json:"memoryBytes"` // bytes used: MemTotal − MemAvailable
	At     time.Time `json:"at"`
}

const trafficRule = "instance:node_network_receive_bytes_excluding_lo:rate5m"

// Traffic returns the bytes per second the cluster's nodes receive, loopback
// excluded: sum(instance:node_network_receive_bytes_excluding_lo:rate5m{cluster_name="<cluster>"}).
// At is the time of the oldest recorded sample in the sum, so the caller can
// tell a stale figure. ErrNoData when there is no series for the cluster.
func (c Client) Traffic(ctx context.Context, cluster string) (Sample, error) {
	m, err := matcher(cluster)
	if err != nil {
		return Sample{}, err
	}
	sel := trafficRule + "{" + m + "}"
	sum, err := c.query(ctx, "sum("+sel+")")
	if err != nil {
		return Sample{}, err
	}
	oldest, err := c.query(ctx, "min(timestamp("+sel+"))")
	if err != nil {
		return Sample{}, err
	}
	if len(sum) == 0 || len(oldest) == 0 {
		return Sample{}, fmt.Errorf("traffic of cluster %s: %w", cluster, ErrNoData)
	}
	return Sample{Value: float64(sum[0].Value), At: unixTime(oldest[0].Value)}, nil
}

// NodeUsage returns usage per node of the cluster, keyed by node name.
// CPU is instance:node_cpu_utilisation:rate5m times the node's CPU count;
// memory is node_memory_MemTotal_bytes − node_memory_MemAvailable_bytes; At
// is the older of the two samples. A node is left out unless both are
// known. ErrNoData when no node has usage.
//
// node-exporter series identify the node in different ways: testenv labels
// every series with "node"; kube-prometheus relabels "instance" to the node
// name; a plain file_sd scrape has instance "<node InternalIP>:9100". Series
// map to nodes in that order of preference; the others are ignored.
func (c Client) NodeUsage(ctx context.Context, cluster string, nodes []corev1.Node) (map[string]NodeUsage, error) {
	m, err := matcher(cluster)
	if err != nil {
		return nil, err
	}
	utilisation := "instance:node_cpu_utilisation:rate5m{" + m + "}"
	idle := `node_cpu_seconds_total{job="node-exporter",mode="idle",` + m + "}"
	total := `node_memory_MemTotal_bytes{job="node-exporter",` + m + "}"
	available := `node_memory_MemAvailable_bytes{job="node-exporter",` + m + "}"

	index := newNodeIndex(nodes)
	// Both sides keep all labels but cpu and mode, so they match one to one.
	cpu, err := c.perNode(ctx, index, utilisation+" * count without (cpu, mode) ("+idle+")")
	if err != nil {
		return nil, err
	}
	cpuAt, err := c.perNode(ctx, index, "timestamp("+utilisation+")")
	if err != nil {
		return nil, err
	}
	memory, err := c.perNode(ctx, index, total+" - "+available)
	if err != nil {
		return nil, err
	}
	memoryAt, err := c.perNode(ctx, index, "timestamp("+available+")")
	if err != nil {
		return nil, err
	}

	usage := map[string]NodeUsage{}
	for node, cores := range cpu {
		bytes, ok1 := memory[node]
		t1, ok2 := cpuAt[node]
		t2, ok3 := memoryAt[node]
		if ok1 && ok2 && ok3 {
			usage[node] = NodeUsage{CPU: float64(cores), Memory: float64(bytes), At: unixTime(min(t1, t2))}
		}
	}
	if len(usage) == 0 {
		return nil, fmt.Errorf("usage of cluster %s: %w", cluster, ErrNoData)
	}
	return usage, nil
}

// perNode runs expr and returns its values by node name.
func (c Client) perNode(ctx context.Context, index nodeIndex, expr string) (map[string]model.SampleValue, error) {
	vec, err := c.query(ctx, expr)
	if err != nil {
		return nil, err
	}
	values := map[string]model.SampleValue{}
	for _, s := range vec {
		if node := index.node(s.Metric); node != "" {
			values[node] = s.Value
		}
	}
	return values, nil
}

// query runs an instant query at Prometheus's own current time.
func (c Client) query(ctx context.Context, expr string) (model.Vector, error) {
	if c.URL == "" {
		return nil, ErrNoPrometheus
	}
	client, err := api.NewClient(api.Config{Address: c.URL})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", redacted(c.URL), err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, _, err := promv1.NewAPI(client).Query(ctx, expr, time.Time{}, promv1.WithTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %s: %w", redacted(c.URL), expr, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("prometheus %s: %s: got a %s, want a vector", redacted(c.URL), expr, v.Type())
	}
	return vec, nil
}

// redacted is the URL without its password, for messages.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// matcher returns the label matcher cluster_name="<cluster>", quoting the
// name as PromQL quotes string literals (Go's rules). An empty name would
// match every series without the label, so it is refused.
func matcher(cluster string) (string, error) {
	if cluster == "" {
		return "", errors.New("usage: empty cluster name")
	}
	return "cluster_name=" + strconv.Quote(cluster), nil
}

// unixTime converts seconds since the epoch, as timestamp() returns them
// (millisecond precision), to a time.
func unixTime(seconds model.SampleValue) time.Time {
	return time.UnixMilli(int64(math.Round(float64(seconds) * 1000)))
}

// nodeIndex finds the node a node-exporter series belongs to.
type nodeIndex struct {
	names     map[string]bool
	addresses map[string]string // address → node name
}

func newNodeIndex(nodes []corev1.Node) nodeIndex {
	ix := nodeIndex{names: map[string]bool{}, addresses: map[string]string{}}
	for _, n := range nodes {
		ix.names[n.Name] = true
		for _, a := range n.Status.Addresses {
			if _, taken := ix.addresses[a.Address]; !taken && a.Address != "" {
				ix.addresses[a.Address] = n.Name
			}
		}
	}
	return ix
}

// node returns the node named by the series' label "node", else by its
// instance, else the node with the instance's host as an address; "" when
// none.
func (ix nodeIndex) node(m model.Metric) string {
	if name := string(m["node"]); ix.names[name] {
		return name
	}
	instance := string(m["instance"])
	if ix.names[instance] {
		return instance
	}
	host := instance
	if h, _, err := net.SplitHostPort(instance); err == nil {
		host = h
	}
	return ix.addresses[host]
}
