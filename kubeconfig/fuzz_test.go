package kubeconfig

import (
	"bytes"
	"encoding/json"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// FuzzParse feeds join credentials (as a JSON string and, when the input is
// a JSON object, as such). What Parse accepts must hold exactly one cluster,
// context and user, all named name, with nothing read from files or run as
// a plugin, and must parse again to the same bytes.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good), "edge-1")
	f.Add([]byte(`{"apiVersion":"v1","kind":"Config","current-context":"a","clusters":[{"name":"a","cluster":{"server":"http://h:1"}}],"contexts":[{"name":"a","context":{"cluster":"a","user":"a"}}],"users":[{"name":"a","user":{"token":"t"}}]}`), "a")
	f.Add([]byte("current-context: a\ncontexts: [{name: a, context: {cluster: a, user: a}}]\nclusters: [{name: a, cluster: {server: 'https://[::1]:6443'}}]\nusers: [{name: a, user: {exec: {command: sh}}}]\n"), "a")
	f.Add([]byte("current-context: a\ncontexts: [{name: a, context: {cluster: a, user: a}}]\nclusters: [{name: a, cluster: {server: 'https://h', proxy-url: 'http://p'}}]\nusers: [{name: a, user: {client-certificate-data: eA==, client-key-data: eA==}}]\n"), "a")
	f.Add([]byte("clusters: [unclosed"), "x")
	f.Add([]byte(`"a string, not a kubeconfig"`), "x")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		asString, err := json.Marshal(string(data))
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range []json.RawMessage{asString, data} {
			if !json.Valid(raw) {
				continue
			}
			out, err := Parse(raw, name)
			if err != nil {
				continue
			}
			checkParsed(t, out, name)
			again, _ := json.Marshal(string(out))
			out2, err := Parse(again, name)
			if err != nil {
				t.Fatalf("Parse accepted %q but not its own output:\n%s\n%v", raw, out, err)
			}
			if !bytes.Equal(out, out2) {
				t.Fatalf("Parse is not idempotent:\n%s\nthen\n%s", out, out2)
			}
		}
	})
}

func checkParsed(t *testing.T, out []byte, name string) {
	t.Helper()
	cfg, err := clientcmd.Load(out)
	if err != nil {
		t.Fatalf("output does not load: %v\n%s", err, out)
	}
	if cfg.CurrentContext != name || len(cfg.Contexts) != 1 || len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 {
		t.Fatalf("output is not reduced to %q:\n%s", name, out)
	}
	c, u := cfg.Clusters[name], cfg.AuthInfos[name]
	if c == nil || u == nil || cfg.Contexts[name] == nil {
		t.Fatalf("output names other than %q:\n%s", name, out)
	}
	if c.CertificateAuthority != "" || u.Exec != nil || u.AuthProvider != nil || u.ClientCertificate != "" ||
		u.ClientKey != "" || u.TokenFile != "" || u.Impersonate != "" || len(u.ImpersonateGroups) > 0 {
		t.Fatalf("output refers to files, plugins or impersonation:\n%s", out)
	}
	if _, err := Host(out); err != nil {
		t.Fatalf("Host of accepted credentials: %v\n%s", err, out)
	}
}
