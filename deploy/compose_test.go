package deploy

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/server/common/dynamicconfig"
	temporalschema "go.temporal.io/server/schema"
	"sigs.k8s.io/yaml"

	"github.com/smartorch/smartorch/testenv"
)

type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]any            `json:"volumes"`
}

type composeService struct {
	Image       string            `json:"image"`
	Build       any               `json:"build"`
	Command     []string          `json:"command"`
	Entrypoint  []string          `json:"entrypoint"`
	Environment map[string]string `json:"environment"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on"`
	Healthcheck *struct {
		Test []string `json:"test"`
	} `json:"healthcheck"`
	Restart  string   `json:"restart"`
	ReadOnly bool     `json:"read_only"`
	CapDrop  []string `json:"cap_drop"`
}

// mount is one entry of a service's volumes: a named volume or a bind mount.
type mount struct {
	source, target string
	readOnly, bind bool
}

func (s composeService) mounts(t *testing.T, name string) []mount {
	t.Helper()
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("service %s: volume %q: want source:target[:mode] (the test reads the short syntax only)", name, v)
		}
		m := mount{source: parts[0], target: parts[1]}
		m.bind = strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/")
		if len(parts) == 3 {
			m.readOnly = slices.Contains(strings.Split(parts[2], ","), "ro")
		}
		out = append(out, m)
	}
	return out
}

func (s composeService) mountAt(t *testing.T, name, target string) (mount, bool) {
	for _, m := range s.mounts(t, name) {
		if m.target == target {
			return m, true
		}
	}
	return mount{}, false
}

// varRe matches ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}
// and ${NAME?message}; $${...} is an escaped dollar for the container.
var varRe = regexp.MustCompile(`\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate substitutes variables as compose does, from vars.
func interpolate(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	return varRe.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "$$") {
			return m[1:]
		}
		sub := varRe.FindStringSubmatch(m)
		v, set := vars[sub[1]]
		switch sub[2] {
		case ":-", "-":
			if !set || (v == "" && sub[2] == ":-") {
				return sub[3]
			}
		case ":?", "?":
			if !set || (v == "" && sub[2] == ":?") {
				t.Fatalf("compose would stop: %s (%s)", sub[1], sub[3])
			}
		}
		return v
	})
}

// envExample is the variables deploy/compose/.env.example describes, set or
// commented out ("# NAME=").
func envExample(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{}
	re := regexp.MustCompile(`^#?\s*([A-Z][A-Z0-9_]*)=(.*)$`)
	for _, line := range strings.Split(readFile(t, "deploy/compose/.env.example"), "\n") {
		if m := re.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			vars[m[1]] = m[2]
		}
	}
	return vars
}

func loadCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	text := readFile(t, "docker-compose.yml")
	var c composeFile
	if err := yaml.UnmarshalStrict([]byte(text), &map[string]any{}); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return c, text
}

// testVars are values for every variable: the required ones get test
// values, the optional ones their defaults.
func testVars(t *testing.T) map[string]string {
	vars := map[string]string{
		"SMARTORCH_SECRET_KEY":     strings.Repeat("ab", 32),
		"SMARTORCH_ADMIN_PASSWORD": "admin-password",
		"MONGO_ROOT_PASSWORD":      "rootpassword",
		"MONGO_APP_PASSWORD":       "apppassword",
		"TEMPORAL_DB_PASSWORD":     "dbpassword",
	}
	for k := range envExample(t) {
		if _, ok := vars[k]; !ok {
			vars[k] = "" // optional: compose uses the default
		}
	}
	return vars
}

// smartorchServices are the services running the orchestrator's own image.
func smartorchServices(c composeFile) map[string]composeService {
	out := map[string]composeService{}
	for name, s := range c.Services {
		if s.Build != nil {
			out[name] = s
		}
	}
	return out
}

