package apiserver

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/smartorch/smartorch/release"
	"github.com/smartorch/smartorch/scheduler"
	"github.com/smartorch/smartorch/store"
)

// The OpenAPI document is written by hand; these tests keep it honest: every
// route is documented and every documented operation is a route, the
// security it declares is what the server does, the request schemas match
// the structs the handlers decode, and the response schemas name the fields
// the answers carry.

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

// openAPITestApp is the Fiber app with no store, Temporal or users behind
// it: enough to list its routes and to reach the handlers that need none.
func openAPITestApp() *fiber.App {
	return New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	data, err := openAPIDocument()
	if err != nil {
		t.Fatalf("openapi.yaml does not convert to JSON: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the OpenAPI document is not a JSON object: %v", err)
	}
	return doc
}

// operation is one documented method on one path.
type operation struct {
	method, path string // method upper case, path in OpenAPI form
	item, op     map[string]any
}

func (o operation) String() string { return o.method + " " + o.path }

func operations(t *testing.T, doc map[string]any) []operation {
	t.Helper()
	paths, _ := doc["paths"].(map[string]any)
	if len(paths) == 0 {
		t.Fatal("the document has no paths")
	}
	var ops []operation
	for path, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			t.Errorf("path %s is not an object", path)
			continue
		}
		for _, m := range httpMethods {
			if op, ok := item[m].(map[string]any); ok {
				ops = append(ops, operation{method: strings.ToUpper(m), path: path, item: item, op: op})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	return ops
}

var fiberParam = regexp.MustCompile(`:([A-Za-z0-9_]+)\??`)

// openAPIPath turns Fiber's /api/chartrepo/:id into /api/chartrepo/{id}.
func openAPIPath(fiberPath string) string {
	return fiberParam.ReplaceAllString(fiberPath, "{$1}")
}

// routes are the app's routes as "METHOD /openapi/{path}", without the
// HEAD twins of GET routes and without middleware.
func routes(app *fiber.App) map[string]fiber.Route {
	out := map[string]fiber.Route{}
	for _, r := range app.GetRoutes(true) {
		if r.Method == fiber.MethodHead {
			continue
		}
		out[r.Method+" "+openAPIPath(r.Path)] = r
	}
	return out
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for _, op := range operations(t, doc) {
		documented[op.String()] = true
	}
	served := routes(openAPITestApp())
	var undocumented, unserved []string
	for key := range served {
		if !documented[key] {
			undocumented = append(undocumented, key)
		}
	}
	for key := range documented {
		if _, ok := served[key]; !ok {
			unserved = append(unserved, key)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unserved)
	for _, key := range undocumented {
		t.Errorf("route %s is not in apiserver/openapi.yaml: document it", key)
	}
	for _, key := range unserved {
		t.Errorf("apiserver/openapi.yaml documents %s, but the server has no such route", key)
	}
	if len(served) < 10 {
		t.Fatalf("only %d routes found; is the app built as the server builds it?", len(served))
	}
}

func TestOpenAPIDocumentIsWellFormed(t *testing.T) {
	doc := loadOpenAPI(t)
	version, _ := doc["openapi"].(string)
	if !strings.HasPrefix(version, "3.0.") && !strings.HasPrefix(version, "3.1.") {
		t.Errorf("openapi: %q, want 3.0.x or 3.1.x", version)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info needs a title and a version: %v", info)
	}
	checkRefs(t, doc, doc, "#")

	ids := map[string]string{}
	for _, op := range operations(t, doc) {
		if s, _ := op.op["summary"].(string); strings.TrimSpace(s) == "" {
			t.Errorf("%s has no summary", op)
		}
		if id, _ := op.op["operationId"].(string); id != "" {
			if other, dup := ids[id]; dup {
				t.Errorf("%s and %s have the same operationId %q", op, other, id)
			}
			ids[id] = op.String()
		}
		responses, _ := op.op["responses"].(map[string]any)
		if len(responses) == 0 {
			t.Errorf("%s has no responses", op)
		}
		for code, r := range responses {
			status, err := strconv.Atoi(code)
			if err != nil && code != "default" || err == nil && (status < 100 || status > 599) {
				t.Errorf("%s: response %q is not a status code", op, code)
				continue
			}
			resp, _ := resolve(doc, r).(map[string]any)
			if d, _ := resp["description"].(string); d == "" {
				t.Errorf("%s: response %s has no description", op, code)
			}
			// /readyz's 503 is its own report; every /api error has the one shape.
			if status >= 400 && strings.HasPrefix(op.path, "/api/") && !isErrorSchema(doc, jsonSchema(resp)) {
				t.Errorf("%s: response %s is not the Error shape (#/components/schemas/Error)", op, code)
			}
		}
		checkPathParameters(t, doc, op)
	}
}

// checkRefs fails for every $ref under v that does not resolve in doc.
func checkRefs(t *testing.T, doc map[string]any, v any, at string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			if _, err := pointer(doc, ref); err != "" {
				t.Errorf("%s: $ref %q: %s", at, ref, err)
			}
		}
		for k, child := range v {
			checkRefs(t, doc, child, at+"/"+k)
		}
	case []any:
		for i, child := range v {
			checkRefs(t, doc, child, at+"/"+strconv.Itoa(i))
		}
	}
}

