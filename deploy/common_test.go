package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// repoRoot is the repository root, the parent of this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var configEnvRe = regexp.MustCompile(`"(SMARTORCH_[A-Z0-9_]+)"`)

// configEnv is every SMARTORCH_* variable cmd/smartorch/config.go reads.
func configEnv(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, m := range configEnvRe.FindAllStringSubmatch(readFile(t, "cmd/smartorch/config.go"), -1) {
		names[m[1]] = true
	}
	// The secrets and the settings every production part needs must be among them.
	for _, n := range []string{"SMARTORCH_SECRET_KEY", "SMARTORCH_ADMIN_PASSWORD", "SMARTORCH_MONGO_URI", "SMARTORCH_TEMPORAL_ADDRESS", "SMARTORCH_METRICS_DIR", "SMARTORCH_PROMETHEUS_URL"} {
		if !names[n] {
			t.Fatalf("cmd/smartorch/config.go does not read %s (found %v)", n, sortedKeys(names))
		}
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// goCmd runs the go command in the repository root with GOTOOLCHAIN=auto
// (go.mod may ask for a newer toolchain than the one on PATH).
func goCmd(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(append(os.Environ(), "GOTOOLCHAIN=auto"), env...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// imageRef splits repository[:tag][@digest].
func imageRef(ref string) (repo, tag, digest string) {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref, tag = ref[:i], ref[i+1:]
	}
	return ref, tag, digest
}

var digestRe = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkPinned fails unless ref has an exact tag (not latest) and, when
// needDigest, a sha256 digest.
func checkPinned(t *testing.T, where, ref string, needDigest bool) {
	t.Helper()
	_, tag, digest := imageRef(ref)
	switch {
	case tag == "":
		t.Errorf("%s: image %q has no tag", where, ref)
	case tag == "latest" || strings.HasPrefix(tag, "$"):
		t.Errorf("%s: image %q is not pinned to a version", where, ref)
	}
	if digest != "" && !digestRe.MatchString(digest) {
		t.Errorf("%s: image %q: malformed digest", where, ref)
	}
	if needDigest && digest == "" {
		t.Errorf("%s: image %q is not pinned by digest", where, ref)
	}
}