func TestComposeVariablesAreDocumented(t *testing.T) {
	_, text := loadCompose(t)
	// Compose interpolates values (and keys), not comments.
	var doc any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	var values []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				values = append(values, k)
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			values = append(values, v)
		}
	}
	walk(doc)
	text = strings.Join(values, "\n")
	documented := envExample(t)
	used := map[string]bool{}
	for _, m := range varRe.FindAllStringSubmatch(text, -1) {
		if strings.HasPrefix(m[0], "$$") {
			continue // the container's shell expands it
		}
		used[m[1]] = true
		if _, ok := documented[m[1]]; !ok {
			t.Errorf("docker-compose.yml uses ${%s}, which deploy/compose/.env.example does not describe", m[1])
		}
		if m[2] == "" {
			t.Errorf("${%s} has neither a default (:-) nor a message (:?): compose would silently use an empty value", m[1])
		}
	}
	for name := range documented {
		if !used[name] {
			t.Errorf("deploy/compose/.env.example describes %s, which docker-compose.yml does not use", name)
		}
	}
	// Secrets must be required, never defaulted.
	for _, secret := range []string{"SMARTORCH_SECRET_KEY", "SMARTORCH_ADMIN_PASSWORD", "MONGO_ROOT_PASSWORD", "MONGO_APP_PASSWORD", "TEMPORAL_DB_PASSWORD"} {
		re := regexp.MustCompile(`\$\{` + secret + `(:?[-?])?`)
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			if m[1] != ":?" {
				t.Errorf("${%s...}: a secret must be required (${%s:?message})", secret, secret)
			}
		}
		if v := documented[secret]; v != "" {
			t.Errorf(".env.example gives %s a value: secrets must be chosen by the operator", secret)
		}
	}
}

func TestComposeServicesVolumesAndPorts(t *testing.T) {
	c, _ := loadCompose(t)
	root := repoRoot(t)
	vars := testVars(t)

	usedVolumes := map[string]bool{}
	hostPorts := map[string]string{}
	for name, s := range c.Services {
		// Images: pinned, by digest unless built here.
		if s.Image == "" {
			t.Errorf("service %s has no image", name)
		}
		checkPinned(t, "service "+name, interpolate(t, s.Image, vars), s.Build == nil)

		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			if !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
				continue
			}
			switch d.Condition {
			case "service_healthy":
				if target.Healthcheck == nil || len(target.Healthcheck.Test) == 0 {
					t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
				}
			case "service_completed_successfully":
				if target.Restart != "no" {
					t.Errorf("service %s waits for %s to complete, which should be a one-shot (restart: \"no\"), has restart %q", name, dep, target.Restart)
				}
			case "service_started":
			default:
				t.Errorf("service %s depends on %s with condition %q", name, dep, d.Condition)
			}
		}

		for _, m := range s.mounts(t, name) {
			if m.bind {
				p := filepath.Join(root, filepath.FromSlash(m.source))
				if _, err := os.Stat(p); err != nil {
					t.Errorf("service %s mounts %s, which is not in the repository: %v", name, m.source, err)
				}
				if !m.readOnly {
					t.Errorf("service %s mounts %s from the repository read-write", name, m.source)
				}
				continue
			}
			usedVolumes[m.source] = true
			if _, ok := c.Volumes[m.source]; !ok {
				t.Errorf("service %s uses volume %s, which is not declared under volumes:", name, m.source)
			}
		}

		for _, p := range s.Ports {
			p = interpolate(t, p, vars)
			parts := strings.Split(p, ":")
			if len(parts) != 3 {
				t.Errorf("service %s publishes %q: want ip:host:container", name, p)
				continue
			}
			if ip := net.ParseIP(parts[0]); ip == nil || !ip.IsLoopback() {
				t.Errorf("service %s publishes %q beyond the loopback address", name, p)
			}
			if other, dup := hostPorts[parts[1]]; dup {
				t.Errorf("services %s and %s both publish host port %s", other, name, parts[1])
			}
			hostPorts[parts[1]] = name
		}
	}
	for v := range c.Volumes {
		if !usedVolumes[v] {
			t.Errorf("volume %s is declared but no service uses it", v)
		}
	}
	for _, want := range []string{"mongo-data", "postgres-data", "prometheus-data", "file-sd", "chart-cache"} {
		if !usedVolumes[want] {
			t.Errorf("no service keeps %s on a named volume", want)
		}
	}
	// Every dependency chain ends: no cycles.
	var visit func(string, []string)
	visit = func(n string, stack []string) {
		if slices.Contains(stack, n) {
			t.Fatalf("depends_on cycle: %s", strings.Join(append(stack, n), " -> "))
		}
		for dep := range c.Services[n].DependsOn {
			visit(dep, append(stack, n))
		}
	}
	for n := range c.Services {
		visit(n, nil)
	}
}

