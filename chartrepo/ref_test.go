package chartrepo

import (
	"context"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ref         string
		repo, chart string
		oci         bool
		err         string // substring of the error; "" for none
	}{
		{ref: "bitnami/nginx", repo: "bitnami", chart: "nginx"},
		{ref: "my-repo_1.x/web-app", repo: "my-repo_1.x", chart: "web-app"},
		{ref: "oci://registry.example.com/charts/web", repo: "oci://registry.example.com/charts", chart: "web", oci: true},
		{ref: "oci://127.0.0.1:5000/a/b/c/web", repo: "oci://127.0.0.1:5000/a/b/c", chart: "web", oci: true},
		{ref: "oci://ghcr.io/web", repo: "oci://ghcr.io", chart: "web", oci: true},

		{ref: "", err: "must be <repository>/<chart>"},
		{ref: "nginx", err: "must be <repository>/<chart>"},
		{ref: "a/b/c", err: "must be <repository>/<chart>"},
		{ref: "/nginx", err: "is not a repository name"},
		{ref: "bit nami/nginx", err: "is not a repository name"},
		{ref: "bitnami/", err: "is not a chart name"},
		{ref: "bitnami/ngi nx", err: "is not a chart name"},
		{ref: "bitnami/nginx:1.0", err: "is not a chart name"},
		{ref: "https://charts.example.com/web", err: "must be <repository>/<chart>"},
		{ref: "oci://", err: "not a valid oci:// reference"},
		{ref: "oci://registry.example.com", err: "must be oci://<registry>/<path>/<chart>"},
		{ref: "oci://registry.example.com/", err: "must be oci://<registry>/<path>/<chart>"},
		{ref: "oci://registry.example.com/charts/", err: "is not a chart name"},
		{ref: "oci://registry.example.com/charts/web:1.0.0", err: "give the version separately"},
		{ref: "oci://registry.example.com/charts/web@sha256:abcd", err: "give the version separately"},
		{ref: "oci://user:pw@registry.example.com/charts/web", err: "no credentials"},
		{ref: "oci://registry.example.com/charts/web?x=1", err: "no credentials, query or fragment"},
		{ref: "oci://registry.example.com//web", err: "empty or relative path segment"},
		{ref: "oci://registry.example.com/../web", err: "empty or relative path segment"},
	}
	for _, tt := range tests {
		repo, chart, oci, err := ParseRef(tt.ref)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRef(%q) error = %v, want one containing %q", tt.ref, err, tt.err)
			}
			continue
		}
		if err != nil || repo != tt.repo || chart != tt.chart || oci != tt.oci {
			t.Errorf("ParseRef(%q) = %q, %q, %v, %v; want %q, %q, %v", tt.ref, repo, chart, oci, err, tt.repo, tt.chart, tt.oci)
		}
	}
}

func TestRegistryCredentials(t *testing.T) {
	t.Parallel()
	repos := []Repository{
		{Name: "http", URL: "https://registry.example.com/charts"},
		{Name: "root", URL: "oci://registry.example.com", Username: "root"},
		{Name: "team", URL: "oci://registry.example.com/team/", Username: "team"},
		{Name: "team-sub", URL: "oci://registry.example.com/team/sub", Username: "sub"},
		{Name: "other", URL: "oci://other.example.com:5000/charts", Username: "other"},
	}
	tests := []struct {
		ref, want string // want: the Name of the chosen repository, "" for none
	}{
		{"oci://registry.example.com/team/web", "team"},
		{"oci://registry.example.com/team/sub/web", "team-sub"},
		{"oci://registry.example.com/team-x/web", "root"}, // a prefix only on a path boundary
		{"oci://registry.example.com/web", "root"},
		{"oci://other.example.com:5000/charts/web", "other"},
		{"oci://other.example.com/charts/web", ""}, // another port is another registry
		{"oci://registry.example.com.evil/web", ""},
		{"oci://unknown.example.com/web", ""},
	}
	for _, tt := range tests {
		got := registryCredentials(tt.ref, repos)
		name := ""
		if got != nil {
			name = got.Name
		}
		if name != tt.want {
			t.Errorf("registryCredentials(%q) = %q, want %q", tt.ref, name, tt.want)
		}
	}
}

// The registry client gets the repository's credentials for the registry's
// host only (not, say, for a token server on another host), and none at
// all without a repository: never those stored on the machine.
func TestRegistryCredential(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cred := registryCredential("registry.example.com:5000", &Repository{Username: "u", Password: "p"})
	if c, err := cred(ctx, "registry.example.com:5000"); err != nil || c.Username != "u" || c.Password != "p" {
		t.Errorf("credential for the registry = %+v, %v; want u/p", c, err)
	}
	for _, host := range []string{"registry.example.com", "auth.example.com"} {
		if c, err := cred(ctx, host); err != nil || c.Username != "" || c.Password != "" {
			t.Errorf("credential for %s = %+v, %v; want none", host, c, err)
		}
	}
	none := registryCredential("registry.example.com", nil)
	if c, err := none(ctx, "registry.example.com"); err != nil || c.Username != "" {
		t.Errorf("credential without a repository = %+v, %v; want none", c, err)
	}
}
