package chartrepo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/smartorch/smartorch/chartrepo"
)

func TestValidateURL(t *testing.T) {
	for _, ok := range []string{"https://charts.example.com", "http://127.0.0.1:8080/charts", "oci://ghcr.io/org/charts"} {
		if err := chartrepo.ValidateURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "charts.example.com", "ftp://x", "file:///etc", "https://", "https://u:p@x", "://x"} {
		if err := chartrepo.ValidateURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A host that does not speak the registry API, or does not answer, is refused.
func TestOCIRegistryMustAnswer(t *testing.T) {
	notRegistry := httptest.NewServer(http.NotFoundHandler())
	defer notRegistry.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	checker := chartrepo.Checker{Timeout: 5 * time.Second}
	for _, srv := range []*httptest.Server{notRegistry, closed} {
		u := "oci://" + srv.Listener.Addr().String() + "/charts"
		if _, err := checker.Charts(context.Background(), chartrepo.Repository{URL: u}); !errors.Is(err, chartrepo.ErrUnusable) {
			t.Errorf("%s: got %v, want ErrUnusable", u, err)
		}
	}
}

// With credentials, a registry must accept them (helm registry login's
// check); without, an auth challenge is answer enough.
func TestOCIRegistryCredentials(t *testing.T) {
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); r.URL.Path != "/v2/" || !ok || u != "reader" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer registry.Close()
	u := "oci://" + registry.Listener.Addr().String() + "/charts"
	checker := chartrepo.Checker{Timeout: 5 * time.Second}
	ctx := context.Background()
	if _, err := checker.Charts(ctx, chartrepo.Repository{URL: u, Username: "reader", Password: "s3cret"}); err != nil {
		t.Errorf("right password: %v", err)
	}
	if _, err := checker.Charts(ctx, chartrepo.Repository{URL: u, Username: "reader", Password: "wrong"}); !errors.Is(err, chartrepo.ErrUnusable) {
		t.Errorf("wrong password: got %v, want ErrUnusable", err)
	}
	if _, err := checker.Charts(ctx, chartrepo.Repository{URL: u}); err != nil {
		t.Errorf("no credentials: %v", err)
	}
}
