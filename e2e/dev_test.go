package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smartorch/smartorch/testenv"
)

// devProcess is `smartorch dev` running as a child process on free ports.
type devProcess struct {
	bin, url, temporalUI string
}

// startDev builds bin/smartorch and runs `smartorch dev` with its data in a
// temporary directory, as cmd/demo does, pointed at env's Prometheus.
func startDev(t *testing.T, env *testenv.Env) *devProcess {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "smartorch")
	build := exec.Command("go", "build", "-o", bin, "github.com/smartorch/smartorch/cmd/smartorch")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/smartorch: %v\n%s", err, out)
	}
	apiPort, temporalPort, uiPort := freePort(t), freePort(t), freePort(t)
	d := &devProcess{bin: bin, url: "http://127.0.0.1:" + strconv.Itoa(apiPort), temporalUI: "http://127.0.0.1:" + strconv.Itoa(uiPort)}
	prometheus := ""
	if env.Prometheus != nil {
		prometheus = env.Prometheus.URL
	}
	cmd := exec.Command(bin, "dev")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SMARTORCH_") || strings.HasPrefix(kv, "SMARTORCH_TOOLS") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"SMARTORCH_DATA_DIR="+filepath.Join(dir, "data"),
		"SMARTORCH_CACHE_DIR="+filepath.Join(dir, "cache"),
		fmt.Sprintf("SMARTORCH_LISTEN=127.0.0.1:%d", apiPort),
		fmt.Sprintf("SMARTORCH_TEMPORAL_PORT=%d", temporalPort),
		fmt.Sprintf("SMARTORCH_TEMPORAL_UI_PORT=%d", uiPort),
		"SMARTORCH_PROMETHEUS_URL="+prometheus,
		"SMARTORCH_ADMIN_PASSWORD="+adminPassword,
	)
	logPath := filepath.Join(env.Dir, "smartorch-dev.log")
	logFile, err := os.Create(logPath)
	must(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("smartorch dev log (%s) ends:\n%s", logPath, tail(string(log), 40))
		}
	})
	eventually(t, 2*time.Minute, "smartorch dev to be ready", func() bool {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("smartorch dev exited: %v\n%s", err, tail(string(log), 40))
		default:
		}
		resp, err := http.Get(d.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return d
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
