package console

import (
	"io"
	"io/fs"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func get(t *testing.T, app *fiber.App, method, target string) (int, map[string]string, string) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest(method, target, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	headers := map[string]string{}
	for k := range resp.Header {
		headers[k] = resp.Header.Get(k)
	}
	return resp.StatusCode, headers, string(body)
}

func TestServesTheConsoleWithItsPolicy(t *testing.T) {
	app := fiber.New()
	Mount(app)

	if code, h, _ := get(t, app, "GET", "/ui"); code != 301 || h["Location"] != "/ui/" {
		t.Errorf("GET /ui: %d Location %q, want 301 to /ui/", code, h["Location"])
	}
	code, h, body := get(t, app, "GET", "/ui/")
	if code != 200 || !strings.HasPrefix(h["Content-Type"], "text/html") || !strings.Contains(body, `<script type="module" src="js/main.js">`) {
		t.Fatalf("GET /ui/: %d %q\n%s", code, h["Content-Type"], body)
	}
	csp := h["Content-Security-Policy"]
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("Content-Security-Policy %q allows something unsafe", csp)
	}
	if h["X-Content-Type-Options"] != "nosniff" || h["Referrer-Policy"] != "no-referrer" {
		t.Errorf("headers %v", h)
	}
	for file, kind := range map[string]string{"/ui/js/main.js": "javascript", "/ui/console.css": "text/css"} {
		if code, h, _ := get(t, app, "GET", file); code != 200 || !strings.Contains(h["Content-Type"], kind) || h["Content-Security-Policy"] == "" {
			t.Errorf("GET %s: %d %q", file, code, h["Content-Type"])
		}
	}
	if code, _, _ := get(t, app, "GET", "/ui/no-such-file.js"); code != 404 {
		t.Errorf("GET an unknown file: %d, want 404", code)
	}
	if code, _, _ := get(t, app, "POST", "/ui/"); code != 405 {
		t.Errorf("POST /ui/: %d, want 405", code)
	}
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=|setAttribute\(\s*['"]style|\.style\.|\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`)
	importFrom   = regexp.MustCompile(`(?m)^import .* from '([^']+)';$`)
)

// The CSP forbids inline script and style; the console builds its DOM from
// text, never from markup. These hold in the source, not only in the browser.
func TestTheSourcesKeepTheRules(t *testing.T) {
	ui, _ := fs.Sub(files, "ui")
	seen := 0
	err := fs.WalkDir(ui, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(ui, p)
		if err != nil {
			return err
		}
		src := string(b)
		seen++
		if strings.HasSuffix(p, ".html") {
			for _, tag := range inlineScript.FindAllString(src, -1) {
				if !strings.Contains(tag, " src=") {
					t.Errorf("%s: inline script %s", p, tag)
				}
			}
		}
		if m := styleAttr.FindString(src); m != "" {
			t.Errorf("%s: %q (inline style or markup from strings)", p, m)
		}
		if strings.Contains(src, "localStorage") {
			t.Errorf("%s: localStorage outlives the tab; the token belongs in sessionStorage", p)
		}
		for _, m := range importFrom.FindAllStringSubmatch(src, -1) {
			target := path.Join(path.Dir(p), m[1])
			if _, err := fs.Stat(ui, target); err != nil {
				t.Errorf("%s imports %s: %v", p, m[1], err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 10 {
		t.Fatalf("only %d files embedded", seen)
	}
}
