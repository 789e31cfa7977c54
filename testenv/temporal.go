package testenv

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	temporallog "go.temporal.io/sdk/log"
)

// Temporal is a Temporal dev server (`temporal server start-dev`, CLI
// v1.5.1). Its store is in memory unless Options.TemporalPersistent.
type Temporal struct {
	// Address is the frontend's host:port for client.Options.HostPort.
	Address string
	// Namespace exists on the server ("default").
	Namespace string
	// UIURL is the Web UI, empty unless Options.TemporalUI.
	UIURL string

	bin, logPath string
	args         []string
	track        func(*process)

	mu   sync.Mutex
	proc *process
}

func startTemporal(dir string, ui, persistent bool, track func(*process)) (*Temporal, error) {
	bin, err := tool("temporal")
	if err != nil {
		return nil, err
	}
	// A free port can be taken by another process before the server binds
	// it (the dev server also picks ports of its own): start again on new
	// ones rather than fail the test.
	for attempt := 1; ; attempt++ {
		t, err := startTemporalOnFreePorts(bin, dir, ui, persistent, track)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return t, err
		}
	}
}

func startTemporalOnFreePorts(bin, dir string, ui, persistent bool, track func(*process)) (*Temporal, error) {
	ports := make([]int, 4)
	for i := range ports {
		var err error
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	t := &Temporal{Address: "127.0.0.1:" + strconv.Itoa(ports[0]), Namespace: "default",
		bin: bin, logPath: filepath.Join(dir, "temporal.log"), track: track}
	t.args = []string{"server", "start-dev",
		"--ip=127.0.0.1",
		"--port=" + strconv.Itoa(ports[0]),
		"--http-port=" + strconv.Itoa(ports[1]),
		"--metrics-port=" + strconv.Itoa(ports[2]),
		"--log-level=warn",
	}
	if persistent {
		t.args = append(t.args, "--db-filename="+filepath.Join(dir, "temporal.db"))
	}
	if ui {
		t.UIURL = "http://127.0.0.1:" + strconv.Itoa(ports[3])
		t.args = append(t.args, "--ui-port="+strconv.Itoa(ports[3]))
	} else {
		t.args = append(t.args, "--headless")
	}
	if err := t.start(); err != nil {
		return nil, err
	}
	return t, nil
}

// start runs the server and waits until it answers a health check.
func (t *Temporal) start() error {
	p, err := startProcess("temporal", t.logPath, t.bin, t.args...)
	if err != nil {
		return err
	}
	t.proc = p
	t.track(p)
	quiet := temporallog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	err = waitFor("temporal", time.Minute, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, client.Options{HostPort: t.Address, Namespace: t.Namespace, Logger: quiet})
		if err != nil {
			return false, err
		}
		defer c.Close()
		_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err == nil, err
	}, p)
	if err != nil {
		p.stop(time.Second)
	}
	return err
}

// Kill stops the server abruptly (SIGKILL), as a crash would, and waits
// until it has exited. Clients fail or wait until Start.
func (t *Temporal) Kill() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.proc.exited() {
		return errors.New("temporal is not running")
	}
	t.proc.kill()
	return nil
}

// Start starts the server again after Kill, on the same ports and, with
// Options.TemporalPersistent, the same database: workflows carry on where
// they were. Without it the server starts empty.
func (t *Temporal) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.proc.exited() {
		return errors.New("temporal is already running")
	}
	return t.start()
}

func (t *Temporal) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proc.stop(stopGrace)
}
