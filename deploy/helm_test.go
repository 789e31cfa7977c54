package deploy

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

const (
	testRelease   = "so"
	testNamespace = "smartorch"
	serviceMonAPI = "monitoring.coreos.com/v1/ServiceMonitor"
)

func chartPath(t *testing.T) string {
	return filepath.Join(repoRoot(t), "deploy", "helm", "smartorch")
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartPath(t))
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// minimalValues are the values an install needs: no more than the
// required ones (the chart has no default credentials).
func minimalValues() map[string]any {
	return map[string]any{
		"temporal": map[string]any{"address": "temporal-frontend.temporal.svc:7233"},
		"auth":     map[string]any{"secretKey": strings.Repeat("0f", 32), "adminPassword": "a-long-password"},
		"mongodb":  map[string]any{"uri": "mongodb://smartorch:pw@mongo.db.svc:27017/smartorch?authSource=smartorch"},
	}
}

// withSet returns a copy of base with helm --set style assignments applied.
func withSet(t *testing.T, base map[string]any, sets ...string) map[string]any {
	t.Helper()
	b, _ := json.Marshal(base)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	for _, s := range sets {
		if err := strvals.ParseInto(s, out); err != nil {
			t.Fatalf("--set %s: %v", s, err)
		}
	}
	return out
}

type rendered struct {
	manifest string
	notes    string
	objs     []runtime.Object
}

// render runs `helm template` (an install, dry-run and client-only) with
// the given extra API versions, as a cluster serving them would.
func render(t *testing.T, vals map[string]any, apiVersions ...string) (rendered, error) {
	t.Helper()
	install := action.NewInstall(new(action.Configuration))
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = testRelease
	install.Namespace = testNamespace
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.34.4", Major: "1", Minor: "34"}
	install.APIVersions = chartutil.VersionSet(apiVersions)
	rel, err := install.Run(loadChart(t), vals)
	if err != nil {
		return rendered{}, err
	}
	r := rendered{manifest: rel.Manifest, notes: rel.Info.Notes}
	// Strict: an unknown or duplicated field fails, as the API server would refuse it.
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	for name, doc := range releaseutil.SplitManifests(rel.Manifest) {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, doc)
		}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			t.Fatalf("%s: an object without kind, apiVersion or name:\n%s", name, doc)
		}
		if !scheme.Scheme.Recognizes(u.GroupVersionKind()) {
			r.objs = append(r.objs, &u)
			continue
		}
		obj, _, err := decoder.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", u.GetKind(), u.GetName(), err, doc)
		}
		r.objs = append(r.objs, obj)
	}
	return r, nil
}

