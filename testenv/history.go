package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Series is a gauge series of the past, written into the test Prometheus
// before it starts (Options.History), so that queries over past windows
// find data: a TSDB backfill with `promtool tsdb create-blocks-from
// openmetrics`. It must end more than five minutes before now, or it would
// show in instant queries (Prometheus's lookback).
type Series struct {
	Name   string
	Labels map[string]string
	Points []Point
}

// Point is one sample of a Series.
type Point struct {
	At    time.Time
	Value float64
}

// NodeLoad is a node's load at one time of its history.
type NodeLoad struct {
	ReceiveBytesPerSecond float64
	CPUs                  int
	BusyCores             float64
	MemoryTotal           float64 // bytes
	MemoryUsed            float64 // bytes
}

// NodeHistory is the history of one node of a cluster, every step from
// from to to, as the recording rules of deploy/prometheus/rules.yaml and
// node-exporter would have left it with load(t): the series the placement
// forecasts read. The series carry instance="history", so they never mix
// with the live ones of Metrics.
func NodeHistory(cluster, node string, from, to time.Time, step time.Duration, load func(time.Time) NodeLoad) []Series {
	labels := map[string]string{"cluster_name": cluster, "job": "node-exporter", "node": node, "instance": "history"}
	names := []string{
		"instance:node_network_receive_bytes_excluding_lo:rate5m",
		"instance:node_cpu_utilisation:rate5m",
		"instance:node_num_cpu:sum",
		"node_memory_MemTotal_bytes",
		"node_memory_MemAvailable_bytes",
	}
	series := make([]Series, len(names))
	for i, name := range names {
		series[i] = Series{Name: name, Labels: labels}
	}
	for t := from; !t.After(to); t = t.Add(step) {
		l := load(t)
		values := []float64{l.ReceiveBytesPerSecond, l.BusyCores / float64(max(l.CPUs, 1)), float64(l.CPUs), l.MemoryTotal, l.MemoryTotal - l.MemoryUsed}
		for i, v := range values {
			series[i].Points = append(series[i].Points, Point{At: t, Value: v})
		}
	}
	return series
}

// openMetrics writes series as OpenMetrics text: one gauge family per name,
// its series together, timestamps in seconds.
func openMetrics(series []Series) []byte {
	sorted := slices.Clone(series)
	slices.SortStableFunc(sorted, func(a, b Series) int { return strings.Compare(a.Name, b.Name) })
	var b bytes.Buffer
	for i, s := range sorted {
		if i == 0 || sorted[i-1].Name != s.Name {
			fmt.Fprintf(&b, "# TYPE %s gauge\n", s.Name)
		}
		keys := make([]string, 0, len(s.Labels))
		for k := range s.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		pairs := make([]string, len(keys))
		for j, k := range keys {
			pairs[j] = k + "=" + strconv.Quote(s.Labels[k])
		}
		for _, p := range s.Points {
			fmt.Fprintf(&b, "%s{%s} %s %.3f\n", s.Name, strings.Join(pairs, ","),
				strconv.FormatFloat(p.Value, 'g', -1, 64), float64(p.At.UnixMilli())/1000)
		}
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

// backfill writes series into the TSDB at dataDir with promtool, which the
// Debian prometheus package installs next to prometheus.
func backfill(dir, dataDir string, series []Series) error {
	bin, err := tool("prometheus")
	if err != nil {
		return err
	}
	target, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return err
	}
	promtool := filepath.Join(filepath.Dir(target), "promtool")
	file := filepath.Join(dir, "history.om")
	if err := os.WriteFile(file, openMetrics(series), 0o644); err != nil {
		return err
	}
	out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", file, dataDir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("backfilling Prometheus history with %s: %v\n%s", promtool, err, out)
	}
	return nil
}
