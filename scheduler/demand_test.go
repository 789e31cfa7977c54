package scheduler

import (
	"reflect"
	"strings"
	"testing"
)

var testDefaults = res(100, 128*Mi)

func TestDemandOf(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     []Workload
	}{
		{
			name: "deployment sums its containers",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: app
        resources: {requests: {cpu: 250m, memory: 256Mi}}
      - name: proxy
        resources: {requests: {cpu: "0.25", memory: 64Mi}}
`,
			want: []Workload{{Kind: "Deployment", Name: "web", Replicas: 3, Pod: res(500, 320*Mi)}},
		},
		{
			name: "replicas default to 1 and may be 0",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: a}
spec:
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: b}
spec:
  replicas: 0
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: c}
spec:
  replicas: 2
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]}}
`,
			want: []Workload{
				{Kind: "Deployment", Name: "a", Replicas: 1, Pod: res(1000, Gi)},
				{Kind: "StatefulSet", Name: "b", Replicas: 0, Pod: res(1000, Gi)},
				{Kind: "ReplicaSet", Name: "c", Replicas: 2, Pod: res(1000, Gi)},
			},
		},
		{
			name: "daemonset is per node",
			manifest: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 50m, memory: 32Mi}}}]}}
`,
			want: []Workload{{Kind: "DaemonSet", Name: "agent", PerNode: true, Pod: res(50, 32*Mi)}},
		},
		{
			name: "jobs run parallelism pods, at most completions; cronjobs and other kinds are skipped",
			manifest: `
apiVersion: batch/v1
kind: Job
metadata: {name: one}
spec:
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: four}
spec:
  parallelism: 4
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: two}
spec:
  parallelism: 5
  completions: 2
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 0 * * *"
  jobTemplate: {spec: {template: {spec: {containers: [{name: c, resources: {requests: {cpu: 8, memory: 8Gi}}}]}}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, annotations: {helm.sh/hook: pre-install}}
spec:
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 8, memory: 8Gi}}}]}}
---
apiVersion: example.com/v1
kind: Deployment
metadata: {name: not-apps}
spec: {replicas: 9}
`,
			want: []Workload{
				{Kind: "Job", Name: "one", Replicas: 1, Pod: res(1000, Gi)},
				{Kind: "Job", Name: "four", Replicas: 4, Pod: res(1000, Gi)},
				{Kind: "Job", Name: "two", Replicas: 2, Pod: res(1000, Gi)},
			},
		},
		{
			name: "bare pod with overhead",
			manifest: `
apiVersion: v1
kind: Pod
metadata: {name: solo}
spec:
  overhead: {cpu: 10m, memory: 16Mi}
  containers: [{name: c, resources: {requests: {cpu: 90m, memory: 48Mi}}}]
`,
			want: []Workload{{Kind: "Pod", Name: "solo", Replicas: 1, Pod: res(100, 64*Mi)}},
		},
		{
			name: "init containers: the larger of their max and the containers' sum, per resource",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: migrate}
spec:
  template:
    spec:
      initContainers:
      - {name: schema, resources: {requests: {cpu: 1, memory: 128Mi}}}
      - {name: warm, resources: {requests: {cpu: 200m, memory: 64Mi}}}
      containers:
      - {name: a, resources: {requests: {cpu: 200m, memory: 128Mi}}}
      - {name: b, resources: {requests: {cpu: 100m, memory: 128Mi}}}
`,
			want: []Workload{{Kind: "Deployment", Name: "migrate", Replicas: 1, Pod: res(1000, 256*Mi)}},
		},
		{
			name: "restartable init containers (sidecars) add to the containers and to later init containers",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: meshed}
spec:
  template:
    spec:
      initContainers:
      - {name: proxy, restartPolicy: Always, resources: {requests: {cpu: 100m, memory: 64Mi}}}
      - {name: setup, resources: {requests: {cpu: 500m, memory: 32Mi}}}
      containers:
      - {name: app, resources: {requests: {cpu: 200m, memory: 128Mi}}}
`,
			want: []Workload{{Kind: "Deployment", Name: "meshed", Replicas: 1, Pod: res(600, 192*Mi)}},
		},
		{
			name: "a limit without a request is the request",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: limited}
spec:
  template: {spec: {containers: [{name: c, resources: {limits: {cpu: "2", memory: 2Gi}}}]}}
`,
			want: []Workload{{Kind: "Deployment", Name: "limited", Replicas: 1, Pod: res(2000, 2*Gi)}},
		},
		{
			name: "no request and no limit gets the default",
			manifest: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: bare}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - {name: nothing}
      - {name: cpu-only, resources: {requests: {cpu: 300m}}}
`,
			want: []Workload{{Kind: "Deployment", Name: "bare", Replicas: 2, Pod: res(400, 256*Mi), Defaulted: true}},
		},
		{
			name: "pod-level requests need no container defaults",
			manifest: `
apiVersion: v1
kind: Pod
metadata: {name: pod-level}
spec:
  resources: {requests: {cpu: 1, memory: 1Gi}}
  containers: [{name: c}]
`,
			want: []Workload{{Kind: "Pod", Name: "pod-level", Replicas: 1, Pod: res(1000, Gi)}},
		},
		{
			name: "helm manifest: source comments, empty documents, leading separator",
			manifest: `---
# Source: app/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
# Source: app/templates/empty.yaml
---

---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 2
  template: {spec: {containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]}}
--- # trailing comment
`,
			want: []Workload{{Kind: "Deployment", Name: "app", Replicas: 2, Pod: res(1000, Gi)}},
		},
		{name: "empty manifest", manifest: "", want: []Workload{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DemandOf(tt.manifest, testDefaults)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Workloads, tt.want) {
				t.Errorf("DemandOf =\n%+v\nwant\n%+v", got.Workloads, tt.want)
			}
		})
	}
}

func TestDemandOfErrors(t *testing.T) {
	tests := []struct{ name, manifest, err string }{
		{"not yaml", "kind: [Deployment\n", "manifest document 1"},
		{"wrong field type", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: three}\n", "Deployment web"},
		{"negative replicas", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: -1}\n", "negative replicas"},
		{"bad quantity", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {requests: {cpu: lots}}}]}\n", "Pod p"},
		{"second document", "kind: ConfigMap\n---\n: :\n  - ]\n", "manifest document 2"},
	}
	for _, tt := range tests {
		_, err := DemandOf(tt.manifest, testDefaults)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error = %v, want one containing %q", tt.name, err, tt.err)
		}
	}
}

func TestDemandTotals(t *testing.T) {
	d := Demand{Workloads: []Workload{
		{Kind: "Deployment", Name: "a", Replicas: 3, Pod: res(500, Gi)},
		{Kind: "StatefulSet", Name: "b", Replicas: 0, Pod: res(4000, 8*Gi)},
		{Kind: "DaemonSet", Name: "c", PerNode: true, Pod: res(100, Mi)},
		{Kind: "Job", Name: "d", Replicas: 2, Pod: res(250, 512*Mi)},
	}}
	if got := d.Pods(); got != 5 {
		t.Errorf("Pods = %d, want 5", got)
	}
	if got := d.Total(); got != res(2000, 4*Gi) {
		t.Errorf("Total = %v, want cpu 2, memory 4Gi", got)
	}
}
