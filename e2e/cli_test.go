package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smartorch/smartorch/testenv"
)

// TestCLILifecycle drives the whole lifecycle through the smartorch
// binary, as an operator would, against `smartorch dev` (a subprocess)
// and two testenv clusters: it checks the printed steps and exit codes,
// a Ctrl-C that stops waiting but not the operation, an operation that
// waits for an operator during an API server outage and `op retry`, a
// failed operation, and usage and API errors.
func TestCLILifecycle(t *testing.T) {
	env := testenv.Start(t, testenv.Options{
		ChartRepo: true,
		Clusters: []testenv.ClusterOptions{
			{Name: "cloud", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{PodCIDR: "10.217.0.0/24"}}},
			{Name: "edge-1", Workloads: true, StorageClass: "standard", Nodes: []testenv.NodeOptions{{CPU: "4", Memory: "8Gi", PodCIDR: "10.218.0.0/24"}}},
		},
	})
	s := startCLI(t, env)
	cloud, edge := env.Clusters[0], env.Clusters[1]

	t.Run("login", func(t *testing.T) {
		r := s.runInput("not the password\n", "login", s.url, "--password-stdin")
		r.wantExit(t, 1)
		r.wantStderr(t, "wrong username or password", "request id")
		s.runInput(s.password+"\n", "login", s.url, "--password-stdin").wantExit(t, 0)
		info, err := os.Stat(filepath.Join(s.configHome, "smartorch", "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("config file mode %o, want 600", mode)
		}
	})

	joinSteps := []string{"✓ reach the API server", "✓ check the nodes are Ready", "✓ check for a default StorageClass", "✓ enable the cluster", "JoinCluster completed in"}
	t.Run("join the cloud", func(t *testing.T) {
		r := s.run("cluster", "join", "cloud", "--kubeconfig", cloud.KubeconfigPath, "--description", "the cloud")
		r.wantExit(t, 0)
		r.wantStdout(t, append(joinSteps, "cluster cloud is Enabled: cloud cluster, Kubernetes v1.")...)
		r.wantSecretsKept(t, cloud)
	})

	t.Run("join an edge through an outage: Ctrl-C, the operator wait, op retry", func(t *testing.T) {
		must(t, edge.StopAPIServer())
		started := s.start("cluster", "join", "edge-1", "--kubeconfig", edge.KubeconfigPath)
		line := started.waitForLine(t, regexp.MustCompile(`^operation (cluster-join-\S+)$`))
		id := strings.TrimPrefix(line, "operation ")
		time.Sleep(2 * time.Second) // some attempts of the first step
		r := started.interrupt(t)
		r.wantExit(t, 130)
		r.wantStderr(t, "Stopped waiting; operation "+id+" goes on", "smartorch op watch "+id)

		var op struct{ State, Step string }
		get := s.run("op", "get", id, "-o", "json")
		get.wantExit(t, 0)
		must(t, json.Unmarshal([]byte(get.stdout), &op))
		if op.State != "Running" && op.State != "WaitingForOperator" || op.Step != "reach the API server" {
			t.Errorf("after Ctrl-C the operation is %+v, want it going on at its first step", op)
		}

		// The step uses up its retries (about 30s), then waits for an operator.
		r = s.run("op", "watch", id)
		r.wantExit(t, 1)
		r.wantStdout(t, "reach the API server: attempt")
		r.wantStderr(t, "waits for an operator", `step "reach the API server"`, "smartorch op retry "+id, "smartorch op abort "+id)

		must(t, edge.StartAPIServer())
		r = s.run("op", "retry", id)
		r.wantExit(t, 0)
		r.wantStdout(t, joinSteps...)
		s.run("cluster", "get", "edge-1").wantStdout(t, "edge-1", "edge", "Enabled")
	})

	t.Run("read clusters", func(t *testing.T) {
		r := s.run("cluster", "ls")
		r.wantExit(t, 0)
		r.wantStdout(t, "NAME     ROLE    STATUS    VERSION", "cloud    cloud   Enabled", "edge-1   edge    Enabled")
		r.wantSecretsKept(t, cloud, edge)
		r = s.run("cluster", "nodes", "edge-1")
		r.wantExit(t, 0)
		r.wantStdout(t, "NAME", "STATUS", edge.Nodes[0].Name, "Ready")
		for _, format := range []string{"json", "yaml"} {
			r = s.run("cluster", "ls", "-o", format)
			r.wantExit(t, 0)
			r.wantStdout(t, "edge-1", "Enabled")
			r.wantSecretsKept(t, cloud, edge)
		}
		r = s.run("cluster", "get", "nope")
		r.wantExit(t, 1)
		r.wantStderr(t, `cluster "nope" not found`, "HTTP 404", "request id ")
	})

	t.Run("repository", func(t *testing.T) {
		s.run("repo", "add", "test", env.ChartRepo.URL).wantStdout(t, "repository test added")
		r := s.run("repo", "charts", "test")
		r.wantExit(t, 0)
		r.wantStdout(t, "CHART", "test/web", "0.2.0,0.1.0")
	})

	t.Run("preview", func(t *testing.T) {
		r := s.run("placement", "preview", "web", "--chart", "test/web", "--set", "replicaCount=2", "--policy", "best-fit")
		r.wantExit(t, 0)
		r.wantStdout(t, "web would go to edge-1", "CLUSTER", "VERDICT", "CHOSEN", "fits; the cloud is only a fallback when no edge fits")
	})

	t.Run("deploy, upgrade, rollback", func(t *testing.T) {
		r := s.run("enabler", "deploy", "web", "--chart", "test/web", "--version", "0.1.0", "--set", "replicaCount=2", "--policy", "best-fit")
		r.wantExit(t, 0)
		r.wantStdout(t, "✓ resolve the chart and compute its demand", "✓ place the enabler and record the decision", "✓ install the release",
			"✓ wait until the release is ready", "InstantiateEnabler completed in",
			"enabler web is Enabled on edge-1: chart test/web 0.1.0, Helm revision 1",
			"Decision: policy best-fit, applied best-fit, demand 200m CPU, 256Mi memory in total", "CHOSEN")

		r = s.run("enabler", "upgrade", "web", "--version", "0.2.0", "--set", "replicaCount=3", "--reuse-values")
		r.wantExit(t, 0)
		r.wantStdout(t, "✓ upgrade the release", "UpgradeEnabler completed in", "enabler web is Enabled on edge-1: chart test/web 0.2.0, Helm revision 2")

		r = s.run("enabler", "rollback", "web")
		r.wantExit(t, 0)
		r.wantStdout(t, "RollbackEnabler completed in", "enabler web is Enabled on edge-1: chart test/web 0.1.0, Helm revision 3")

		r = s.run("enabler", "history", "web", "-o", "json")
		r.wantExit(t, 0)
		var revisions []struct{ Revision int }
		must(t, json.Unmarshal([]byte(r.stdout), &revisions))
		if len(revisions) != 3 {
			t.Errorf("history: %s, want 3 revisions", r.stdout)
		}
		r = s.run("enabler", "ls")
		r.wantExit(t, 0)
		r.wantStdout(t, "NAME", "CHART", "web", "test/web", "edge-1", "Enabled", "best-fit")
	})

	t.Run("a failed operation exits 1 with the reason", func(t *testing.T) {
		r := s.run("enabler", "deploy", "huge", "--chart", "test/huge", "--policy", "worst-fit")
		r.wantExit(t, 1)
		r.wantStdout(t, "InstantiateEnabler failed after")
		r.wantStderr(t, "Error: operation enabler-instantiate-", "failed: ", "no cluster fits")
		s.run("enabler", "rm", "huge").wantExit(t, 0)
	})

	t.Run("terminate and delete", func(t *testing.T) {
		r := s.run("enabler", "terminate", "web")
		r.wantExit(t, 0)
		r.wantStdout(t, "✓ uninstall the release", "TerminateEnabler completed in", "enabler web is Terminated")

		r = s.run("enabler", "rm", "web", "--no-wait")
		r.wantExit(t, 0)
		m := regexp.MustCompile(`operation (enabler-delete-\S+) started`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("--no-wait printed %q, want the operation id", r.stdout)
		}
		r.wantStdout(t, "smartorch op watch "+m[1])
		s.run("op", "watch", m[1]).wantStdout(t, "DeleteEnabler completed in")
		s.run("enabler", "get", "web").wantExit(t, 1)
	})

	t.Run("remove the clusters", func(t *testing.T) {
		r := s.run("cluster", "rm", "cloud")
		r.wantExit(t, 1)
		r.wantStderr(t, "remove the 1 edge clusters first")
		s.run("cluster", "rm", "edge-1").wantStdout(t, "RemoveCluster completed in", "cluster edge-1 removed")
		s.run("cluster", "rm", "cloud").wantStdout(t, "cluster cloud removed")
		r = s.run("cluster", "ls")
		r.wantExit(t, 0)
		if strings.Contains(r.stdout, "cloud") {
			t.Errorf("cluster ls after removal: %q", r.stdout)
		}
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{{"enabler", "deploy", "x"}, {"cluster", "join", "x"}, {"op", "watch"}, {"enabler", "frobnicate"}} {
			r := s.run(args...)
			r.wantExit(t, 2)
			r.wantStderr(t, "Error: ", "--help")
		}
	})
}

