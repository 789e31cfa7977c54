// Package kubeconfig checks the kubeconfigs clusters are joined with and
// turns stored ones into clients.
package kubeconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Parse reads the credentials of a join request: a kubeconfig as a JSON
// object, or a string holding it as YAML (or JSON). It checks that the
// current context, its cluster and its user are all named name (the seed's
// rule), that it carries everything inline (no file paths, no exec or
// auth-provider plugins: a kubeconfig must not make the orchestrator run
// programs or read its own files), and returns it reduced to that context,
// as YAML, ready to store.
func Parse(raw json.RawMessage, name string) ([]byte, error) {
	data := []byte(raw)
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		data = []byte(s)
	} else if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		return nil, errors.New("credentials must be a kubeconfig: a JSON object or a YAML string")
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("credentials are not a valid kubeconfig: %v", err)
	}
	if err := checkNames(cfg, name); err != nil {
		return nil, err
	}
	if err := clientcmdapi.MinifyConfig(cfg); err != nil {
		return nil, fmt.Errorf("credentials: %v", err)
	}
	if err := checkInline(cfg); err != nil {
		return nil, err
	}
	if _, err := serverURL(cfg); err != nil {
		return nil, err
	}
	return clientcmd.Write(*cfg)
}

func checkNames(cfg *clientcmdapi.Config, name string) error {
	if cfg.CurrentContext != name {
		return fmt.Errorf("credentials: current-context is %q, must be the cluster name %q", cfg.CurrentContext, name)
	}
	ctx, ok := cfg.Contexts[name]
	if !ok {
		return fmt.Errorf("credentials: no context named %q", name)
	}
	if ctx.Cluster != name {
		return fmt.Errorf("credentials: context %q refers to cluster %q, must be %q", name, ctx.Cluster, name)
	}
	if ctx.AuthInfo != name {
		return fmt.Errorf("credentials: context %q refers to user %q, must be %q", name, ctx.AuthInfo, name)
	}
	if _, ok := cfg.Clusters[name]; !ok {
		return fmt.Errorf("credentials: no cluster named %q", name)
	}
	if _, ok := cfg.AuthInfos[name]; !ok {
		return fmt.Errorf("credentials: no user named %q", name)
	}
	return nil
}

func checkInline(cfg *clientcmdapi.Config) error {
	for n, c := range cfg.Clusters {
		if c.CertificateAuthority != "" {
			return fmt.Errorf("credentials: cluster %q: certificate-authority must be inline (certificate-authority-data)", n)
		}
	}
	for n, u := range cfg.AuthInfos {
		switch {
		case u.Exec != nil, u.AuthProvider != nil:
			return fmt.Errorf("credentials: user %q: exec and auth-provider plugins are not accepted; use a token or a client certificate", n)
		case u.ClientCertificate != "", u.ClientKey != "", u.TokenFile != "":
			return fmt.Errorf("credentials: user %q: certificates, keys and tokens must be inline (…-data, token)", n)
		case u.Impersonate != "" || len(u.ImpersonateGroups) > 0:
			return fmt.Errorf("credentials: user %q: impersonation is not accepted", n)
		}
	}
	return nil
}

func serverURL(cfg *clientcmdapi.Config) (*url.URL, error) {
	c := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	u, err := url.Parse(c.Server)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("credentials: cluster server %q is not an http(s) URL", c.Server)
	}
	return u, nil
}

// Host is the host (IP or name) of the stored kubeconfig's API server.
func Host(stored []byte) (string, error) {
	cfg, err := clientcmd.Load(stored)
	if err != nil {
		return "", err
	}
	u, err := serverURL(cfg)
	if err != nil {
		return "", err
	}
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		return u.Host, nil
	}
	return host, nil
}

// Client builds a client for a stored kubeconfig. Requests time out, so a
// dead API server fails an activity instead of hanging it.
func Client(stored []byte) (kubernetes.Interface, *rest.Config, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(stored)
	if err != nil {
		return nil, nil, err
	}
	cfg.Timeout = 30 * time.Second
	cfg.QPS, cfg.Burst = 50, 100
	c, err := kubernetes.NewForConfig(cfg)
	return c, cfg, err
}
