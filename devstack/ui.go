package devstack

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// UI is the embedded Temporal Web UI.
type UI struct {
	server *server.Server
	URL    string
}

// StartUI serves the Temporal Web UI on ip:port for the frontend at temporalAddress.
func StartUI(temporalAddress, ip string, port int, namespace string) (*UI, error) {
	if port == 0 {
		ports, err := FreePorts(ip, 1)
		if err != nil {
			return nil, err
		}
		port = ports[0]
	}
	// The UI server exits the process when it cannot listen, so make sure it can first.
	probe, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("temporal ui: %w", err)
	}
	probe.Close()
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: temporalAddress,
		Host:                ip,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    namespace,
		DisableNewsFetch:    true,
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
	}
	s := server.NewServer(server_options.WithConfigProvider(cfg))
	go func() { _ = s.Start() }()

	addr := net.JoinHostPort(ip, strconv.Itoa(port))
	ui := &UI{server: s, URL: "http://" + addr}
	if err := waitHTTP(ui.URL+"/healthz", 10*time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return ui, nil
}

// Stop closes the UI server.
func (u *UI) Stop() { u.server.Stop() }

func waitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("temporal ui did not become ready at " + url)
}
