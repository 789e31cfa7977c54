package testenv_test

import (
	"fmt"
	"testing"

	"github.com/smartorch/smartorch/testenv"
)

// BenchmarkStart measures how long N clusters with workloads take until
// Start returns, i.e. until nodes are Ready and pods can be created.
//
//	go test ./testenv -run '^$' -bench Start -benchtime 3x
func BenchmarkStart(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("clusters=%d", n), func(b *testing.B) {
			var clusters []testenv.ClusterOptions
			for i := range n {
				clusters = append(clusters, testenv.ClusterOptions{Name: fmt.Sprintf("c%d", i), Workloads: true, StorageClass: "standard"})
			}
			for b.Loop() {
				env := testenv.Start(b, testenv.Options{Clusters: clusters})
				b.StopTimer()
				env.Stop()
				b.StartTimer()
			}
		})
	}
}