// pointer resolves a local reference "#/a/b"; the error is "" when it does.
func pointer(doc map[string]any, ref string) (any, string) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, "only local references (#/…) are used"
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, "does not resolve"
		}
		if cur, ok = m[part]; !ok {
			return nil, "does not resolve"
		}
	}
	return cur, ""
}

// resolve follows $ref until a value without one.
func resolve(doc map[string]any, v any) any {
	for range 32 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		v, _ = pointer(doc, ref)
	}
	return v
}

func jsonSchema(resp map[string]any) any {
	content, _ := resp["content"].(map[string]any)
	media, _ := content["application/json"].(map[string]any)
	return media["schema"]
}

// isErrorSchema says whether schema is the Error schema or all of it.
func isErrorSchema(doc map[string]any, schema any) bool {
	m, ok := schema.(map[string]any)
	if !ok {
		return false
	}
	if ref, _ := m["$ref"].(string); ref == "#/components/schemas/Error" {
		return true
	}
	if ref, ok := m["$ref"].(string); ok {
		target, _ := pointer(doc, ref)
		return isErrorSchema(doc, target)
	}
	all, _ := m["allOf"].([]any)
	return slices.ContainsFunc(all, func(s any) bool { return isErrorSchema(doc, s) })
}

var templateParam = regexp.MustCompile(`\{([^}]+)\}`)

// checkPathParameters: every {name} of the path is a required path
// parameter, and every path parameter is in the path.
func checkPathParameters(t *testing.T, doc map[string]any, op operation) {
	t.Helper()
	declared := map[string]bool{}
	for _, list := range []any{op.item["parameters"], op.op["parameters"]} {
		params, _ := list.([]any)
		for _, p := range params {
			param, _ := resolve(doc, p).(map[string]any)
			if param["in"] != "path" {
				continue
			}
			name, _ := param["name"].(string)
			if param["required"] != true {
				t.Errorf("%s: path parameter %s must be required", op, name)
			}
			declared[name] = true
		}
	}
	inPath := map[string]bool{}
	for _, m := range templateParam.FindAllStringSubmatch(op.path, -1) {
		inPath[m[1]] = true
		if !declared[m[1]] {
			t.Errorf("%s: path parameter %s is not declared", op, m[1])
		}
	}
	for name := range declared {
		if !inPath[name] {
			t.Errorf("%s: declares path parameter %s, which the path does not have", op, name)
		}
	}
}

// TestOpenAPISecurityIsWhatTheServerDoes sends every route a request
// without a token: the routes the document marks public (security: [])
// must not answer 401, every other must, and must document that 401.
func TestOpenAPISecurityIsWhatTheServerDoes(t *testing.T) {
	doc := loadOpenAPI(t)
	if sec, _ := doc["security"].([]any); len(sec) == 0 {
		t.Fatal("the document declares no default security")
	}
	schemes, _ := resolve(doc, map[string]any{"$ref": "#/components/securitySchemes"}).(map[string]any)
	bearer, _ := schemes["bearerAuth"].(map[string]any)
	token, _ := schemes["tokenHeader"].(map[string]any)
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" || token["type"] != "apiKey" || token["in"] != "header" || token["name"] != "Token" {
		t.Errorf("security schemes should be Bearer and the Token header: %v", schemes)
	}
	app := openAPITestApp()
	served := routes(app)
	for _, op := range operations(t, doc) {
		if _, ok := served[op.String()]; !ok {
			continue // reported by TestOpenAPIDocumentsEveryRoute
		}
		sec, declared := op.op["security"].([]any)
		public := declared && len(sec) == 0
		path := templateParam.ReplaceAllString(op.path, "x")
		resp, err := app.Test(httptest.NewRequest(op.method, path, nil), -1)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		resp.Body.Close()
		responses, _ := op.op["responses"].(map[string]any)
		switch {
		case public && resp.StatusCode == http.StatusUnauthorized:
			t.Errorf("%s is documented as public (security: []) but answers 401 without a token", op)
		case !public && resp.StatusCode != http.StatusUnauthorized:
			t.Errorf("%s answers %d without a token: document it as public (security: []) or make it authenticate", op, resp.StatusCode)
		case !public && responses["401"] == nil:
			t.Errorf("%s needs a token but does not document the 401", op)
		}
	}
}

