package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/smartorch/smartorch/activities/mirror"
	"github.com/smartorch/smartorch/testenv"
)

type globalServiceView struct {
	Name, Namespace string
	Ports           []struct {
		Port     int32
		Protocol string
	}
	Mirrors []struct{ Cluster, State, Reason string }
}

type globalView struct {
	enablerView
	GlobalServices []globalServiceView
}

func (o *orchestrator) globalServices(name string) globalView {
	o.t.Helper()
	var e globalView
	if code := o.call("GET", "/api/enabler/"+name, nil, &e); code != 200 {
		o.t.Fatalf("enabler %s: %d", name, code)
	}
	return e
}

// mirrors says where each of the enabler's global services is mirrored and
// in which state: "default/api-global": {"edge-1": "Mirrored"}.
func (e globalView) mirrors() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, s := range e.GlobalServices {
		states := map[string]string{}
		for _, m := range s.Mirrors {
			states[m.Cluster] = m.State
		}
		out[s.Namespace+"/"+s.Name] = states
	}
	return out
}

func getService(t *testing.T, c *testenv.Cluster, name string) *corev1.Service {
	t.Helper()
	s, err := c.Client.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	must(t, err)
	return s
}

// checkMirror fails unless c has a mirror of service owned by the enabler,
// with port and the annotations Cilium needs.
func checkMirror(t *testing.T, c *testenv.Cluster, service, enablerID string, port int32) {
	t.Helper()
	s := getService(t, c, service)
	if s == nil {
		t.Errorf("%s: no mirror of %s", c.Name, service)
		return
	}
	want := map[string]string{
		"service.cilium.io/global": "true", "service.cilium.io/shared": "false", "service.cilium.io/affinity": "remote",
		"io.cilium/global-service": "true", "io.cilium/shared-service": "false", "io.cilium/service-affinity": "remote",
	}
	for k, v := range want {
		if s.Annotations[k] != v {
			t.Errorf("%s: mirror %s annotation %s = %q, want %q", c.Name, service, k, s.Annotations[k], v)
		}
	}
	if s.Labels[mirror.OwnerLabel] != enablerID {
		t.Errorf("%s: mirror %s owner label = %q, want %s", c.Name, service, s.Labels[mirror.OwnerLabel], enablerID)
	}
	if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != port || s.Spec.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("%s: mirror %s ports = %+v, want %d/TCP", c.Name, service, s.Spec.Ports, port)
	}
	if len(s.Spec.Selector) != 0 {
		t.Errorf("%s: mirror %s has a selector %v: it must have no local backends", c.Name, service, s.Spec.Selector)
	}
}

