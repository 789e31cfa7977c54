package scheduler

import (
	"encoding/json"
	"testing"
)

func FuzzParseResources(f *testing.F) {
	for _, s := range [][2]string{
		{"0.5", "512M"}, {"500m", "1Gi"}, {"2", "1073741824"}, {"1e30", "100Ei"},
		{"-1", "-1Gi"}, {"", ""}, {"1.5.5", "1GB"}, {"0.0001", "1e-3"}, {"9223372036854775807", "9223372036854775807"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, cpu, memory string) {
		r, err := ParseResources(cpu, memory)
		if err != nil {
			return
		}
		if r.MilliCPU < 0 || r.Memory < 0 {
			t.Fatalf("ParseResources(%q, %q) = %+v: negative", cpu, memory, r)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Resources
		if err := json.Unmarshal(b, &back); err != nil || back != r {
			t.Fatalf("round trip of %s = %+v, %v; want %+v", b, back, err, r)
		}
	})
}

func FuzzDemandOf(f *testing.F) {
	for _, s := range []string{
		"",
		"---\n# Source: x\n---\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {replicas: 2, template: {spec: {containers: [{name: c, resources: {limits: {cpu: 1}}}]}}}\n",
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d}\nspec: {template: {spec: {initContainers: [{name: i, restartPolicy: Always}], containers: [{name: c}]}}}\n",
		"apiVersion: batch/v1\nkind: Job\nspec: {parallelism: 3, completions: 1}\n",
		"apiVersion: v1\nkind: Pod\nspec: {overhead: {cpu: 1}, resources: {requests: {memory: 1Gi}}}\n",
		"kind: [\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, manifest string) {
		d, err := DemandOf(manifest, res(100, 128*Mi))
		if err != nil {
			return
		}
		for _, w := range d.Workloads {
			if w.Replicas < 0 || (w.PerNode && w.Replicas != 0) {
				t.Fatalf("workload %+v", w)
			}
		}
	})
}
