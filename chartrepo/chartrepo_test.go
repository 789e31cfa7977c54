package chartrepo_test

import (
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
		if _, err := checker.Charts(chartrepo.Source{URL: u}); !errors.Is(err, chartrepo.ErrUnusable) {
			t.Errorf("%s: got %v, want ErrUnusable", u, err)
		}
	}
}