func mustRender(t *testing.T, vals map[string]any, apiVersions ...string) rendered {
	t.Helper()
	r, err := render(t, vals, apiVersions...)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

func (r rendered) kind(kind string) []runtime.Object {
	var out []runtime.Object
	for _, o := range r.objs {
		if o.GetObjectKind().GroupVersionKind().Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r rendered) deployment(t *testing.T, component string) *appsv1.Deployment {
	t.Helper()
	for _, o := range r.kind("Deployment") {
		d := o.(*appsv1.Deployment)
		if d.Spec.Template.Labels["app.kubernetes.io/component"] == component {
			return d
		}
	}
	t.Fatalf("no %s Deployment", component)
	return nil
}

func (r rendered) secretKeys(name string) map[string]bool {
	for _, o := range r.kind("Secret") {
		if s := o.(*corev1.Secret); s.Name == name {
			keys := map[string]bool{}
			for k := range s.Data {
				keys[k] = true
			}
			for k := range s.StringData {
				keys[k] = true
			}
			return keys
		}
	}
	return nil
}

func (r rendered) configMap(name string) *corev1.ConfigMap {
	for _, o := range r.kind("ConfigMap") {
		if c := o.(*corev1.ConfigMap); c.Name == name {
			return c
		}
	}
	return nil
}

// checkRendered checks what must hold in every configuration. existing
// names Secrets the values say exist outside the chart.
func checkRendered(t *testing.T, r rendered, existing ...string) {
	t.Helper()
	allowed := []string{"ServiceAccount", "Secret", "ConfigMap", "Service", "Deployment", "PersistentVolumeClaim", "ServiceMonitor", "NetworkPolicy"}
	for _, o := range r.objs {
		if k := o.GetObjectKind().GroupVersionKind().Kind; !slices.Contains(allowed, k) {
			// In particular no Role, ClusterRole or binding: the orchestrator needs no permission here.
			t.Errorf("the chart renders a %s; it should render only %v", k, allowed)
		}
	}
	if strings.Contains(strings.ToLower(r.manifest), "cluster-admin") {
		t.Error("the manifest mentions cluster-admin")
	}
	names := configEnv(t)

	var saName string
	for _, o := range r.kind("ServiceAccount") {
		sa := o.(*corev1.ServiceAccount)
		saName = sa.Name
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s mounts its token (automountServiceAccountToken: false)", sa.Name)
		}
	}

	var images []string
	for _, component := range []string{"api", "worker"} {
		d := r.deployment(t, component)
		where := "Deployment " + d.Name
		sel, err := metaSelector(d)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: its selector does not match its pods (%v)", where, err)
		}
		pod := d.Spec.Template.Spec
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: pods mount a service account token", where)
		}
		if saName != "" && pod.ServiceAccountName != saName {
			t.Errorf("%s: service account %q, the chart's is %q", where, pod.ServiceAccountName, saName)
		}
		psc := pod.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: pod securityContext %+v: want runAsNonRoot and the RuntimeDefault seccomp profile", where, psc)
		}
		if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
			t.Fatalf("%s: want one container", where)
		}
		c := pod.Containers[0]
		images = append(images, c.Image)
		checkPinned(t, where, c.Image, false)
		if want := []string{component}; !slices.Equal(c.Args, want) || len(c.Command) != 0 {
			t.Errorf("%s: command %v args %v, want the image's entrypoint with args %v", where, c.Command, c.Args, want)
		}
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no container securityContext", where)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: the root filesystem is writable", where)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: privilege escalation allowed", where)
		case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s: capabilities %+v, want all dropped", where, sc.Capabilities)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s: privileged", where)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: resources %+v: want cpu and memory requests and a memory limit", where, c.Resources)
		}

		// Environment: only variables smartorch reads, secrets from Secrets.
		env := map[string]string{}
		for _, e := range c.Env {
			if !names[e.Name] {
				t.Errorf("%s: env %s is not read by cmd/smartorch/config.go", where, e.Name)
			}
			env[e.Name] = e.Value
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				ref := e.ValueFrom.SecretKeyRef
				keys := r.secretKeys(ref.Name)
				if keys == nil && !slices.Contains(existing, ref.Name) {
					t.Errorf("%s: %s comes from Secret %s, which is neither rendered nor an existing one", where, e.Name, ref.Name)
				}
				if keys != nil && !keys[ref.Key] {
					t.Errorf("%s: %s comes from key %s of Secret %s, which has no such key", where, e.Name, ref.Key, ref.Name)
				}
			}
		}
		for _, secret := range []string{"SMARTORCH_SECRET_KEY", "SMARTORCH_ADMIN_PASSWORD", "SMARTORCH_MONGO_URI"} {
			if v, ok := env[secret]; ok && v != "" {
				t.Errorf("%s: %s given as a plain value", where, secret)
			}
		}
		for _, want := range []string{"SMARTORCH_SECRET_KEY", "SMARTORCH_MONGO_URI"} {
			if _, ok := env[want]; !ok {
				t.Errorf("%s: no %s", where, want)
			}
		}
		var settings map[string]string
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef == nil {
				t.Errorf("%s: envFrom %+v: want ConfigMaps only (secrets by key)", where, ef)
				continue
			}
			cm := r.configMap(ef.ConfigMapRef.Name)
			if cm == nil {
				t.Fatalf("%s: envFrom ConfigMap %s is not rendered", where, ef.ConfigMapRef.Name)
			}
			settings = cm.Data
			for k := range cm.Data {
				if !names[k] {
					t.Errorf("ConfigMap %s: %s is not read by cmd/smartorch/config.go", cm.Name, k)
				}
			}
		}
		if settings["SMARTORCH_TEMPORAL_ADDRESS"] == "" {
			t.Errorf("%s: no SMARTORCH_TEMPORAL_ADDRESS", where)
		}

		// Writable paths are volumes: /tmp and the chart cache.
		volumes := map[string]corev1.Volume{}
		for _, v := range pod.Volumes {
			volumes[v.Name] = v
		}
		mounts := map[string]corev1.VolumeMount{}
		for _, m := range c.VolumeMounts {
			if _, ok := volumes[m.Name]; !ok {
				t.Errorf("%s: mounts volume %s, which the pod does not have", where, m.Name)
			}
			mounts[m.MountPath] = m
		}
		for _, p := range []string{"/tmp", settings["SMARTORCH_CACHE_DIR"]} {
			if m, ok := mounts[p]; !ok || m.ReadOnly {
				t.Errorf("%s: %q is not a writable volume (the root filesystem is read-only)", where, p)
			}
		}

		switch component {
		case "api":
			if env["SMARTORCH_ADMIN_PASSWORD"] != "" || !hasEnv(c, "SMARTORCH_ADMIN_PASSWORD") {
				t.Errorf("%s: SMARTORCH_ADMIN_PASSWORD does not come from a Secret", where)
			}
			if len(c.Ports) != 1 || c.Ports[0].Name != "http" {
				t.Fatalf("%s: ports %+v, want one named http", where, c.Ports)
			}
			_, port, err := net.SplitHostPort(settings["SMARTORCH_LISTEN"])
			if err != nil || port != fmt.Sprint(c.Ports[0].ContainerPort) {
				t.Errorf("%s: SMARTORCH_LISTEN %q does not listen on containerPort %d", where, settings["SMARTORCH_LISTEN"], c.Ports[0].ContainerPort)
			}
			for _, p := range []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/healthz"}} {
				if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
					t.Errorf("%s: %s probe %+v, want GET %s on port http", where, p.name, p.probe, p.path)
				}
			}
			checkService(t, r, d, r.deployment(t, "worker"))
		case "worker":
			if hasEnv(c, "SMARTORCH_ADMIN_PASSWORD") {
				t.Errorf("%s: gets SMARTORCH_ADMIN_PASSWORD, which the worker does not use", where)
			}
			if dir := env["SMARTORCH_METRICS_DIR"]; dir != "" {
				m, ok := mounts[dir]
				if !ok || m.ReadOnly {
					t.Errorf("%s: SMARTORCH_METRICS_DIR %s is not a writable volume", where, dir)
				}
			}
		}
	}
	if images[0] != images[1] {
		t.Errorf("the api and the worker run different images: %v", images)
	}
}

