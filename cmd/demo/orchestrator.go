package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// orchestrator is `smartorch dev` running as a child process.
type orchestrator struct {
	bin                           string // built when empty
	apiPort, temporalPort, uiPort int
	dataDir, prometheusURL        string
	password                      string
	verbose                       bool

	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	exitErr error
}

func (o *orchestrator) apiURL() string { return "http://127.0.0.1:" + strconv.Itoa(o.apiPort) }

func (o *orchestrator) workflowsURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(o.uiPort) + "/namespaces/default/workflows"
}

func (o *orchestrator) start(ctx context.Context) error {
	if o.bin == "" {
		bin, err := buildSmartorch(ctx, o.dataDir)
		if err != nil {
			return err
		}
		o.bin = bin
	}
	o.logPath = filepath.Join(o.dataDir, "smartorch.log")
	logFile, err := os.Create(o.logPath)
	if err != nil {
		return err
	}
	var out io.Writer = logFile
	if o.verbose {
		out = io.MultiWriter(logFile, os.Stderr)
	}
	o.cmd = exec.Command(o.bin, "dev")
	o.cmd.Env = append(withoutSmartorchEnv(os.Environ()),
		"SMARTORCH_DATA_DIR="+filepath.Join(o.dataDir, "data"),
		"SMARTORCH_CACHE_DIR="+filepath.Join(o.dataDir, "cache"),
		fmt.Sprintf("SMARTORCH_LISTEN=127.0.0.1:%d", o.apiPort),
		fmt.Sprintf("SMARTORCH_TEMPORAL_PORT=%d", o.temporalPort),
		fmt.Sprintf("SMARTORCH_TEMPORAL_UI_PORT=%d", o.uiPort),
		"SMARTORCH_PROMETHEUS_URL="+o.prometheusURL,
		"SMARTORCH_ADMIN_PASSWORD="+o.password,
	)
	o.cmd.Stdout, o.cmd.Stderr = out, out
	// Its own process group: the terminal's Ctrl-C reaches the demo only,
	// which stops the orchestrator in order. Pdeathsig: it dies with the demo.
	o.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Printf("  %s dev   (data in %s)\n", o.bin, o.dataDir)
	if err := o.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start smartorch dev: %w", err)
	}
	o.done = make(chan struct{})
	go func() {
		o.exitErr = o.cmd.Wait()
		logFile.Close()
		close(o.done)
	}()
	return nil
}

func (o *orchestrator) started() bool { return o.cmd != nil && o.cmd.Process != nil }

// withoutSmartorchEnv drops SMARTORCH_* variables (other than the tools
// directory) so a developer's settings do not point the demo elsewhere.
func withoutSmartorchEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "SMARTORCH_") && !strings.HasPrefix(kv, "SMARTORCH_TOOLS") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// buildSmartorch builds ./cmd/smartorch of the module the demo runs in.
func buildSmartorch(ctx context.Context, dir string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		return "", fmt.Errorf("cannot find the smartorch module to build (run from the repository, or pass -smartorch): %v", err)
	}
	bin := filepath.Join(dir, "smartorch")
	fmt.Println("  building ./cmd/smartorch …")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/smartorch")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/smartorch: %v\n%s", err, stderr.String())
	}
	return bin, nil
}

// waitReady polls /readyz until it answers 200.
func (o *orchestrator) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-o.done:
			return fmt.Errorf("smartorch dev exited (%v) before it was ready; its log ends:\n%s", o.exitErr, o.logTail(30))
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", o.apiURL()+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("smartorch dev is not ready after %v; its log ends:\n%s", timeout, o.logTail(30))
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// stop sends SIGTERM and waits for a clean exit, then kills.
func (o *orchestrator) stop() {
	if !o.started() {
		return
	}
	select {
	case <-o.done:
		return
	default:
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-o.done:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "smartorch dev did not stop within 30s of SIGTERM; killing it")
		_ = syscall.Kill(-o.cmd.Process.Pid, syscall.SIGKILL)
		<-o.done
	}
}

func (o *orchestrator) logTail(n int) string {
	data, err := os.ReadFile(o.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
