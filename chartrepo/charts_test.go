package chartrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/smartorch/smartorch/testenv"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	chartRepo := testenv.StartChartRepo(t)
	repos := []Repository{{Name: "other", URL: "http://127.0.0.1:1"}, {Name: "test", URL: chartRepo.URL}}
	c := &Charts{CacheDir: t.TempDir()}
	ctx := context.Background()

	for _, tt := range []struct{ version, want string }{
		{"", "0.2.0"},
		{"0.1.0", "0.1.0"},
		{"0.2.0", "0.2.0"},
		{"^0.1", "0.1.0"}, // for 0.x, ^ keeps the minor version
		{"~0.1", "0.1.0"},
		{">=0.1.0 <0.2.0", "0.1.0"},
	} {
		ch, res, err := c.Load(ctx, "test/web", tt.version, repos)
		if err != nil {
			t.Fatalf("Load(test/web, %q): %v", tt.version, err)
		}
		archive, err := os.ReadFile(filepath.Join(chartRepo.Dir, "web-"+tt.want+".tgz"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(archive)
		want := Resolved{Ref: "test/web", Chart: "web", Version: tt.want, URL: chartRepo.URL + "/web-" + tt.want + ".tgz", Digest: "sha256:" + hex.EncodeToString(sum[:])}
		if res != want {
			t.Errorf("Load(test/web, %q) resolved %+v, want %+v", tt.version, res, want)
		}
		if ch.Name() != "web" || ch.Metadata.Version != tt.want || len(ch.Templates) == 0 {
			t.Errorf("Load(test/web, %q) loaded %s %s with %d templates", tt.version, ch.Name(), ch.Metadata.Version, len(ch.Templates))
		}
	}

	for _, tt := range []struct{ ref, version, msg string }{
		{"test/nope", "", `repository test has no chart "nope"`},
		{"test/web", "9.9.9", "chart web has no version 9.9.9 (versions: 0.2.0, 0.1.0)"},
		{"test/web", ">=1", "chart web has no version >=1"},
		{"test/web", "latest!", `version "latest!" is neither a version nor a constraint`},
		{"unknown/web", "", `repository "unknown" is not registered`},
		{"web", "", "must be <repository>/<chart>"},
	} {
		_, _, err := c.Load(ctx, tt.ref, tt.version, repos)
		if !errors.Is(err, ErrChartNotFound) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Load(%s, %q) error = %v, want ErrChartNotFound saying %q", tt.ref, tt.version, err, tt.msg)
		}
	}

	// A repository that cannot be reached is worth retrying.
	if _, _, err := c.Load(ctx, "other/web", "", repos); err == nil || errors.Is(err, ErrChartNotFound) {
		t.Errorf("Load from an unreachable repository: error = %v, want a retryable one", err)
	}
}

