package devstack

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	tlog "go.temporal.io/server/common/log"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives/timestamp"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// TemporalOptions configure the embedded Temporal server.
type TemporalOptions struct {
	// DBFile is the SQLite file that holds all Temporal state.
	DBFile string
	// IP and Port of the frontend gRPC endpoint; Port 0 picks a free one.
	IP   string
	Port int
	// Namespace is created on first start.
	Namespace string
}

// Temporal is an embedded, single-process Temporal server persisting to SQLite.
type Temporal struct {
	server  temporal.Server
	Address string
}

// StartTemporal starts the server and returns once its frontend is listening.
func StartTemporal(opts TemporalOptions) (*Temporal, error) {
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	sqlCfg := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: opts.DBFile,
		ConnectAttributes: map[string]string{
			"mode":          "rwc",
			"_journal_mode": "wal",
			"_synchronous":  "normal",
		},
	}
	if _, err := os.Stat(opts.DBFile); os.IsNotExist(err) {
		if err := os.MkdirAll(filepath.Dir(opts.DBFile), 0o700); err != nil {
			return nil, err
		}
		if err := sqliteschema.SetupSchema(sqlCfg); err != nil {
			return nil, fmt.Errorf("temporal schema: %w", err)
		}
	}
	const clusterName = "active"
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, nil)
	if err != nil {
		return nil, err
	}
	ns.Detail.Config.Retention = timestamp.DurationPtr(7 * 24 * time.Hour)
	if err := sqliteschema.CreateNamespaces(sqlCfg, ns); err != nil {
		return nil, fmt.Errorf("temporal namespace: %w", err)
	}

	ports, err := FreePorts(opts.IP, 8)
	if err != nil {
		return nil, err
	}
	if opts.Port != 0 {
		ports[0] = opts.Port
	}
	frontend := net.JoinHostPort(opts.IP, strconv.Itoa(ports[0]))
	service := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnIP: opts.IP}}
	}
	cfg := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: opts.IP},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": service(ports[0], ports[1]),
			"history":  service(ports[2], ports[3]),
			"matching": service(ports[4], ports[5]),
			"worker":   service(ports[6], ports[7]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}

	// Temporal logs a lot at info level; an embedded server only needs its warnings.
	logger := tlog.NewZapLogger(tlog.BuildZapLogger(tlog.Config{Level: "warn", Format: "json"}))
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithLogger(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("temporal start: %w", err)
	}
	return &Temporal{server: srv, Address: frontend}, nil
}

// Stop shuts the server down.
func (t *Temporal) Stop() error { return t.server.Stop() }

// FreePorts reserves n distinct free TCP ports on ip and releases them for the caller.
func FreePorts(ip string, n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
