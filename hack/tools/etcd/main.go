// Command etcd is etcd v3.6.16 built from the Go module. It lives in its own
// module because etcd's dependencies (grpc, otel) would move the Kubernetes
// tool module's versions under Go's minimal version selection.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
