package testenv_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/yaml"

	"github.com/smartorch/smartorch/testenv"
)

// TestStartChartRepo needs no tools: the repository is served in process.
func TestStartChartRepo(t *testing.T) {
	r := testenv.StartChartRepo(t)
	var index repo.IndexFile
	if err := yaml.Unmarshal(get(t, r.URL+"/index.yaml"), &index); err != nil {
		t.Fatal(err)
	}
	for _, name := range r.Charts {
		if !index.Has(name, "") {
			t.Errorf("index has no chart %s", name)
		}
	}
	var versions []string
	for _, v := range index.Entries[testenv.ChartWeb] {
		versions = append(versions, v.Version)
	}
	slices.Sort(versions)
	if !slices.Equal(versions, []string{"0.1.0", "0.2.0"}) {
		t.Errorf("web versions %v, want 0.1.0 and 0.2.0", versions)
	}

	cv, err := index.Get(testenv.ChartHuge, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cv.URLs[0], r.URL+"/") {
		t.Errorf("chart URL %s is not under %s", cv.URLs[0], r.URL)
	}
	ch, err := loader.LoadArchive(strings.NewReader(string(get(t, cv.URLs[0]))))
	if err != nil {
		t.Fatal(err)
	}
	cpu := ch.Values["resources"].(map[string]any)["requests"].(map[string]any)["cpu"]
	if cpu != "64" {
		t.Errorf("huge requests cpu %v, want 64", cpu)
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return body
}

func TestStartPrivateChartRepo(t *testing.T) {
	r := testenv.StartPrivateChartRepo(t, "reader", "repo-password")
	for _, c := range []struct {
		user, password string
		want           int
	}{{"", "", 401}, {"reader", "wrong", 401}, {"other", "repo-password", 401}, {"reader", "repo-password", 200}} {
		req, _ := http.NewRequest("GET", r.URL+"/index.yaml", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("as %q/%q: status %d, want %d", c.user, c.password, resp.StatusCode, c.want)
		}
	}
}
