package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	promrules "github.com/smartorch/smartorch/deploy/prometheus"
)

// Prometheus is a real Prometheus (the Debian binary) that scrapes every
// second the targets listed in file_sd files and evaluates
// deploy/prometheus/rules.yaml every second.
//
// The rules' [5m] ranges are shortened to RateWindow: rate() over five
// minutes divides by five minutes even when only seconds of samples exist,
// so the real window would need five minutes of scraping before it shows
// the rate a test set. The recorded series keep their names.
type Prometheus struct {
	// URL is the HTTP API base, e.g. http://127.0.0.1:41234.
	URL string
	// FileSDDir is watched for *.json file_sd files; every target in them is
	// scraped by job "node-exporter". Write files atomically (SetTargets
	// does), since Prometheus reads them as soon as they change.
	FileSDDir string
	// RateWindow replaces [5m] in the recording rules.
	RateWindow string

	proc *process
}

// TargetGroup is one entry of a file_sd file.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// DefaultRateWindow is the range the test Prometheus uses instead of [5m].
const DefaultRateWindow = "5s"

func startPrometheus(dir, rateWindow string, history []Series) (*Prometheus, error) {
	bin, err := tool("prometheus")
	if err != nil {
		return nil, err
	}
	p := &Prometheus{FileSDDir: filepath.Join(dir, "file_sd"), RateWindow: rateWindow}
	if err := os.MkdirAll(p.FileSDDir, 0o755); err != nil {
		return nil, err
	}
	rules := bytes.ReplaceAll(promrules.RulesYAML, []byte("[5m]"), []byte("["+rateWindow+"]"))
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: node-exporter
    file_sd_configs:
      - files: [%q]
        refresh_interval: 1s
`, filepath.Join(dir, "rules.yaml"), filepath.Join(p.FileSDDir, "*.json"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		return nil, err
	}
	if len(history) > 0 {
		if err := backfill(dir, filepath.Join(dir, "data"), history); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	p.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	p.proc, err = startProcess("prometheus", filepath.Join(dir, "prometheus.log"), bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
		"--web.enable-lifecycle",
		"--log.level=warn",
	)
	if err != nil {
		return nil, err
	}
	err = waitFor("prometheus", 30*time.Second, func() (bool, error) {
		resp, err := http.Get(p.URL + "/-/ready")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("/-/ready: %s", resp.Status)
	}, p.proc)
	if err != nil {
		p.proc.stop(time.Second)
		return nil, err
	}
	return p, nil
}

// SetTargets replaces the file_sd file <name>.json with groups (none removes
// the targets). The harness keeps its own targets, one per cluster labelled
// cluster_name, in testenv.json.
func (p *Prometheus) SetTargets(name string, groups []TargetGroup) error {
	if groups == nil {
		groups = []TargetGroup{}
	}
	data, err := json.MarshalIndent(groups, "", "  ")
	if err != nil {
		return err
	}
	// The temporary name must not match *.json.
	tmp := filepath.Join(p.FileSDDir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(p.FileSDDir, name+".json"))
}
