package testenv

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"helm.sh/helm/v3/pkg/repo"
)

// ChartRepo is an HTTP Helm chart repository (index.yaml and .tgz files)
// on 127.0.0.1 holding the test charts (ChartWeb, ChartStateful, ...).
type ChartRepo struct {
	// URL is the repository URL to add, e.g. http://127.0.0.1:40123.
	URL string
	// Dir holds index.yaml and the chart archives.
	Dir string
	// Charts are the chart names in the repository.
	Charts []string
	// Username and Password, when set, are required (HTTP basic auth).
	Username, Password string

	server *http.Server
}

// StartChartRepo serves the test charts until the test ends. Tests that need
// only a chart repository use it without Start.
func StartChartRepo(t T) *ChartRepo {
	t.Helper()
	r, err := startChartRepo(t.TempDir(), "", "")
	fatal(t, err)
	t.Cleanup(r.close)
	return r
}

// StartPrivateChartRepo is StartChartRepo serving only requests that log in
// with username and password.
func StartPrivateChartRepo(t T, username, password string) *ChartRepo {
	t.Helper()
	r, err := startChartRepo(t.TempDir(), username, password)
	fatal(t, err)
	t.Cleanup(r.close)
	return r
}

func startChartRepo(dir, username, password string) (*ChartRepo, error) {
	r := &ChartRepo{Dir: filepath.Join(dir, "charts"), Charts: []string{ChartWeb, ChartStateful, ChartGlobal, ChartHuge},
		Username: username, Password: password}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, err
	}
	for _, c := range testCharts {
		if err := saveChart(c, r.Dir); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.URL = "http://" + l.Addr().String()
	index, err := repo.IndexDirectory(r.Dir, r.URL)
	if err != nil {
		l.Close()
		return nil, err
	}
	index.SortEntries()
	if err := index.WriteFile(filepath.Join(r.Dir, "index.yaml"), 0o644); err != nil {
		l.Close()
		return nil, err
	}
	r.server = &http.Server{Handler: r.authorize(http.FileServer(http.Dir(r.Dir))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.server.Serve(l) }()
	return r, nil
}

func (r *ChartRepo) authorize(h http.Handler) http.Handler {
	if r.Username == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != r.Username || p != r.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	})
}

func (r *ChartRepo) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.server.Shutdown(ctx)
}
