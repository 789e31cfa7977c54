//go:build !slim

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/smartorch/smartorch/devstack"
	"github.com/smartorch/smartorch/testenv"
)

// The test binary doubles as smartorch: run with SMARTORCH_TEST_MAIN=1 it
// is the real command, so the dev-mode test runs it as a subprocess.
func TestMain(m *testing.M) {
	if os.Getenv("SMARTORCH_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type devProcess struct {
	cmd    *exec.Cmd
	banner string
	done   chan error
}

// startDev runs `smartorch dev` and waits for its banner.
func startDev(t *testing.T, dataDir string, ports []int) *devProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "dev",
		"--data-dir", dataDir,
		"--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--temporal-port", fmt.Sprint(ports[1]),
		"--ui-port", fmt.Sprint(ports[2]))
	cmd.Env = append(os.Environ(), "SMARTORCH_TEST_MAIN=1", "SMARTORCH_ADMIN_PASSWORD=", "SMARTORCH_SECRET_KEY=")
	cmd.Stderr = t.Output()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, done: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })

	bannerDone := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), `-d '{"username"`) {
				bannerDone <- b.String()
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case p.banner = <-bannerDone:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("smartorch dev exited before it was ready: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("smartorch dev did not print its banner within 2 minutes")
	}
	return p
}

func (p *devProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("smartorch dev did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("smartorch dev did not stop within a minute of SIGTERM")
	}
}

func TestDevModeKeepsStateAcrossRestart(t *testing.T) {
	dataDir := t.TempDir()
	ports, err := devstack.FreePorts("127.0.0.1", 3)
	if err != nil {
		t.Fatal(err)
	}
	apiURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	temporalAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	charts := testenv.StartChartRepo(t)

	dev := startDev(t, dataDir, ports)
	m := regexp.MustCompile(`Password\s+(\S+)`).FindStringSubmatch(dev.banner)
	if m == nil {
		t.Fatalf("the first start prints no admin password:\n%s", dev.banner)
	}
	password := m[1]
	for _, want := range []string{apiURL, fmt.Sprintf("http://127.0.0.1:%d", ports[2]), temporalAddr, "curl"} {
		if !strings.Contains(dev.banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, dev.banner)
		}
	}
	if info, err := os.Stat(filepath.Join(dataDir, "secret.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("secret.key: %v, mode %v; want mode 0600", err, info.Mode().Perm())
	}
	if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", ports[2])); err != nil || resp.StatusCode != 200 {
		t.Errorf("Temporal UI: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	token := login(t, apiURL, password)
	if code := call(t, "POST", apiURL+"/api/chartrepo", token, fmt.Sprintf(`{"name":"testcharts","url":%q}`, charts.URL), nil); code != 201 {
		t.Fatalf("add repository: status %d", code)
	}
	// A workflow on a queue nobody serves stays in history; it must survive the restart.
	tc, err := client.Dial(client.Options{HostPort: temporalAddr})
	if err != nil {
		t.Fatal(err)
	}
	run, err := tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: "restart-probe", TaskQueue: "restart-probe"}, "Probe")
	tc.Close()
	if err != nil {
		t.Fatal(err)
	}

	dev.stop(t)
	dev = startDev(t, dataDir, ports)
	if strings.Contains(dev.banner, password) {
		t.Error("the second start printed the admin password again")
	}

	token = login(t, apiURL, password)
	var repos []struct{ Name string }
	if code := call(t, "GET", apiURL+"/api/chartrepo", token, "", &repos); code != 200 || len(repos) != 1 || repos[0].Name != "testcharts" {
		t.Errorf("repositories after restart: %d %+v", code, repos)
	}
	tc, err = client.Dial(client.Options{HostPort: temporalAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	desc, err := tc.DescribeWorkflowExecution(context.Background(), "restart-probe", run.GetRunID())
	if err != nil {
		t.Fatalf("workflow from before the restart: %v", err)
	}
	if desc.GetWorkflowExecutionInfo().GetType().GetName() != "Probe" {
		t.Errorf("workflow type = %q", desc.GetWorkflowExecutionInfo().GetType().GetName())
	}
	dev.stop(t)
}