// devSession is `smartorch dev` and the CLI's own config directory.
type devSession struct {
	t          *testing.T
	bin        string
	url        string
	password   string
	configHome string
}

// startCLI runs `smartorch dev` and gives the CLI its own config directory.
func startCLI(t *testing.T, env *testenv.Env) *devSession {
	t.Helper()
	d := startDev(t, env)
	return &devSession{t: t, bin: d.bin, url: d.url, password: adminPassword, configHome: filepath.Join(t.TempDir(), "config")}
}

// cliResult is one run of the CLI.
type cliResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (s *devSession) command(args ...string) *exec.Cmd {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+s.configHome)
	return cmd
}

func (s *devSession) run(args ...string) cliResult { return s.runInput("", args...) }

func (s *devSession) runInput(stdin string, args ...string) cliResult {
	s.t.Helper()
	cmd := s.command(args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	must(s.t, cmd.Start())
	go func() { <-ctx.Done(); _ = cmd.Process.Kill() }()
	err := cmd.Wait()
	r := cliResult{args: args, code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String()}
	if ctx.Err() != nil {
		s.t.Fatalf("smartorch %s did not end within 5 minutes: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, r.stdout, r.stderr)
	}
	s.t.Logf("$ smartorch %s   (exit %d)\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

func (r cliResult) wantExit(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Errorf("smartorch %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, code, r.stdout, r.stderr)
	}
}

func (r cliResult) wantStdout(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("smartorch %s: stdout lacks %q:\n%s\nstderr:\n%s", strings.Join(r.args, " "), w, r.stdout, r.stderr)
		}
	}
}

func (r cliResult) wantStderr(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("smartorch %s: stderr lacks %q:\n%s", strings.Join(r.args, " "), w, r.stderr)
		}
	}
}

