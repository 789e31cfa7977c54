package testenv_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smartorch/smartorch/testenv"
)

// fatalRecorder is a testenv.T whose Fatalf stops Start without failing the
// test, so the message can be checked.
type fatalRecorder struct {
	*testing.T
	msg string
}

type fatalStop struct{}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	panic(fatalStop{})
}

func TestStartWithoutToolsFails(t *testing.T) {
	for _, bin := range []string{"", t.TempDir()} {
		t.Setenv(testenv.ToolsBinEnv, bin)
		r := &fatalRecorder{T: t}
		func() {
			defer func() {
				if v := recover(); v != nil && v != (fatalStop{}) {
					panic(v)
				}
			}()
			testenv.Start(r, testenv.Options{Clusters: []testenv.ClusterOptions{{Name: "c"}}})
			t.Errorf("Start returned with %s=%q", testenv.ToolsBinEnv, bin)
		}()
		if !strings.Contains(r.msg, "make tools") {
			t.Errorf("with %s=%q Start failed with %q, want a hint to run make tools", testenv.ToolsBinEnv, bin, r.msg)
		}
	}
}
