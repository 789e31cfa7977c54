package testenv

import (
	"fmt"
	"os"
	"path/filepath"
)

// ToolsBinEnv names the environment variable with the directory of the
// binaries hack/tools.sh builds (`make tools` prints it).
const ToolsBinEnv = "SMARTORCH_TOOLS_BIN"

// tool returns the path of a binary (or file) from SMARTORCH_TOOLS_BIN.
func tool(name string) (string, error) {
	dir := os.Getenv(ToolsBinEnv)
	if dir == "" {
		return "", fmt.Errorf("%s is not set: run `make tools` (hack/tools.sh) and export what it prints", ToolsBinEnv)
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s has no %s (%v): run `make tools` (hack/tools.sh) and export what it prints", ToolsBinEnv, name, err)
	}
	return path, nil
}