// The second Load of a version is served from the cache: the repository's
// archive is broken in between. A cached archive that does not match the
// index digest is downloaded again.
func TestLoadCache(t *testing.T) {
	t.Parallel()
	chartRepo := testenv.StartChartRepo(t)
	repos := []Repository{{Name: "test", URL: chartRepo.URL}}
	cacheDir := t.TempDir()
	ctx := context.Background()

	_, first, err := (&Charts{CacheDir: cacheDir}).Load(ctx, "test/web", "0.1.0", repos)
	if err != nil {
		t.Fatal(err)
	}
	cached, err := filepath.Glob(filepath.Join(cacheDir, "*"))
	if err != nil || len(cached) != 1 || !strings.HasSuffix(cached[0], ".tgz") {
		t.Fatalf("cache holds %v, want one .tgz", cached)
	}

	served := filepath.Join(chartRepo.Dir, "web-0.1.0.tgz")
	good, err := os.ReadFile(served)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(served, []byte("not a chart"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, second, err := (&Charts{CacheDir: cacheDir}).Load(ctx, "test/web", "^0.1.0 <0.2.0", repos)
	if err != nil {
		t.Fatalf("Load with the archive cached: %v", err)
	}
	if second.Digest != first.Digest {
		t.Errorf("digest %s from the cache, want %s", second.Digest, first.Digest)
	}

	// A damaged cache entry is replaced.
	if err := os.WriteFile(served, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached[0], []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&Charts{CacheDir: cacheDir}).Load(ctx, "test/web", "0.1.0", repos); err != nil {
		t.Fatalf("Load with a damaged cache entry: %v", err)
	}
	if data, err := os.ReadFile(cached[0]); err != nil || string(data) != string(good) {
		t.Errorf("cache entry not repaired: %v", err)
	}

	// Without a cache directory nothing is written.
	if _, _, err := (&Charts{}).Load(ctx, "test/web", "0.2.0", repos); err != nil {
		t.Fatal(err)
	}
}

// chartServer is an HTTP chart repository over a directory that records
// the Authorization header of each request and, with a user, requires it.
type chartServer struct {
	*httptest.Server
	dir        string
	user, pass string

	mu   sync.Mutex
	auth map[string]string // path → Authorization header of the last request
}

func newChartServer(t *testing.T, user, pass string) *chartServer {
	s := &chartServer{dir: t.TempDir(), user: user, pass: pass, auth: map[string]string{}}
	files := http.FileServer(http.Dir(s.dir))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth[r.URL.Path] = r.Header.Get("Authorization")
		s.mu.Unlock()
		if u, p, ok := r.BasicAuth(); s.user != "" && (!ok || u != s.user || p != s.pass) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *chartServer) authorization(path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.auth[path]
	return a, ok
}

// add saves a chart into the server's directory and returns its file name
// and digest.
func (s *chartServer) add(t *testing.T, ch *chart.Chart) (string, string) {
	path, err := chartutil.Save(ch, s.dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return filepath.Base(path), hex.EncodeToString(sum[:])
}

func testChart(name, version, typ string) *chart.Chart {
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: chart.APIVersionV2, Name: name, Version: version, Type: typ},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
`)}},
	}
}

// A private repository gets its credentials; the host its index sends
// archives to does not. A library chart is refused.
func TestLoadCredentials(t *testing.T) {
	t.Parallel()
	private := newChartServer(t, "alice", "s3cret")
	elsewhere := newChartServer(t, "", "")

	idx := repo.NewIndexFile()
	for _, ch := range []*chart.Chart{testChart("app", "1.0.0", "application"), testChart("lib", "1.0.0", "library")} {
		file, digest := private.add(t, ch)
		if err := idx.MustAdd(ch.Metadata, file, private.URL, digest); err != nil {
			t.Fatal(err)
		}
	}
	remote := testChart("remote", "2.0.0", "")
	file, digest := elsewhere.add(t, remote)
	if err := idx.MustAdd(remote.Metadata, file, elsewhere.URL, digest); err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(private.dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}

	c := &Charts{}
	ctx := context.Background()
	repos := []Repository{{Name: "private", URL: private.URL, Username: "alice", Password: "s3cret"}}

	if _, res, err := c.Load(ctx, "private/app", "", repos); err != nil || res.Version != "1.0.0" {
		t.Fatalf("Load(private/app) = %+v, %v", res, err)
	}
	if a, _ := private.authorization("/app-1.0.0.tgz"); a == "" {
		t.Error("the private repository's archive was fetched without credentials")
	}
	if ch, res, err := c.Load(ctx, "private/remote", "", repos); err != nil || res.URL != elsewhere.URL+"/remote-2.0.0.tgz" || ch.Name() != "remote" {
		t.Fatalf("Load(private/remote) = %+v, %v", res, err)
	}
	if a, ok := elsewhere.authorization("/remote-2.0.0.tgz"); !ok || a != "" {
		t.Errorf("archive on another host: requested %v with Authorization %q, want requested without", ok, a)
	}

	if _, _, err := c.Load(ctx, "private/lib", "", repos); !errors.Is(err, ErrChartNotFound) || !strings.Contains(err.Error(), "not an application chart") {
		t.Errorf("Load(library chart) error = %v, want ErrChartNotFound", err)
	}

	wrong := []Repository{{Name: "private", URL: private.URL, Username: "alice", Password: "wrong"}}
	if _, _, err := c.Load(ctx, "private/app", "", wrong); err == nil || errors.Is(err, ErrChartNotFound) || !strings.Contains(err.Error(), "401") {
		t.Errorf("Load with a wrong password: error = %v, want a 401 that is not ErrChartNotFound", err)
	}
}
