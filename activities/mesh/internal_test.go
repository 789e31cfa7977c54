package mesh

import (
	"encoding/json"
	"net"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestHostAliasChanges(t *testing.T) {
	const h = "edge-1.mesh.cilium.io"
	other := corev1.HostAlias{IP: "10.0.0.9", Hostnames: []string{"cloud.mesh.cilium.io"}}
	for _, tc := range []struct {
		name    string
		aliases []corev1.HostAlias
		ip      string
		want    string
	}{
		{"add new entry", []corev1.HostAlias{other}, "10.0.0.1", `[{"hostnames":["edge-1.mesh.cilium.io"],"ip":"10.0.0.1"}]`},
		{"already there", []corev1.HostAlias{other, {IP: "10.0.0.1", Hostnames: []string{h}}}, "10.0.0.1", `null`},
		{"join shared IP", []corev1.HostAlias{other}, "10.0.0.9", `[{"hostnames":["cloud.mesh.cilium.io","edge-1.mesh.cilium.io"],"ip":"10.0.0.9"}]`},
		{"move from shared IP", []corev1.HostAlias{{IP: "10.0.0.9", Hostnames: []string{"cloud.mesh.cilium.io", h}}}, "10.0.0.1",
			`[{"hostnames":["cloud.mesh.cilium.io"],"ip":"10.0.0.9"},{"hostnames":["edge-1.mesh.cilium.io"],"ip":"10.0.0.1"}]`},
		{"move from own IP", []corev1.HostAlias{{IP: "10.0.0.2", Hostnames: []string{h}}}, "10.0.0.1",
			`[{"$patch":"delete","ip":"10.0.0.2"},{"hostnames":["edge-1.mesh.cilium.io"],"ip":"10.0.0.1"}]`},
		{"remove own entry", []corev1.HostAlias{other, {IP: "10.0.0.2", Hostnames: []string{h}}}, "", `[{"$patch":"delete","ip":"10.0.0.2"}]`},
		{"remove from shared", []corev1.HostAlias{{IP: "10.0.0.9", Hostnames: []string{h, "cloud.mesh.cilium.io"}}}, "", `[{"hostnames":["cloud.mesh.cilium.io"],"ip":"10.0.0.9"}]`},
		{"remove absent", []corev1.HostAlias{other}, "", `null`},
	} {
		got, _ := json.Marshal(hostAliasChanges(tc.aliases, h, tc.ip))
		if string(got) != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestAPIServerIdentityPatch(t *testing.T) {
	d := &appsv1.Deployment{}
	d.ResourceVersion = "7"
	d.Spec.Template.Spec.Containers = []corev1.Container{
		{Name: "etcd"},
		{Name: "apiserver", Args: []string{"--cluster-name=$(CLUSTER_NAME)", "--cluster-id=$(CLUSTER_ID)", "--x=1"}},
		{Name: "kvstoremesh", Args: []string{"--cluster-name=old", "--cluster-id=1"}},
	}
	patch, changed := apiServerIdentityPatch(d, Identity{Name: "edge", ID: 4}, markIdentity)
	want := `{"metadata":{"resourceVersion":"7"},"spec":{"template":{"metadata":{"annotations":{"smartorch.io/cluster-identity":"edge/4"}},"spec":{"containers":[{"args":["--cluster-name=edge","--cluster-id=4"],"name":"kvstoremesh"}]}}}}`
	if !changed || string(patch) != want {
		t.Errorf("got %t %s\nwant %s", changed, patch, want)
	}
	// Args reading cilium-config only: just the annotation rolls it out.
	d.Spec.Template.Spec.Containers = d.Spec.Template.Spec.Containers[:2]
	patch, _ = apiServerIdentityPatch(d, Identity{Name: "edge", ID: 4}, markIdentity)
	want = `{"metadata":{"resourceVersion":"7"},"spec":{"template":{"metadata":{"annotations":{"smartorch.io/cluster-identity":"edge/4"}}}}}`
	if string(patch) != want {
		t.Errorf("got %s\nwant %s", patch, want)
	}
	d.Spec.Template.Annotations = map[string]string{IdentityAnnotation: "edge/4"}
	if _, changed := apiServerIdentityPatch(d, Identity{Name: "edge", ID: 4}, markIdentity); changed {
		t.Error("no change expected")
	}
	patch, _ = apiServerIdentityPatch(d, Identity{}, unmarkIdentity)
	want = `{"metadata":{"resourceVersion":"7"},"spec":{"template":{"metadata":{"annotations":{"smartorch.io/cluster-identity":null}}}}}`
	if string(patch) != want {
		t.Errorf("restore: got %s\nwant %s", patch, want)
	}
}

func TestPickIP(t *testing.T) {
	ips := []net.IP{net.ParseIP("::1"), net.ParseIP("10.0.0.9"), net.ParseIP("10.0.0.10"), net.ParseIP("9.9.9.9")}
	if got := pickIP(ips).String(); got != "9.9.9.9" {
		t.Errorf("pickIP = %s, want 9.9.9.9", got)
	}
	if got := pickIP([]net.IP{net.ParseIP("fe80::2"), net.ParseIP("::1")}).String(); got != "::1" {
		t.Errorf("pickIP IPv6 = %s, want ::1", got)
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{"cloud": true, "edge-1": true, "Edge": false, "a_b": false, "": false, "-a": false,
		"abcdefghijabcdefghijabcdefghij12": true, "abcdefghijabcdefghijabcdefghij123": false} {
		if err := ValidateName(name); (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
}
