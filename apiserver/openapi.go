package apiserver

import (
	_ "embed"
	"sync"

	"github.com/gofiber/fiber/v2"
	"sigs.k8s.io/yaml"
)

// openAPIYAML is the OpenAPI 3 document of every route, written by hand.
// openapi_test.go checks it against the routes and the request structs.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIDocument is the document as JSON, converted once.
var openAPIDocument = sync.OnceValues(func() ([]byte, error) {
	return yaml.YAMLToJSON(openAPIYAML)
})

// openAPI serves the OpenAPI document (GET /api/openapi.json, no authentication).
func (s *server) openAPI(c *fiber.Ctx) error {
	doc, err := openAPIDocument()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(doc)
}
