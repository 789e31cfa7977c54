package testenv

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/sdk/client"
	temporallog "go.temporal.io/sdk/log"
)

// Temporal is a Temporal dev server (`temporal server start-dev`, CLI
// v1.5.1) with an in-memory store.
type Temporal struct {
	// Address is the frontend's host:port for client.Options.HostPort.
	Address string
	// Namespace exists on the server ("default").
	Namespace string
	// UIURL is the Web UI, empty unless Options.TemporalUI.
	UIURL string

	proc *process
}

func startTemporal(dir string, ui bool) (*Temporal, error) {
	bin, err := tool("temporal")
	if err != nil {
		return nil, err
	}
	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	t := &Temporal{Address: "127.0.0.1:" + strconv.Itoa(ports[0]), Namespace: "default"}
	args := []string{"server", "start-dev",
		"--ip=127.0.0.1",
		"--port=" + strconv.Itoa(ports[0]),
		"--http-port=" + strconv.Itoa(ports[1]),
		"--metrics-port=" + strconv.Itoa(ports[2]),
		"--log-level=warn",
	}
	if ui {
		t.UIURL = "http://127.0.0.1:" + strconv.Itoa(ports[3])
		args = append(args, "--ui-port="+strconv.Itoa(ports[3]))
	} else {
		args = append(args, "--headless")
	}
	t.proc, err = startProcess("temporal", filepath.Join(dir, "temporal.log"), bin, args...)
	if err != nil {
		return nil, err
	}
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
	}, t.proc)
	if err != nil {
		t.proc.stop(time.Second)
		return nil, err
	}
	return t, nil
}
