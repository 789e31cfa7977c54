// Package chartrepo checks Helm chart repositories and lists their charts,
// with the Helm SDK: http(s) repositories by their index.yaml, OCI registries
// through the Helm registry client.
package chartrepo

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
)

// Source is where a repository is and how to log in to it.
type Source struct {
	URL      string
	Username string
	Password string
}

// Chart is a chart a repository offers, versions newest first.
type Chart struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Versions    []string `json:"versions"`
}

// ErrUnusable wraps every reason a repository cannot be used (unreachable,
// refused credentials, not a chart repository): the caller's input is at fault.
var ErrUnusable = errors.New("repository unusable")

// Checker reaches repositories with a bounded timeout.
type Checker struct {
	Timeout time.Duration
}

// IsOCI reports whether url names an OCI registry.
func IsOCI(u string) bool { return strings.HasPrefix(u, "oci://") }

// ValidateURL accepts http(s):// and oci:// URLs with a host.
func ValidateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("url %q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "http", "https", "oci":
	default:
		return fmt.Errorf("url scheme %q is not supported: use http, https or oci", u.Scheme)
	}
	if u.User != nil {
		return errors.New("url must not carry credentials: use auth.username and auth.password")
	}
	return nil
}

// Charts verifies the repository and returns its charts. For an OCI
// registry, which cannot list its charts, it verifies access and returns none.
func (c Checker) Charts(src Source) ([]Chart, error) {
	if IsOCI(src.URL) {
		return nil, c.checkRegistry(src)
	}
	idx, err := c.index(src)
	if err != nil {
		return nil, err
	}
	idx.SortEntries()
	charts := make([]Chart, 0, len(idx.Entries))
	for name, versions := range idx.Entries {
		ch := Chart{Name: name, Versions: make([]string, 0, len(versions))}
		for _, v := range versions {
			ch.Versions = append(ch.Versions, v.Version)
		}
		if len(versions) > 0 {
			ch.Description = versions[0].Description
		}
		charts = append(charts, ch)
	}
	slices.SortFunc(charts, func(a, b Chart) int { return strings.Compare(a.Name, b.Name) })
	return charts, nil
}

func (c Checker) index(src Source) (*repo.IndexFile, error) {
	// WithURL scopes the credentials to the repository's host.
	opts := []getter.Option{getter.WithTimeout(c.timeout()), getter.WithURL(src.URL)}
	if src.Username != "" {
		opts = append(opts, getter.WithBasicAuth(src.Username, src.Password))
	}
	g, err := getter.NewHTTPGetter(opts...)
	if err != nil {
		return nil, err
	}
	indexURL := strings.TrimSuffix(src.URL, "/") + "/index.yaml"
	body, err := g.Get(indexURL)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot fetch %s: %v", ErrUnusable, indexURL, err)
	}
	// The SDK validates an index only when loading it from a file.
	f, err := os.CreateTemp("", "smartorch-index-*.yaml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	idx, err := repo.LoadIndexFile(f.Name())
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid chart repository index: %v", ErrUnusable, indexURL, err)
	}
	return idx, nil
}

// checkRegistry logs in when credentials are given, else checks that the
// host speaks the registry API (answering /v2/ with 200 or an auth challenge).
func (c Checker) checkRegistry(src Source) error {
	u, err := url.Parse(src.URL)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnusable, err)
	}
	plain := isLoopback(u.Hostname())
	if src.Username != "" {
		dir, err := os.MkdirTemp("", "smartorch-registry-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		client, err := registry.NewClient(
			registry.ClientOptCredentialsFile(filepath.Join(dir, "config.json")),
			registry.ClientOptHTTPClient(&http.Client{Timeout: c.timeout()}),
			registry.ClientOptWriter(io.Discard),
		)
		if err != nil {
			return err
		}
		if err := client.Login(u.Host, registry.LoginOptBasicAuth(src.Username, src.Password), registry.LoginOptPlainText(plain)); err != nil {
			return fmt.Errorf("%w: login to %s: %v", ErrUnusable, u.Host, err)
		}
		return nil
	}
	scheme := "https"
	if plain {
		scheme = "http"
	}
	resp, err := (&http.Client{Timeout: c.timeout()}).Get(scheme + "://" + u.Host + "/v2/")
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnusable, u.Host, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("%w: %s answered %s to the registry API check", ErrUnusable, u.Host, resp.Status)
	}
	return nil
}

func (c Checker) timeout() time.Duration {
	if c.Timeout == 0 {
		return 15 * time.Second
	}
	return c.Timeout
}

// isLoopback allows plain-HTTP registries only on this machine (dev and tests).
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
