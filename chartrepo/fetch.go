package chartrepo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"oras.land/oras-go/v2/registry/remote/auth"
	"sigs.k8s.io/yaml"
)

// maxDownload bounds an index or chart archive held in memory.
const maxDownload = 256 << 20

// fetchIndex downloads and parses the repository's index.yaml.
func fetchIndex(ctx context.Context, r Repository, timeout time.Duration) (*repo.IndexFile, error) {
	body, err := get(ctx, indexURL(r), r, timeout)
	if err != nil {
		return nil, err
	}
	idx, err := parseIndex(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", indexURL(r), err)
	}
	return idx, nil
}

func indexURL(r Repository) string { return strings.TrimSuffix(r.URL, "/") + "/index.yaml" }

// parseIndex parses an index.yaml in memory as repo.LoadIndexFile does from
// a file, dropping entries without metadata, and sorts each chart's
// versions newest first.
func parseIndex(data []byte) (*repo.IndexFile, error) {
	var idx repo.IndexFile
	if err := yaml.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("not a chart repository index: %w", err)
	}
	if idx.APIVersion == "" {
		return nil, repo.ErrNoAPIVersion
	}
	for name, versions := range idx.Entries {
		idx.Entries[name] = slices.DeleteFunc(versions, func(v *repo.ChartVersion) bool { return v == nil || v.Metadata == nil })
	}
	idx.SortEntries()
	return &idx, nil
}

// get fetches href, with the repository's basic auth only when href has the
// repository's scheme and host.
func get(ctx context.Context, href string, r Repository, timeout time.Duration) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, href, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "smartorch (Helm/3)")
	if r.Username != "" && sameOrigin(href, r.URL) {
		req.SetBasicAuth(r.Username, r.Password)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", href, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", href, err)
	}
	if len(data) > maxDownload {
		return nil, fmt.Errorf("GET %s: larger than %d MiB", href, maxDownload>>20)
	}
	return data, nil
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}

// registryClient returns a Helm registry client for ref ("host/path/chart")
// that authenticates with creds to that host only, and never with the
// credentials stored on this machine (docker or helm config files).
func registryClient(ref string, creds *Repository, timeout time.Duration) (*registry.Client, error) {
	host, _, _ := strings.Cut(ref, "/")
	authorizer := registryAuth(host, creds, timeout)
	opts := []registry.ClientOption{
		registry.ClientOptHTTPClient(authorizer.Client),
		registry.ClientOptAuthorizer(*authorizer),
		registry.ClientOptWriter(io.Discard),
		// An empty file: the client neither reads nor writes ~/.config/helm.
		registry.ClientOptCredentialsFile(os.DevNull),
	}
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	if isLoopback(hostname) {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	return registry.NewClient(opts...)
}

// registryAuth is the HTTP client of a registry on host: it answers the
// registry's auth challenges with creds, for that host only.
func registryAuth(host string, creds *Repository, timeout time.Duration) *auth.Client {
	return &auth.Client{Client: &http.Client{Timeout: timeout}, Cache: auth.NewCache(), Credential: registryCredential(host, creds)}
}

func registryCredential(host string, creds *Repository) auth.CredentialFunc {
	if creds == nil || creds.Username == "" {
		return func(context.Context, string) (auth.Credential, error) { return auth.EmptyCredential, nil }
	}
	return auth.StaticCredential(host, auth.Credential{Username: creds.Username, Password: creds.Password})
}

// isLoopback allows plain-HTTP registries only on this machine (dev and tests).
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
