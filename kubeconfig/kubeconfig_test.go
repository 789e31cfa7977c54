package kubeconfig

import (
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const good = `apiVersion: v1
kind: Config
current-context: edge-1
clusters:
- name: edge-1
  cluster: {server: "https://10.0.0.5:6443", certificate-authority-data: "Y2E="}
- name: other
  cluster: {server: "https://10.0.0.9:6443"}
contexts:
- name: edge-1
  context: {cluster: edge-1, user: edge-1, namespace: default}
users:
- name: edge-1
  user: {token: "abc"}
`

func TestParse(t *testing.T) {
	asString, _ := json.Marshal(good)
	for name, raw := range map[string]json.RawMessage{"yaml string": asString, "json object": yamlToJSON(t, good)} {
		out, err := Parse(raw, "edge-1")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(string(out), "other") {
			t.Errorf("%s: unrelated cluster kept:\n%s", name, out)
		}
		if host, err := Host(out); err != nil || host != "10.0.0.5" {
			t.Errorf("%s: host = %q, %v", name, host, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]struct{ yaml, want string }{
		"context name": {strings.Replace(good, "current-context: edge-1", "current-context: admin@edge-1", 1), "current-context"},
		"cluster name": {strings.Replace(good, "{cluster: edge-1,", "{cluster: other,", 1), "cluster \"other\""},
		"user name":    {strings.Replace(good, "user: edge-1,", "user: admin,", 1), "user \"admin\""},
		"exec plugin":  {strings.Replace(good, `user: {token: "abc"}`, `user: {exec: {command: /bin/sh, apiVersion: client.authentication.k8s.io/v1}}`, 1), "exec"},
		"token file":   {strings.Replace(good, `user: {token: "abc"}`, `user: {tokenFile: /etc/shadow}`, 1), "inline"},
		"ca file":      {strings.Replace(good, `certificate-authority-data: "Y2E="`, `certificate-authority: /etc/ca.crt`, 1), "inline"},
		"bad server":   {strings.Replace(good, "https://10.0.0.5:6443", "ftp://x", 1), "server"},
		"not yaml":     {"clusters: [unclosed", "not a valid kubeconfig"},
		"empty":        {"", "current-context"},
	}
	for name, c := range cases {
		raw, _ := json.Marshal(c.yaml)
		if _, err := Parse(raw, "edge-1"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, c.want)
		}
	}
	for _, raw := range []string{`42`, `[]`, `true`} {
		if _, err := Parse(json.RawMessage(raw), "edge-1"); err == nil {
			t.Errorf("%s accepted", raw)
		}
	}
}

func yamlToJSON(t *testing.T, y string) json.RawMessage {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return j
}
