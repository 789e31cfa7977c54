package mirror

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestFind(t *testing.T) {
	manifest := `---
# Source: app/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: api
  annotations:
    service.cilium.io/global: "true"
spec:
  ports:
    - {name: http, port: 80}
---
apiVersion: v1
kind: Service
metadata:
  name: legacy
  namespace: other
  annotations:
    io.cilium/global-service: "true"
spec:
  ports:
    - {port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata:
  name: local
  annotations:
    service.cilium.io/global: "false"
spec:
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    service.cilium.io/global: "true"
---
apiVersion: assist.eu/v1
kind: MultiClusterService
metadata:
  name: mcs
spec:
  ports: [{port: 8080}]
`
	got, err := Find(manifest, "ns")
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{
		{Name: "api", Namespace: "ns", Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		{Name: "legacy", Namespace: "other", Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}},
		{Name: "mcs", Namespace: "ns", Ports: []corev1.ServicePort{{Port: 8080}}},
	}
	if len(got) != len(want) {
		t.Fatalf("Find = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Namespace != w.Namespace || len(g.Ports) != 1 || g.Ports[0] != w.Ports[0] {
			t.Errorf("service %d = %+v, want %+v", i, g, w)
		}
	}
	if _, err := Find("kind: [unclosed", "ns"); err == nil {
		t.Error("a manifest that is not YAML gave no error")
	}
}