func hasEnv(c corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

func metaSelector(d *appsv1.Deployment) (labels.Selector, error) {
	if d.Spec.Selector == nil {
		return nil, fmt.Errorf("no selector")
	}
	return labels.SelectorFromSet(d.Spec.Selector.MatchLabels), nil
}

// checkService: the Service reaches the API's pods, not the worker's, on its http port.
func checkService(t *testing.T, r rendered, api, worker *appsv1.Deployment) {
	t.Helper()
	svcs := r.kind("Service")
	if len(svcs) != 1 {
		t.Fatalf("want one Service, got %d", len(svcs))
	}
	svc := svcs[0].(*corev1.Service)
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	if len(svc.Spec.Selector) == 0 || !sel.Matches(labels.Set(api.Spec.Template.Labels)) || sel.Matches(labels.Set(worker.Spec.Template.Labels)) {
		t.Errorf("Service %s selects %v: want the API's pods only", svc.Name, svc.Spec.Selector)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" || svc.Spec.Ports[0].Name != "http" {
		t.Errorf("Service %s ports %+v: want one, named http, to the container's http port", svc.Name, svc.Spec.Ports)
	}
}

func TestHelmLint(t *testing.T) {
	lint := action.NewLint()
	lint.Strict = true
	lint.Namespace = testNamespace
	lint.KubeVersion = &chartutil.KubeVersion{Version: "v1.34.4", Major: "1", Minor: "34"}
	for name, vals := range map[string]map[string]any{
		"minimal": minimalValues(),
		"everything": withSet(t, minimalValues(), "serviceMonitor.enabled=true", "networkPolicy.enabled=true",
			"fileSD.persistence.enabled=true", "prometheus.url=http://prometheus.monitoring.svc:9090",
			"image.digest=sha256:"+strings.Repeat("a", 64)),
	} {
		t.Run(name, func(t *testing.T) {
			res := lint.Run([]string{chartPath(t)}, vals)
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if len(res.Errors) > 0 || res.TotalChartsLinted != 1 {
				t.Errorf("helm lint --strict: %v", res.Errors)
			}
		})
	}
}

func TestHelmRequiresSettings(t *testing.T) {
	// No default credentials: the chart's own values do not install.
	_, err := render(t, nil)
	if err == nil || !strings.Contains(err.Error(), "is required") {
		t.Fatalf("default values rendered (err %v); want a message naming a required value", err)
	}
	for _, tc := range []struct {
		unset, want string
	}{
		{"temporal.address=", "temporal.address is required"},
		{"auth.secretKey=", "auth.secretKey is required"},
		{"auth.adminPassword=", "auth.adminPassword is required"},
		{"mongodb.uri=", "mongodb.uri is required"},
	} {
		if _, err := render(t, withSet(t, minimalValues(), tc.unset)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: err %v, want %q", tc.unset, err, tc.want)
		}
	}
	// values.schema.json refuses malformed values before rendering.
	for _, set := range []string{
		"image.tag=latest",
		"image.digest=sha256:short",
		"auth.secretKey=not-a-key",
		"auth.adminPassword=short",
		"temporal.address=no-port",
		"log.format=yaml",
		"tokenTTL=12 hours",
		"serviceMonitor.enabld=true",
		"mongodb.uri=postgres://x",
	} {
		if _, err := render(t, withSet(t, minimalValues(), set)); err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("--set %s: err %v, want a schema error", set, err)
		}
	}
}

