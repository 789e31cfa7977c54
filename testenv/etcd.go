package testenv

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// etcd is the one etcd all clusters of an Env share; each API server keeps
// its objects under its own --etcd-prefix.
type etcd struct {
	url  string
	proc *process
}

func startEtcd(dir string) (*etcd, error) {
	bin, err := tool("etcd")
	if err != nil {
		return nil, err
	}
	clientPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	proc, err := startProcess("etcd", filepath.Join(dir, "etcd.log"), bin,
		"--name=testenv",
		"--data-dir="+filepath.Join(dir, "data"),
		"--listen-client-urls="+clientURL,
		"--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=testenv="+peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	if err != nil {
		return nil, err
	}
	e := &etcd{url: clientURL, proc: proc}
	err = waitFor("etcd", 30*time.Second, func() (bool, error) {
		resp, err := http.Get(clientURL + "/health")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), `"health":"true"`) {
			return false, fmt.Errorf("etcd health: %s", body)
		}
		return true, nil
	}, proc)
	if err != nil {
		proc.stop(time.Second)
		return nil, err
	}
	return e, nil
}
