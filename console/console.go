// Package console is the operator console: static HTML, CSS and JavaScript
// modules embedded in the binary, served under /ui/. The console talks to the
// REST API like any other client; it has no routes of its own.
package console

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
)

//go:embed ui
var files embed.FS

// Prefix is where the console is served.
const Prefix = "/ui"

// contentSecurityPolicy allows only the console's own files and requests to
// its own origin: no inline script or style, no eval, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Mount serves the console at Prefix (Prefix itself redirects to Prefix/).
func Mount(app *fiber.App) {
	ui, err := fs.Sub(files, "ui")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	app.Use(Prefix, securityHeaders, filesystem.New(filesystem.Config{
		Root:         http.FS(ui),
		Index:        "index.html",
		NotFoundFile: "",
	}))
}

func securityHeaders(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return fiber.NewError(fiber.StatusMethodNotAllowed, "the console is read-only: use GET")
	}
	if c.Path() == Prefix {
		return c.Redirect(Prefix+"/", fiber.StatusMovedPermanently)
	}
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	// The files change with the binary; revalidating is cheap on loopback
	// and never serves a console older than its API.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Next()
}