func TestOpenAPIIsServedWithoutToken(t *testing.T) {
	resp, err := openAPITestApp().Test(httptest.NewRequest(http.MethodGet, "/api/openapi.json", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/openapi.json: %d %s, want 200 JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var served map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&served); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(served, loadOpenAPI(t)) {
		t.Error("the served document differs from openapi.yaml")
	}
}

// field is one JSON field of a Go struct.
type field struct {
	name     string
	validate string
	kind     reflect.Kind
}

// jsonFields lists the JSON fields of a struct, embedded structs flattened.
func jsonFields(typ reflect.Type) []field {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	var out []field
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		kind := f.Type.Kind()
		if kind == reflect.Pointer {
			kind = f.Type.Elem().Kind()
		}
		out = append(out, field{name: name, validate: f.Tag.Get("validate"), kind: kind})
	}
	return out
}

// schemaProperties are a schema's properties and required names, allOf
// parts merged.
func schemaProperties(doc map[string]any, schema any) (map[string]map[string]any, map[string]bool) {
	props, required := map[string]map[string]any{}, map[string]bool{}
	s, _ := resolve(doc, schema).(map[string]any)
	parts, _ := s["allOf"].([]any)
	for _, part := range parts {
		p, r := schemaProperties(doc, part)
		for k, v := range p {
			props[k] = v
		}
		for k := range r {
			required[k] = true
		}
	}
	if p, ok := s["properties"].(map[string]any); ok {
		for k, v := range p {
			props[k], _ = v.(map[string]any)
		}
	}
	if r, ok := s["required"].([]any); ok {
		for _, name := range r {
			required[name.(string)] = true
		}
	}
	return props, required
}

func componentSchema(t *testing.T, doc map[string]any, name string) map[string]any {
	t.Helper()
	s, err := pointer(doc, "#/components/schemas/"+name)
	if err != "" {
		t.Fatalf("schema %s: %s", name, err)
	}
	return s.(map[string]any)
}

// validateRules parses `validate:"required,max=53,oneof=a b"`.
func validateRules(tag string) map[string]string {
	rules := map[string]string{}
	for _, r := range strings.Split(tag, ",") {
		k, v, _ := strings.Cut(r, "=")
		if k == "dive" {
			break // the rest applies to the elements
		}
		rules[k] = v
	}
	return rules
}

