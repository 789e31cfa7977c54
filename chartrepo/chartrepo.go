// Package chartrepo owns the chart sources: Helm chart repositories (an
// http(s) index.yaml) and OCI registries. It checks a repository and lists
// its charts (Checker), and resolves, downloads and caches the chart an
// enabler names (Charts), with the Helm SDK; package release installs the
// chart it is handed.
package chartrepo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote"
)

// Repository is a registered chart repository: an http(s) index or an
// oci:// registry (URL like oci://host/path), and how to log in to it.
type Repository struct{ Name, URL, Username, Password string }

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
	Timeout time.Duration // per HTTP request; default 15s
}

// IsOCI reports whether url names an OCI registry.
func IsOCI(u string) bool { return strings.HasPrefix(u, ociScheme) }

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
func (c Checker) Charts(ctx context.Context, r Repository) ([]Chart, error) {
	if IsOCI(r.URL) {
		return nil, c.checkRegistry(ctx, r)
	}
	idx, err := fetchIndex(ctx, r, c.timeout())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnusable, err)
	}
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

// checkRegistry checks that the host speaks the registry API: with
// credentials, that it accepts them (as helm registry login does); without,
// that it answers /v2/ with 200 or an auth challenge.
func (c Checker) checkRegistry(ctx context.Context, r Repository) error {
	u, err := url.Parse(r.URL)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnusable, err)
	}
	if r.Username != "" {
		reg, err := remote.NewRegistry(u.Host)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnusable, err)
		}
		reg.PlainHTTP = isLoopback(u.Hostname())
		reg.Client = registryAuth(u.Host, &r, c.timeout())
		if err := reg.Ping(ctx); err != nil {
			return fmt.Errorf("%w: login to %s: %v", ErrUnusable, u.Host, err)
		}
		return nil
	}
	scheme := "https"
	if isLoopback(u.Hostname()) {
		scheme = "http"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+u.Host+"/v2/", nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnusable, err)
	}
	resp, err := (&http.Client{Timeout: c.timeout()}).Do(req)
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