// wantSecretsKept: nothing printed carries a cluster's credentials.
func (r cliResult) wantSecretsKept(t *testing.T, clusters ...*testenv.Cluster) {
	t.Helper()
	for _, c := range clusters {
		for _, s := range clusterSecrets(t, c) {
			if s.in([]byte(r.stdout + r.stderr)) {
				t.Errorf("smartorch %s printed %s", strings.Join(r.args, " "), s.name)
			}
		}
	}
}

// started is a CLI run in the background.
type started struct {
	cmd    *exec.Cmd
	lines  chan string
	stdout *syncBuffer
	stderr *syncBuffer
	args   []string
}

func (s *devSession) start(args ...string) *started {
	s.t.Helper()
	cmd := s.command(args...)
	p := &started{cmd: cmd, lines: make(chan string, 100), stdout: &syncBuffer{}, stderr: &syncBuffer{}, args: args}
	pipe, err := cmd.StdoutPipe()
	must(s.t, err)
	cmd.Stderr = p.stderr
	must(s.t, cmd.Start())
	s.t.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.stdout.Write([]byte(sc.Text() + "\n"))
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	return p
}

// waitForLine waits for a line of stdout matching re.
func (p *started) waitForLine(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("smartorch %s ended without a line matching %s:\n%s%s", strings.Join(p.args, " "), re, p.stdout.String(), p.stderr.String())
			}
			if re.MatchString(line) {
				return line
			}
		case <-timeout:
			t.Fatalf("smartorch %s printed no line matching %s in a minute:\n%s", strings.Join(p.args, " "), re, p.stdout.String())
		}
	}
}

// interrupt sends SIGINT, as Ctrl-C does, and waits for the exit.
func (p *started) interrupt(t *testing.T) cliResult {
	t.Helper()
	must(t, p.cmd.Process.Signal(os.Interrupt))
	for range p.lines {
	}
	_ = p.cmd.Wait()
	r := cliResult{args: p.args, code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
	t.Logf("$ smartorch %s   (Ctrl-C, exit %d)\n%s%s", strings.Join(p.args, " "), r.code, r.stdout, r.stderr)
	return r
}
