package deploy

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

type stage struct {
	from   string // the image reference
	name   string
	instrs []instruction
}

func parseDockerfile(t *testing.T, text string) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			var s stage
			fields := strings.Fields(in.args)
			for _, f := range fields {
				if strings.HasPrefix(f, "--") {
					continue
				}
				if s.from == "" {
					s.from = f
				}
			}
			if n := len(fields); n >= 3 && strings.EqualFold(fields[n-2], "AS") {
				s.name = fields[n-1]
			}
			stages = append(stages, s)
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
			}
			return
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func (s stage) last(cmd string) string {
	all := s.all(cmd)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// versionLess compares dotted versions such as 1.26.9 and 1.26.10.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Fatalf("%s %s: not in exec (JSON) form: %v", what, args, err)
	}
	return v
}

var goDirectiveRe = regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)\s*$`)

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, readFile(t, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	for i, s := range stages {
		checkPinned(t, "Dockerfile stage "+s.name, s.from, true)
		if i < len(stages)-1 && s.name == "" {
			t.Errorf("build stage %d (%s) has no name", i, s.from)
		}
	}
	build, final := stages[0], stages[len(stages)-1]

	// The build stage: a Go toolchain that satisfies go.mod, a static,
	// trimmed binary stamped with its version.
	repo, tag, _ := imageRef(build.from)
	if repo != "golang" {
		t.Fatalf("build stage from %s, want the golang image", build.from)
	}
	env := strings.Join(build.all("ENV"), " ")
	m := goDirectiveRe.FindStringSubmatch(readFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	imageGo := regexp.MustCompile(`^\d+\.\d+(\.\d+)?`).FindString(tag)
	if versionLess(imageGo, m[1]) && !strings.Contains(env, "GOTOOLCHAIN=auto") {
		t.Errorf("the builder has Go %s, go.mod asks for %s, and GOTOOLCHAIN=auto is not set (the golang image sets local)", imageGo, m[1])
	}
	if !strings.Contains(env, "CGO_ENABLED=0") {
		t.Error("the build stage does not set CGO_ENABLED=0: the binary would not be static on distroless/static")
	}
	var goBuild string
	for _, run := range build.all("RUN") {
		if strings.Contains(run, "go build") {
			goBuild = run
		}
	}
	if goBuild == "" {
		t.Fatal("no RUN go build in the build stage")
	}
	for _, want := range []string{"-tags slim", "-trimpath", "-X main.version=${VERSION}", "./cmd/smartorch", "-o /out/smartorch"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build lacks %q: %s", want, goBuild)
		}
	}
	if !regexp.MustCompile(`(?m)^var version = `).MatchString(readFile(t, "cmd/smartorch/main.go")) {
		t.Error("cmd/smartorch/main.go has no `var version`: -X main.version does nothing")
	}
	if !strings.Contains(strings.Join(build.all("ARG"), " "), "VERSION") {
		t.Error("no ARG VERSION in the build stage")
	}

	// The runtime stage: distroless static, non-root, the binary as entrypoint.
	if r, _, _ := imageRef(final.from); !strings.HasPrefix(r, "gcr.io/distroless/static") {
		t.Errorf("runtime stage from %s, want gcr.io/distroless/static*", final.from)
	}
	user := final.last("USER")
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q: want a non-root user", user)
	}
	entry := execForm(t, "ENTRYPOINT", final.last("ENTRYPOINT"))
	if len(entry) != 1 {
		t.Errorf("ENTRYPOINT %v: want just the binary", entry)
	}
	if cmd := execForm(t, "CMD", final.last("CMD")); len(cmd) != 1 || cmd[0] != "api" {
		t.Errorf("CMD %v, want [api]", cmd)
	}
	copied := false
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		if strings.Contains(c, "--from="+build.name) && len(f) >= 2 && f[len(f)-2] == "/out/smartorch" && len(entry) == 1 && f[len(f)-1] == entry[0] {
			copied = true
		}
	}
	if !copied {
		t.Errorf("no COPY --from=%s /out/smartorch %v", build.name, entry)
	}
	names := configEnv(t)
	for _, e := range final.all("ENV") {
		for _, f := range strings.Fields(e) {
			if k, _, ok := strings.Cut(f, "="); ok && !names[k] {
				t.Errorf("runtime ENV %s is not read by cmd/smartorch/config.go", k)
			}
		}
	}
	if len(final.all("HEALTHCHECK")) > 0 {
		t.Error("HEALTHCHECK in a distroless image: it has no shell or HTTP client to run one")
	}
}

// imageBuildTags is the -tags of the Dockerfile's go build, "" if none.
func imageBuildTags(t *testing.T) string {
	t.Helper()
	for _, s := range parseDockerfile(t, readFile(t, "Dockerfile")) {
		for _, run := range s.all("RUN") {
			if strings.Contains(run, "go build") {
				if m := regexp.MustCompile(`-tags[ =]([^ ]+)`).FindStringSubmatch(run); m != nil {
					return m[1]
				}
				return ""
			}
		}
	}
	t.Fatal("no RUN go build in the Dockerfile")
	return ""
}

// smartorchDeps lists the packages of cmd/smartorch built with tags, each
// with its error when it does not build with CGO_ENABLED=0.
func smartorchDeps(t *testing.T, tags string) map[string]string {
	t.Helper()
	out := goCmd(t, []string{"CGO_ENABLED=0", "GOOS=linux"}, "list", "-deps", "-e", "-tags", tags, "-f", "{{.ImportPath}}\t{{if .Error}}{{.Error}}{{end}}", "./cmd/smartorch")
	deps := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		pkg, errText, _ := strings.Cut(line, "\t")
		deps[pkg] = errText
	}
	return deps
}

// TestBinaryCanBeStatic checks what CGO_ENABLED=0 relies on, in the full
// build and the image's: every package of cmd/smartorch builds without cgo,
// and none of them is a cgo-only SQLite binding that would compile to a stub
// (the embedded FerretDB and Temporal use modernc.org/sqlite, pure Go).
func TestBinaryCanBeStatic(t *testing.T) {
	for _, tags := range []string{"", imageBuildTags(t)} {
		deps := smartorchDeps(t, tags)
		for pkg, errText := range deps {
			if errText != "" {
				t.Errorf("-tags %q: %s does not build with CGO_ENABLED=0: %s", tags, pkg, errText)
			}
			if strings.HasPrefix(pkg, "github.com/mattn/go-sqlite3") {
				t.Errorf("-tags %q: %s needs cgo: the static binary would have no SQLite", tags, pkg)
			}
		}
		if _, ok := deps["modernc.org/sqlite"]; !ok && tags == "" {
			t.Log("note: modernc.org/sqlite is no longer a dependency of cmd/smartorch")
		}
	}
}

// TestImageLeavesOutDev checks that the binary the image builds has none of
// what only `smartorch dev` runs, and that the full build still has it.
func TestImageLeavesOutDev(t *testing.T) {
	devOnly := []string{"github.com/smartorch/smartorch/devstack", "go.temporal.io/server", "github.com/temporalio/ui-server", "github.com/FerretDB/FerretDB"}
	has := func(deps map[string]string, prefix string) bool {
		for pkg := range deps {
			if pkg == prefix || strings.HasPrefix(pkg, prefix+"/") {
				return true
			}
		}
		return false
	}
	full, image := smartorchDeps(t, ""), smartorchDeps(t, imageBuildTags(t))
	for _, prefix := range devOnly {
		if has(image, prefix) {
			t.Errorf("the image's build (-tags %q) has %s, which only `smartorch dev` needs", imageBuildTags(t), prefix)
		}
		if !has(full, prefix) {
			t.Errorf("the full build has no %s: does `smartorch dev` still embed it? Update this test", prefix)
		}
	}
}

// dockerignore is a .dockerignore's patterns, matched the way Docker does
// for the simple patterns it uses (no "!" exceptions): a path is excluded
// when it or one of its parent directories matches a pattern; "**" matches
// any number of directories.
type dockerignore []string

func parseDockerignore(t *testing.T, text string) dockerignore {
	t.Helper()
	var d dockerignore
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exception %q: the test's matcher does not support exceptions", line)
		}
		d = append(d, path.Clean(strings.TrimPrefix(line, "/")))
	}
	return d
}

func (d dockerignore) excluded(rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		for _, p := range d {
			if globMatch(strings.Split(p, "/"), strings.Split(prefix, "/")) {
				return true
			}
		}
	}
	return false
}

func globMatch(pattern, name []string) bool {
	if len(pattern) == 0 {
		return len(name) == 0
	}
	if pattern[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if globMatch(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	if ok, _ := path.Match(pattern[0], name[0]); !ok {
		return false
	}
	return globMatch(pattern[1:], name[1:])
}

// TestDockerContext checks that .dockerignore leaves in the build context
// every file the image's `go build ./cmd/smartorch` reads (go.mod, go.sum,
// the Go and embedded files of the module's packages it imports) and keeps
// secrets and version control out.
func TestDockerContext(t *testing.T) {
	ignore := parseDockerignore(t, readFile(t, ".dockerignore"))
	root := repoRoot(t)
	type pkg struct {
		ImportPath string
		Dir        string
		Module     *struct{ Path string }
		GoFiles    []string
		EmbedFiles []string
	}
	out := goCmd(t, []string{"CGO_ENABLED=0", "GOOS=linux"}, "list", "-deps", "-tags", imageBuildTags(t), "-json=ImportPath,Dir,Module,GoFiles,EmbedFiles", "./cmd/smartorch")
	dec := json.NewDecoder(strings.NewReader(out))
	needed := []string{"go.mod", "go.sum"}
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module == nil || p.Module.Path != "github.com/smartorch/smartorch" {
			continue
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			rel, err := filepath.Rel(root, filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			needed = append(needed, filepath.ToSlash(rel))
		}
	}
	if len(needed) < 10 {
		t.Fatalf("only %d files found for the build: %v", len(needed), needed)
	}
	for _, f := range needed {
		if ignore.excluded(f) {
			t.Errorf(".dockerignore excludes %s, which the build needs", f)
		}
	}
	for _, f := range []string{".git/config", ".env", "deploy/compose/.env", "data/secret.key", "bin/smartorch", "testenv-out/x", "some/dir/.env", "deploy/helm/smartorch/values.yaml", "docker-compose.yml"} {
		if !ignore.excluded(f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
}
