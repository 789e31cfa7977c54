package testenv

import (
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Names of the test charts in the chart repository.
const (
	// ChartWeb is a Deployment (replicaCount replicas, each requesting 100m
	// CPU and 128Mi) and a Service; versions 0.1.0 and 0.2.0 exist.
	ChartWeb = "web"
	// ChartStateful is a StatefulSet with a 1Gi volumeClaimTemplate (the
	// default StorageClass) and its headless Service.
	ChartStateful = "stateful"
	// ChartGlobal is a Deployment and a Service annotated
	// service.cilium.io/global: "true".
	ChartGlobal = "global"
	// ChartHuge is a Deployment whose pod requests 64 CPUs and 256Gi, more
	// than a small node has.
	ChartHuge = "huge"
)

// testChart is one chart version: its values.yaml and templates.
type testChart struct {
	name, version string
	values        string
	templates     map[string]string
}

var testCharts = []testChart{
	{ChartWeb, "0.1.0", webValues, map[string]string{"deployment.yaml": deploymentTemplate, "service.yaml": serviceTemplate}},
	{ChartWeb, "0.2.0", webValues, map[string]string{"deployment.yaml": deploymentTemplate, "service.yaml": serviceTemplate}},
	{ChartStateful, "0.1.0", statefulValues, map[string]string{"statefulset.yaml": statefulSetTemplate, "service.yaml": headlessServiceTemplate}},
	{ChartGlobal, "0.1.0", globalValues, map[string]string{"deployment.yaml": deploymentTemplate, "service.yaml": serviceTemplate}},
	{ChartHuge, "0.1.0", hugeValues, map[string]string{"deployment.yaml": deploymentTemplate}},
}

// saveChart writes the chart as <name>-<version>.tgz into dir.
func saveChart(c testChart, dir string) error {
	ch := &chart.Chart{
		Metadata: &chart.Metadata{
			APIVersion:  chart.APIVersionV2,
			Name:        c.name,
			Version:     c.version,
			AppVersion:  c.version,
			Description: "Smart Orchestrator test chart " + c.name,
			Type:        "application",
		},
		Raw: []*chart.File{{Name: chartutil.ValuesfileName, Data: []byte(c.values)}},
	}
	for name, data := range c.templates {
		ch.Templates = append(ch.Templates, &chart.File{Name: "templates/" + name, Data: []byte(data)})
	}
	_, err := chartutil.Save(ch, dir)
	return err
}

const webValues = `replicaCount: 1
image: nginx:1.27
resources:
  requests:
    cpu: 100m
    memory: 128Mi
service:
  port: 80
  annotations: {}
`

const globalValues = `replicaCount: 1
image: nginx:1.27
resources:
  requests:
    cpu: 100m
    memory: 128Mi
service:
  port: 80
  annotations:
    service.cilium.io/global: "true"
`

const hugeValues = `replicaCount: 1
image: nginx:1.27
resources:
  requests:
    cpu: "64"
    memory: 256Gi
`

const statefulValues = `replicaCount: 1
image: nginx:1.27
resources:
  requests:
    cpu: 100m
    memory: 128Mi
storage: 1Gi
`

// Labels follow the Helm conventions; app.kubernetes.io/instance on PVCs is
// how the orchestrator finds an enabler's volumes. The pod template carries
// the chart version, so an upgrade from web 0.1.0 to 0.2.0 rolls the pods.

const deploymentTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
    helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}
        app.kubernetes.io/instance: {{ .Release.Name }}
      annotations:
        app.kubernetes.io/version: {{ .Chart.Version | quote }}
    spec:
      containers:
        - name: app
          image: {{ .Values.image }}
          ports:
            - containerPort: 80
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
`

const serviceTemplate = `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
  {{- with .Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  selector:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: 80
`

const headlessServiceTemplate = `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
  ports:
    - port: 80
`

const statefulSetTemplate = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  serviceName: {{ .Release.Name }}-{{ .Chart.Name }}
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
      app.kubernetes.io/instance: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}
        app.kubernetes.io/instance: {{ .Release.Name }}
    spec:
      containers:
        - name: app
          image: {{ .Values.image }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: /data
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          app.kubernetes.io/name: {{ .Chart.Name }}
          app.kubernetes.io/instance: {{ .Release.Name }}
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: {{ .Values.storage }}
`