func TestGlobalServices(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Temporal: true, ChartRepo: true, Clusters: meshClusters})
	o := startOrchestrator(t, env)
	ctx := context.Background()
	cloud, edge1, edge2 := env.Clusters[0], env.Clusters[1], env.Clusters[2]
	join := func(c *testenv.Cluster) {
		t.Helper()
		if code, a := o.join(c, nil, "3m"); code != 202 || a.Cluster.Status != "Enabled" {
			t.Fatalf("join %s: %d %+v", c.Name, code, a)
		}
	}
	join(cloud)
	join(edge1)
	o.addTestRepo(env.ChartRepo.URL)
	// Someone else's Service in edge-1, named like the global service of
	// enabler "other".
	unrelated, err := edge1.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "other-global"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "mine"},
			Ports: []corev1.ServicePort{{Port: 9999, TargetPort: intstr.FromInt32(9999)}}},
	}, metav1.CreateOptions{})
	must(t, err)

	for _, bad := range []any{[]string{""}, "edge-1", []int{1}, map[string]any{}} {
		body := map[string]any{"enablerName": "bad", "helmChart": "test/global", "vim": "cloud", "globalServiceTargets": bad}
		var e struct{ Message string }
		if code := o.call("POST", "/api/enabler", body, &e); code != 400 || !strings.Contains(e.Message, "globalServiceTargets") {
			t.Errorf("globalServiceTargets %v: %d %q, want 400 naming the field", bad, code, e.Message)
		}
	}

	var apiID string
	t.Run("a cloud enabler's global service is mirrored into every edge", func(t *testing.T) {
		e := o.instantiate(map[string]any{"enablerName": "api", "helmChart": "test/global", "vim": "cloud"})
		if e.Status != "Enabled" {
			t.Fatalf("instantiate api: %+v", e)
		}
		apiID = e.ID
		checkMirror(t, edge1, "api-global", apiID, 80)
		if src := getService(t, cloud, "api-global"); src == nil || len(src.Spec.Selector) == 0 || src.Labels[mirror.OwnerLabel] != "" {
			t.Errorf("the source Service on cloud was changed: %+v", src)
		}
		got := o.globalServices("api")
		if m := got.mirrors(); len(m) != 1 || m["default/api-global"]["edge-1"] != "Mirrored" || len(m["default/api-global"]) != 1 {
			t.Errorf("GET api global services = %+v, want default/api-global mirrored to edge-1", got.GlobalServices)
		}
		if len(got.GlobalServices) == 1 && (len(got.GlobalServices[0].Ports) != 1 || got.GlobalServices[0].Ports[0].Port != 80) {
			t.Errorf("ports = %+v, want 80", got.GlobalServices[0].Ports)
		}
	})

	t.Run("someone else's Service of the same name is left alone and the conflict reported", func(t *testing.T) {
		e := o.instantiate(map[string]any{"enablerName": "other", "helmChart": "test/global", "vim": "cloud"})
		if e.Status != "Enabled" {
			t.Fatalf("instantiate other: %+v", e)
		}
		got := o.globalServices("other")
		if got.mirrors()["default/other-global"]["edge-1"] != "Conflict" {
			t.Errorf("GET other global services = %+v, want a conflict on edge-1", got.GlobalServices)
		}
		if !strings.Contains(got.StatusReason, "edge-1") || got.Status != "Enabled" {
			t.Errorf("other: status %s %q, want Enabled with the conflict on edge-1 as reason", got.Status, got.StatusReason)
		}
		after := getService(t, edge1, "other-global")
		if after == nil || after.ResourceVersion != unrelated.ResourceVersion {
			t.Errorf("the unrelated Service on edge-1 was changed: %+v", after)
		}
	})

	t.Run("a newly joined edge receives the mirrors", func(t *testing.T) {
		join(edge2)
		checkMirror(t, edge2, "api-global", apiID, 80)
		checkMirror(t, edge2, "other-global", o.enabler("other").ID, 80)
		if m := o.globalServices("api").mirrors()["default/api-global"]; m["edge-1"] != "Mirrored" || m["edge-2"] != "Mirrored" {
			t.Errorf("api's mirrors after edge-2 joined: %v", m)
		}
		if m := o.globalServices("other").mirrors()["default/other-global"]; m["edge-1"] != "Conflict" || m["edge-2"] != "Mirrored" {
			t.Errorf("other's mirrors after edge-2 joined: %v", m)
		}
	})

	t.Run("an upgrade that changes the port updates every mirror", func(t *testing.T) {
		body := map[string]any{"additionalParams": map[string]any{"service": map[string]any{"port": 8080}}, "reuseValues": true}
		if code, e := o.op("POST", "/api/enabler/api/upgrade?wait=3m", body); code != 202 || e.Status != "Enabled" {
			t.Fatalf("upgrade api: %d %+v", code, e)
		}
		checkMirror(t, edge1, "api-global", apiID, 8080)
		checkMirror(t, edge2, "api-global", apiID, 8080)
		if got := o.globalServices("api"); len(got.GlobalServices) != 1 || got.GlobalServices[0].Ports[0].Port != 8080 {
			t.Errorf("GET api global services after the upgrade = %+v, want port 8080", got.GlobalServices)
		}
	})

	t.Run("explicit targets: an edge service mirrored into the cloud; a target not connected is reported", func(t *testing.T) {
		e := o.instantiate(map[string]any{"enablerName": "sensor", "helmChart": "test/global", "vim": "edge-1", "globalServiceTargets": []string{"cloud", "edge-2"}})
		if e.Status != "Enabled" {
			t.Fatalf("instantiate sensor: %+v", e)
		}
		checkMirror(t, cloud, "sensor-global", e.ID, 80)
		if s := getService(t, edge2, "sensor-global"); s != nil {
			t.Errorf("sensor-global mirrored into edge-2, which is not mesh-connected to edge-1")
		}
		m := o.globalServices("sensor").mirrors()["default/sensor-global"]
		if m["cloud"] != "Mirrored" || m["edge-2"] != "NotConnected" {
			t.Errorf("sensor's mirrors = %v, want cloud Mirrored and edge-2 NotConnected", m)
		}
	})

	t.Run("terminate removes the mirrors", func(t *testing.T) {
		if code, e := o.op("POST", "/api/enabler/api/terminate?wait=2m", nil); code != 202 || e.Status != "Terminated" {
			t.Fatalf("terminate api: %d %+v", code, e)
		}
		for _, c := range []*testenv.Cluster{edge1, edge2} {
			if s := getService(t, c, "api-global"); s != nil {
				t.Errorf("%s keeps the mirror of api-global after terminate", c.Name)
			}
		}
		if m := o.globalServices("api").mirrors(); len(m["default/api-global"]) != 0 {
			t.Errorf("GET api after terminate lists mirrors: %v", m)
		}
		if getService(t, edge1, "other-global") == nil {
			t.Error("the unrelated Service on edge-1 is gone")
		}
	})

	t.Run("removing an edge removes the mirrors in it", func(t *testing.T) {
		if code := o.call("DELETE", "/api/k8sclusters/edge-2?wait=3m", nil, nil); code != 202 {
			t.Fatalf("remove edge-2: %d", code)
		}
		if s := getService(t, edge2, "other-global"); s != nil {
			t.Error("edge-2 keeps the mirror of other-global after its removal")
		}
		if m := o.globalServices("other").mirrors()["default/other-global"]; m["edge-2"] != "" {
			t.Errorf("other's mirrors after edge-2's removal: %v", m)
		}
	})

	t.Run("delete removes the mirrors and never someone else's Service", func(t *testing.T) {
		if code, _ := o.op("DELETE", "/api/enabler/sensor?wait=2m", nil); code != 202 {
			t.Fatalf("delete sensor: %d", code)
		}
		if s := getService(t, cloud, "sensor-global"); s != nil {
			t.Error("cloud keeps the mirror of sensor-global after delete")
		}
		if code, _ := o.op("DELETE", "/api/enabler/other?wait=2m", nil); code != 202 {
			t.Fatalf("delete other: %d", code)
		}
		if after := getService(t, edge1, "other-global"); after == nil || after.ResourceVersion != unrelated.ResourceVersion {
			t.Errorf("the unrelated Service on edge-1 was changed or deleted: %+v", after)
		}
	})
}