// TestOpenAPIRequestSchemasMatchTheStructs compares each request schema
// with the struct its handler decodes (strictly: unknown fields are 400).
func TestOpenAPIRequestSchemasMatchTheStructs(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, typ := range map[string]reflect.Type{
		"LoginRequest":     reflect.TypeFor[loginRequest](),
		"ChartRepoRequest": reflect.TypeFor[repoRequest](),
		"ChartRepoAuth":    reflect.TypeFor[repoAuth](),
		"ClusterRequest":   reflect.TypeFor[clusterRequest](),
		"EnablerRequest":   reflect.TypeFor[enablerRequest](),
		"PlacementRequest": reflect.TypeFor[placementRequest](),
		"UpgradeRequest":   reflect.TypeFor[upgradeRequest](),
		"RollbackRequest":  reflect.TypeFor[rollbackRequest](),
		"ClusterPatch":     reflect.TypeFor[clusterPatch](),
		"V4EnablerRequest": reflect.TypeFor[v4EnablerRequest](),
		"V4UpgradeRequest": reflect.TypeFor[v4UpgradeRequest](),
		"CordonRequest":    reflect.TypeFor[cordonRequest](),
		"FailoverRequest":  reflect.TypeFor[failoverRequest](),
	} {
		schema := componentSchema(t, doc, name)
		if schema["additionalProperties"] != false {
			t.Errorf("%s: set additionalProperties: false (the server refuses unknown fields)", name)
		}
		props, required := schemaProperties(doc, schema)
		fields := jsonFields(typ)
		seen := map[string]bool{}
		for _, f := range fields {
			seen[f.name] = true
			prop, ok := props[f.name]
			if !ok {
				t.Errorf("%s: field %s of %s is not documented", name, f.name, typ)
				continue
			}
			rules := validateRules(f.validate)
			_, req := rules["required"]
			if req != required[f.name] {
				t.Errorf("%s: field %s: required in the struct %v, in the document %v", name, f.name, req, required[f.name])
			}
			if max, ok := rules["max"]; ok && f.kind == reflect.String {
				if got := prop["maxLength"]; got != mustFloat(max) {
					t.Errorf("%s: field %s: maxLength %v, want %s", name, f.name, got, max)
				}
			}
			if max, ok := rules["max"]; ok && f.kind == reflect.Slice {
				if got := prop["maxItems"]; got != mustFloat(max) {
					t.Errorf("%s: field %s: maxItems %v, want %s", name, f.name, got, max)
				}
			}
			if oneof, ok := rules["oneof"]; ok {
				var enum []string
				values, _ := prop["enum"].([]any)
				for _, v := range values {
					enum = append(enum, v.(string))
				}
				if want := strings.Fields(oneof); !slices.Equal(enum, want) {
					t.Errorf("%s: field %s: enum %v, want %v", name, f.name, enum, want)
				}
			}
			if _, ok := rules["dns1123label"]; ok && prop["pattern"] == nil {
				t.Errorf("%s: field %s is a DNS-1123 label: give its pattern", name, f.name)
			}
		}
		for prop := range props {
			if !seen[prop] {
				t.Errorf("%s documents field %s, which %s does not have (it would be refused)", name, prop, typ)
			}
		}
	}
}

func mustFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return f
}

// TestOpenAPIResponseSchemasMatchTheStructs checks that each response
// schema names exactly the JSON fields of the type the handlers answer.
func TestOpenAPIResponseSchemasMatchTheStructs(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, typ := range map[string]reflect.Type{
		"Error":            reflect.TypeFor[Error](),
		"Token":            reflect.TypeFor[tokenResponse](),
		"ChartRepo":        reflect.TypeFor[repoView](),
		"Cluster":          reflect.TypeFor[store.Cluster](),
		"Enabler":          reflect.TypeFor[store.Enabler](),
		"EnablerView":      reflect.TypeFor[enablerView](),
		"EnablerSummary":   reflect.TypeFor[store.EnablerSummary](),
		"PlacementOutcome": reflect.TypeFor[store.PlacementOutcome](),
		"Health":           reflect.TypeFor[health](),
		"PreviousRelease":  reflect.TypeFor[store.PreviousRelease](),
		"VolumeCleanup":    reflect.TypeFor[store.VolumeCleanup](),
		"Volume":           reflect.TypeFor[store.Volume](),
		"Release":          reflect.TypeFor[release.Release](),
		"Node":             reflect.TypeFor[nodeView](),
		"Operation":        reflect.TypeFor[operationView](),
		"Decision":         reflect.TypeFor[scheduler.Decision](),
		"Candidate":        reflect.TypeFor[scheduler.Candidate](),
		"Workload":         reflect.TypeFor[scheduler.Workload](),
		"Traffic":          reflect.TypeFor[scheduler.Traffic](),
		"Forecast":         reflect.TypeFor[scheduler.Forecast](),
		"Constraints":      reflect.TypeFor[scheduler.Constraints](),
		"ClusterHealth":    reflect.TypeFor[store.ClusterHealth](),
		"Failover":         reflect.TypeFor[store.Failover](),
		"Move":             reflect.TypeFor[scheduler.Move](),
	} {
		props, _ := schemaProperties(doc, componentSchema(t, doc, name))
		var names []string
		for _, f := range jsonFields(typ) {
			names = append(names, f.name)
			if _, ok := props[f.name]; !ok {
				t.Errorf("%s: field %s of %s is not documented", name, f.name, typ)
			}
		}
		for prop := range props {
			if !slices.Contains(names, prop) {
				t.Errorf("%s documents field %s, which %s does not have", name, prop, typ)
			}
		}
	}
}