func TestComposeSmartorchServices(t *testing.T) {
	c, _ := loadCompose(t)
	vars := testVars(t)
	names := configEnv(t)
	ours := smartorchServices(c)
	commands := map[string]string{}
	for name, s := range ours {
		if len(s.Command) != 1 {
			t.Errorf("service %s: command %v, want [api] or [worker]", name, s.Command)
			continue
		}
		commands[s.Command[0]] = name
		for k := range s.Environment {
			if !names[k] {
				t.Errorf("service %s sets %s, which cmd/smartorch/config.go does not read", name, k)
			}
		}
		for _, k := range []string{"SMARTORCH_MONGO_URI", "SMARTORCH_TEMPORAL_ADDRESS", "SMARTORCH_SECRET_KEY", "SMARTORCH_PROMETHEUS_URL"} {
			if s.Environment[k] == "" {
				t.Errorf("service %s does not set %s", name, k)
			}
		}
		if !s.ReadOnly {
			t.Errorf("service %s: the root filesystem is writable (read_only: true)", name)
		}
		if !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("service %s keeps its capabilities (cap_drop: [ALL])", name)
		}
		if s.Image != c.Services[sortedKeys(ours)[0]].Image {
			t.Errorf("service %s runs image %s, not the same image as the others", name, s.Image)
		}

		// The connection settings point at the services that provide them.
		env := func(k string) string { return interpolate(t, s.Environment[k], vars) }
		u, err := url.Parse(env("SMARTORCH_MONGO_URI"))
		if err != nil {
			t.Fatalf("service %s: SMARTORCH_MONGO_URI: %v", name, err)
		}
		mongo, ok := c.Services[u.Hostname()]
		if !ok {
			t.Errorf("service %s: the Mongo URI's host %s is not a service", name, u.Hostname())
		}
		if u.User == nil || u.User.Username() == "" {
			t.Errorf("service %s: the Mongo URI has no credentials", name)
		} else {
			pw, _ := u.User.Password()
			if u.User.Username() != mongo.Environment["SMARTORCH_DB_USER"] || pw != interpolate(t, mongo.Environment["SMARTORCH_DB_PASSWORD"], vars) {
				t.Errorf("service %s: the Mongo URI's user is not the one service %s creates", name, u.Hostname())
			}
		}
		db := strings.TrimPrefix(u.Path, "/")
		if db != env("SMARTORCH_MONGO_DATABASE") || db != mongo.Environment["SMARTORCH_DB_NAME"] || u.Query().Get("authSource") != db {
			t.Errorf("service %s: Mongo database %q, SMARTORCH_MONGO_DATABASE %q, the user's database %q and authSource %q differ", name, db, env("SMARTORCH_MONGO_DATABASE"), mongo.Environment["SMARTORCH_DB_NAME"], u.Query().Get("authSource"))
		}
		if dep, ok := s.DependsOn[u.Hostname()]; !ok || dep.Condition != "service_healthy" {
			t.Errorf("service %s does not wait for %s to be healthy", name, u.Hostname())
		}
		host, port, err := net.SplitHostPort(env("SMARTORCH_TEMPORAL_ADDRESS"))
		if _, ok := c.Services[host]; err != nil || !ok || port != "7233" {
			t.Errorf("service %s: SMARTORCH_TEMPORAL_ADDRESS %q is not a service's port 7233", name, env("SMARTORCH_TEMPORAL_ADDRESS"))
		}
		ns := env("SMARTORCH_TEMPORAL_NAMESPACE")
		nsReady := false
		for dep, d := range s.DependsOn {
			if c.Services[dep].Environment["NAMESPACE"] == ns && d.Condition == "service_completed_successfully" {
				nsReady = true
			}
		}
		if !nsReady {
			t.Errorf("service %s does not wait for a one-shot service registering Temporal namespace %q", name, ns)
		}
		p, err := url.Parse(env("SMARTORCH_PROMETHEUS_URL"))
		if err != nil || p.Port() != "9090" || !strings.HasPrefix(c.Services[p.Hostname()].Image, "prom/prometheus:") {
			t.Errorf("service %s: SMARTORCH_PROMETHEUS_URL %q is not the Prometheus service", name, env("SMARTORCH_PROMETHEUS_URL"))
		}
		if dir := env("SMARTORCH_CACHE_DIR"); dir != "" {
			if m, ok := s.mountAt(t, name, dir); !ok || m.bind {
				t.Errorf("service %s: SMARTORCH_CACHE_DIR %s is not on a named volume", name, dir)
			}
		}
	}
	// Named volumes on the non-root image start with the ownership of the
	// image's directory: each must be one the Dockerfile gives to the user.
	stages := parseDockerfile(t, readFile(t, "Dockerfile"))
	final := stages[len(stages)-1]
	uid, _, _ := strings.Cut(final.last("USER"), ":")
	owned := map[string]bool{}
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		if slices.Contains(f, "--chown="+uid+":"+uid) || slices.Contains(f, "--chown="+uid) {
			owned[f[len(f)-1]] = true
		}
	}
	for name, s := range ours {
		for _, m := range s.mounts(t, name) {
			if !m.bind && !owned[m.target] {
				t.Errorf("service %s mounts volume %s at %s, which the image does not create for user %s: it would be root's", name, m.source, m.target, uid)
			}
		}
	}

	api, worker := c.Services[commands["api"]], c.Services[commands["worker"]]
	if commands["api"] == "" || commands["worker"] == "" {
		t.Fatalf("want one service running `api` and one `worker`, got %v", commands)
	}
	if api.Environment["SMARTORCH_ADMIN_PASSWORD"] == "" {
		t.Error("the API service does not set SMARTORCH_ADMIN_PASSWORD: it cannot create the admin user")
	}
	if worker.Environment["SMARTORCH_ADMIN_PASSWORD"] != "" {
		t.Error("the worker gets SMARTORCH_ADMIN_PASSWORD, which it does not use")
	}
	if len(api.Ports) == 0 {
		t.Error("the API publishes no port")
	}
	if worker.Environment["SMARTORCH_METRICS_DIR"] == "" {
		t.Error("the worker does not set SMARTORCH_METRICS_DIR: joined clusters would never reach Prometheus")
	}
}