func TestHelmRender(t *testing.T) {
	t.Run("minimal", func(t *testing.T) {
		r := mustRender(t, minimalValues())
		checkRendered(t, r)
		for _, kind := range []string{"ServiceMonitor", "NetworkPolicy", "PersistentVolumeClaim"} {
			if len(r.kind(kind)) != 0 {
				t.Errorf("a %s is rendered by default", kind)
			}
		}
		if len(r.kind("ServiceAccount")) != 1 || len(r.kind("Secret")) != 1 || len(r.kind("ConfigMap")) != 1 {
			t.Errorf("want one ServiceAccount, Secret and ConfigMap")
		}
		w := r.deployment(t, "worker")
		var fileSD *corev1.Volume
		for i, v := range w.Spec.Template.Spec.Volumes {
			if v.Name == "file-sd" {
				fileSD = &w.Spec.Template.Spec.Volumes[i]
			}
		}
		if fileSD == nil || fileSD.EmptyDir == nil {
			t.Errorf("the worker's file_sd directory is not an emptyDir by default: %+v", fileSD)
		}
		if !strings.Contains(r.notes, "no Prometheus can read it") {
			t.Errorf("NOTES.txt does not say the emptyDir file_sd is unreadable for Prometheus:\n%s", r.notes)
		}
		if cm := r.configMap(testRelease + "-smartorch"); cm == nil || cm.Data["SMARTORCH_PROMETHEUS_URL"] != "" || len(cm.Data) == 0 {
			t.Errorf("ConfigMap %v: want settings, and no Prometheus URL when prometheus.url is empty", cm)
		}
		api := r.deployment(t, "api")
		if img := api.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/smartorch/smartorch:"+loadChart(t).Metadata.AppVersion {
			t.Errorf("image %s, want the chart's appVersion", img)
		}
	})

	t.Run("service monitor", func(t *testing.T) {
		vals := withSet(t, minimalValues(), "serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom")
		// Without the Prometheus Operator's API, none (and NOTES.txt says so).
		r := mustRender(t, vals)
		checkRendered(t, r)
		if len(r.kind("ServiceMonitor")) != 0 || !strings.Contains(r.notes, "no ServiceMonitor was created") {
			t.Errorf("ServiceMonitor rendered without monitoring.coreos.com/v1, or NOTES.txt silent")
		}
		// Disabled, even with the API: none.
		if r := mustRender(t, minimalValues(), serviceMonAPI); len(r.kind("ServiceMonitor")) != 0 {
			t.Error("ServiceMonitor rendered while disabled")
		}
		r = mustRender(t, vals, serviceMonAPI)
		checkRendered(t, r)
		sms := r.kind("ServiceMonitor")
		if len(sms) != 1 {
			t.Fatalf("want a ServiceMonitor, got %d", len(sms))
		}
		sm := sms[0].(*unstructured.Unstructured)
		if sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetLabels()["release"] != "prom" {
			t.Errorf("ServiceMonitor %s %v", sm.GetAPIVersion(), sm.GetLabels())
		}
		svc := r.kind("Service")[0].(*corev1.Service)
		match, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
		if len(match) == 0 || !labels.SelectorFromSet(match).Matches(labels.Set(svc.Labels)) {
			t.Errorf("ServiceMonitor selects %v, not Service %s (%v)", match, svc.Name, svc.Labels)
		}
		endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		if len(endpoints) != 1 || endpoints[0].(map[string]any)["port"] != "http" || endpoints[0].(map[string]any)["path"] != "/metrics" {
			t.Errorf("ServiceMonitor endpoints %v, want port http path /metrics", endpoints)
		}
		ns, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
		if !slices.Equal(ns, []string{testNamespace}) {
			t.Errorf("ServiceMonitor namespaces %v", ns)
		}
	})

	t.Run("existing secrets", func(t *testing.T) {
		vals := withSet(t, minimalValues(), "auth.secretKey=", "auth.adminPassword=", "mongodb.uri=",
			"auth.existingSecret=smartorch-auth", "mongodb.existingSecret=smartorch-mongo", "mongodb.uriKey=uri")
		r := mustRender(t, vals)
		checkRendered(t, r, "smartorch-auth", "smartorch-mongo")
		if len(r.kind("Secret")) != 0 {
			t.Error("the chart renders a Secret although both are existing ones")
		}
		c := r.deployment(t, "api").Spec.Template.Spec.Containers[0]
		for _, e := range c.Env {
			if e.Name == "SMARTORCH_MONGO_URI" && (e.ValueFrom.SecretKeyRef.Name != "smartorch-mongo" || e.ValueFrom.SecretKeyRef.Key != "uri") {
				t.Errorf("SMARTORCH_MONGO_URI from %+v", e.ValueFrom.SecretKeyRef)
			}
			if e.Name == "SMARTORCH_ADMIN_PASSWORD" && (e.ValueFrom.SecretKeyRef.Name != "smartorch-auth" || e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional) {
				t.Errorf("SMARTORCH_ADMIN_PASSWORD from %+v, want optional key of smartorch-auth", e.ValueFrom.SecretKeyRef)
			}
		}
		// One existing, one from values: the chart's Secret holds only the latter.
		r = mustRender(t, withSet(t, minimalValues(), "auth.existingSecret=smartorch-auth"))
		checkRendered(t, r, "smartorch-auth")
		if keys := r.secretKeys(testRelease + "-smartorch"); len(keys) != 1 || !keys["mongodb-uri"] {
			t.Errorf("the chart's Secret has keys %v, want only mongodb-uri", keys)
		}
	})

	t.Run("persistent file_sd and pinned digest", func(t *testing.T) {
		digest := "sha256:" + strings.Repeat("b", 64)
		r := mustRender(t, withSet(t, minimalValues(), "fileSD.persistence.enabled=true", "fileSD.persistence.storageClass=standard",
			"image.tag=1.2.3", "image.digest="+digest, "networkPolicy.enabled=true", "api.replicas=2",
			"prometheus.url=http://prometheus.monitoring.svc:9090", "temporal.uiURL=https://temporal.example.com"))
		checkRendered(t, r)
		cm := r.configMap(testRelease + "-smartorch")
		if cm.Data["SMARTORCH_PROMETHEUS_URL"] != "http://prometheus.monitoring.svc:9090" || cm.Data["SMARTORCH_TEMPORAL_UI_URL"] != "https://temporal.example.com" {
			t.Errorf("ConfigMap data %v", cm.Data)
		}
		pvcs := r.kind("PersistentVolumeClaim")
		if len(pvcs) != 1 {
			t.Fatalf("want a PVC, got %d", len(pvcs))
		}
		pvc := pvcs[0].(*corev1.PersistentVolumeClaim)
		w := r.deployment(t, "worker")
		claimed := false
		for _, v := range w.Spec.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
				claimed = true
			}
		}
		if !claimed {
			t.Errorf("the worker does not mount PVC %s", pvc.Name)
		}
		if w.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("worker strategy %q with a ReadWriteOnce claim, want Recreate", w.Spec.Strategy.Type)
		}
		if img := w.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/smartorch/smartorch:1.2.3@"+digest {
			t.Errorf("image %s", img)
		}
		if n := len(r.kind("NetworkPolicy")); n != 2 {
			t.Errorf("want 2 NetworkPolicies, got %d", n)
		}
		// An existing claim is used, not created.
		r = mustRender(t, withSet(t, minimalValues(), "fileSD.persistence.enabled=true", "fileSD.persistence.existingClaim=prometheus-file-sd",
			"fileSD.persistence.accessModes={ReadWriteMany}"))
		checkRendered(t, r)
		if len(r.kind("PersistentVolumeClaim")) != 0 {
			t.Error("a PVC is rendered although fileSD.persistence.existingClaim is set")
		}
		if r.deployment(t, "worker").Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
			t.Error("Recreate with a ReadWriteMany claim")
		}
	})

	t.Run("no file_sd", func(t *testing.T) {
		r := mustRender(t, withSet(t, minimalValues(), "fileSD.enabled=false", "serviceAccount.create=false", "serviceAccount.name=existing-sa"))
		checkRendered(t, r)
		if hasEnv(r.deployment(t, "worker").Spec.Template.Spec.Containers[0], "SMARTORCH_METRICS_DIR") {
			t.Error("SMARTORCH_METRICS_DIR set with fileSD disabled")
		}
		if len(r.kind("ServiceAccount")) != 0 || r.deployment(t, "api").Spec.Template.Spec.ServiceAccountName != "existing-sa" {
			t.Error("serviceAccount.create=false still creates one, or the pods do not use serviceAccount.name")
		}
	})
}