// TestComposePrometheus follows the metrics path: the worker writes file_sd
// files into a volume, which Prometheus reads with the configuration
// mounted from deploy/compose, evaluating deploy/prometheus/rules.yaml. The
// configuration (with its paths moved to a temporary directory) passes
// promtool, with a file_sd file of the worker's format.
func TestComposePrometheus(t *testing.T) {
	c, _ := loadCompose(t)
	root := repoRoot(t)
	var promName string
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "prom/prometheus:") {
			promName = name
		}
	}
	if promName == "" {
		t.Fatal("no prom/prometheus service")
	}
	prom := c.Services[promName]
	configPath := "/etc/prometheus/prometheus.yml"
	for _, a := range prom.Command {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			configPath = v
		}
	}
	cfgMount, ok := prom.mountAt(t, promName, configPath)
	if !ok || !cfgMount.bind {
		t.Fatalf("service %s does not mount its configuration %s from the repository", promName, configPath)
	}
	var cfg struct {
		RuleFiles     []string `json:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `json:"job_name"`
			FileSDConfigs []struct {
				Files []string `json:"files"`
			} `json:"file_sd_configs"`
		} `json:"scrape_configs"`
	}
	cfgText := readFile(t, cfgMount.source)
	if err := yaml.Unmarshal([]byte(cfgText), &cfg); err != nil {
		t.Fatalf("%s: %v", cfgMount.source, err)
	}

	// The rules are deploy/prometheus/rules.yaml, mounted where rule_files says.
	if len(cfg.RuleFiles) == 0 {
		t.Error("the Prometheus configuration loads no rule files")
	}
	for _, rf := range cfg.RuleFiles {
		m, ok := prom.mountAt(t, promName, rf)
		if !ok || path.Clean(m.source) != "deploy/prometheus/rules.yaml" && path.Clean(m.source) != "./deploy/prometheus/rules.yaml" {
			t.Errorf("rule file %s is not deploy/prometheus/rules.yaml mounted (got %+v)", rf, m)
		}
	}

	// Job node-exporter reads file_sd files from the volume the worker writes.
	var sdGlob string
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName == "node-exporter" {
			for _, sd := range sc.FileSDConfigs {
				sdGlob = sd.Files[0]
			}
		}
	}
	if sdGlob == "" {
		t.Fatal(`no scrape config "node-exporter" with file_sd_configs: the recording rules select job="node-exporter"`)
	}
	if path.Ext(sdGlob) != ".json" {
		t.Errorf("file_sd files %s: the worker writes <cluster>.json", sdGlob)
	}
	sdDir := path.Dir(sdGlob)
	sdMount, ok := prom.mountAt(t, promName, sdDir)
	if !ok || sdMount.bind {
		t.Fatalf("Prometheus's file_sd directory %s is not a named volume", sdDir)
	}
	var writer string
	for name, s := range smartorchServices(c) {
		dir := s.Environment["SMARTORCH_METRICS_DIR"]
		if dir == "" {
			continue
		}
		writer = name
		m, ok := s.mountAt(t, name, dir)
		if !ok || m.source != sdMount.source {
			t.Errorf("service %s writes file_sd files to %s, which is not volume %s that Prometheus reads", name, dir, sdMount.source)
		}
		if m.readOnly {
			t.Errorf("service %s mounts its metrics directory read-only", name)
		}
	}
	if writer == "" {
		t.Fatal("no service sets SMARTORCH_METRICS_DIR")
	}

	// promtool, on a copy whose container paths point into a temporary directory.
	promtool := findPromtool(t)
	dir := t.TempDir()
	moved := cfgText
	for _, rf := range cfg.RuleFiles {
		local := filepath.Join(dir, "rules", path.Base(rf))
		copyFile(t, filepath.Join(root, "deploy/prometheus/rules.yaml"), local)
		moved = strings.ReplaceAll(moved, rf, local)
	}
	sdLocal := filepath.Join(dir, "file_sd")
	if err := os.MkdirAll(sdLocal, 0o755); err != nil {
		t.Fatal(err)
	}
	moved = strings.ReplaceAll(moved, sdDir+"/", sdLocal+"/")
	// What activities.RegisterMetrics writes for a joined cluster.
	sd, _ := json.Marshal([]map[string]any{{"targets": []string{"10.0.0.1:9100", "10.0.0.2:9100"}, "labels": map[string]string{"cluster_name": "edge-1"}}})
	if err := os.WriteFile(filepath.Join(sdLocal, "edge-1.json"), sd, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgLocal := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgLocal, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "config", cfgLocal).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`SUCCESS: [1-9][0-9]* rules found`).Match(out) {
		t.Errorf("promtool found no rules:\n%s", out)
	}
}

func findPromtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	// hack/tools.sh links the Debian prometheus, whose package has promtool beside it.
	if bin := os.Getenv("SMARTORCH_TOOLS_BIN"); bin != "" {
		if p, err := filepath.EvalSymlinks(filepath.Join(bin, "prometheus")); err == nil {
			if pt := filepath.Join(filepath.Dir(p), "promtool"); fileExists(pt) {
				return pt
			}
		}
	}
	t.Fatal("promtool not found: it comes with Prometheus, which hack/tools.sh installs (eval \"$(hack/tools.sh)\")")
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestComposeTemporal checks the Temporal services' wiring: the dynamic
// configuration file the server is pointed at is mounted and passes
// Temporal's own loader, the schema script names schemas this Temporal
// version embeds, and the scripts are valid sh.
func TestComposeTemporal(t *testing.T) {
	c, _ := loadCompose(t)
	var server, schemaName string
	for name, s := range c.Services {
		if strings.HasPrefix(s.Image, "temporalio/server:") {
			server = name
		}
		if slices.Contains(s.Entrypoint, "/scripts/setup-schema.sh") {
			schemaName = name
		}
	}
	if server == "" || schemaName == "" {
		t.Fatalf("want a temporalio/server service and a schema service, got %q and %q", server, schemaName)
	}
	s := c.Services[server]
	if s.Environment["DB"] != "postgres12" {
		t.Errorf("Temporal persistence DB=%q, want postgres12", s.Environment["DB"])
	}
	if _, ok := c.Services[s.Environment["POSTGRES_SEEDS"]]; !ok {
		t.Errorf("POSTGRES_SEEDS %q is not a service", s.Environment["POSTGRES_SEEDS"])
	}
	if d, ok := s.DependsOn[schemaName]; !ok || d.Condition != "service_completed_successfully" {
		t.Errorf("Temporal does not wait for %s to complete", schemaName)
	}
	dc := s.Environment["DYNAMIC_CONFIG_FILE_PATH"]
	m, ok := s.mountAt(t, server, dc)
	if dc == "" || !ok || !m.bind {
		t.Fatalf("DYNAMIC_CONFIG_FILE_PATH %q is not a file mounted from the repository (the image has none)", dc)
	}
	loaded := dynamicconfig.LoadYamlFile([]byte(readFile(t, m.source)))
	if err := loaded.Err(); err != nil {
		t.Errorf("%s: %v", m.source, err)
	}
	for _, w := range loaded.Warnings {
		t.Errorf("%s: %v", m.source, w)
	}
	if len(loaded.Map) == 0 {
		t.Errorf("%s sets nothing", m.source)
	}

	// The schemas the script applies exist in this Temporal version.
	script := readFile(t, "deploy/compose/temporal/setup-schema.sh")
	embedded := temporalschema.PathsByDB("postgresql")
	found := regexp.MustCompile(`postgresql/v12/[a-z]+`).FindAllString(script, -1)
	if len(found) != 2 {
		t.Errorf("setup-schema.sh names schemas %v, want the temporal and visibility ones", found)
	}
	for _, name := range found {
		if !slices.Contains(embedded, name) {
			t.Errorf("setup-schema.sh applies %s, not one of Temporal's embedded schemas %v", name, embedded)
		}
	}
	sc := c.Services[schemaName]
	if sc.Environment["SQL_PLUGIN"] != s.Environment["DB"] || sc.Environment["SQL_HOST"] != s.Environment["POSTGRES_SEEDS"] || sc.Environment["SQL_USER"] != s.Environment["POSTGRES_USER"] || sc.Environment["SQL_PASSWORD"] != s.Environment["POSTGRES_PWD"] {
		t.Errorf("the schema service's database settings differ from the server's: %v vs %v", sc.Environment, s.Environment)
	}

	for _, f := range []string{"deploy/compose/temporal/setup-schema.sh", "deploy/compose/temporal/create-namespace.sh"} {
		if out, err := exec.Command("sh", "-n", filepath.Join(repoRoot(t), f)).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", f, err, out)
		}
	}
}

// TestComposeCreateNamespaceScript runs deploy/compose/temporal/create-namespace.sh
// with the temporal CLI against a real Temporal server, twice: it creates
// the namespace, then finds it.
func TestComposeCreateNamespaceScript(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Temporal: true})
	bin := os.Getenv("SMARTORCH_TOOLS_BIN") // testenv.Start failed the test if unset
	script := filepath.Join(repoRoot(t), "deploy/compose/temporal/create-namespace.sh")
	run := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
			"TEMPORAL_ADDRESS="+env.Temporal.Address, "NAMESPACE=compose-test", "RETENTION=24h")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("create-namespace.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run(); !strings.Contains(out, "created") {
		t.Errorf("first run: %s", out)
	}
	if out := run(); !strings.Contains(out, "exists") {
		t.Errorf("second run: %s", out)
	}
	out, err := exec.Command(filepath.Join(bin, "temporal"), "operator", "namespace", "describe", "--namespace", "compose-test", "--address", env.Temporal.Address, "-o", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"24h`) && !strings.Contains(string(out), "86400s") {
		t.Errorf("namespace retention is not 24h:\n%s", out)
	}
}
