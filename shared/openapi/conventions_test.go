package openapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestDocumentFollowsConventions checks openapi.yaml against the conventions of api.md that hold
// for every endpoint, so an operation added later cannot forget them.
func TestDocumentFollowsConventions(t *testing.T) {
	doc := loadRootDoc(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	schemes := doc.Components.SecuritySchemes
	if c := schemes["cookieAuth"]; c == nil || c.Value.In != "cookie" || c.Value.Name != "access_token" {
		t.Errorf("no cookie scheme for access_token")
	}
	if b := schemes["bearerAuth"]; b == nil || b.Value.Type != "http" || b.Value.Scheme != "bearer" {
		t.Errorf("no bearer scheme")
	}
	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		tags[tag.Name] = true
	}
	ids := map[string]string{}

	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			fail := func(format string, args ...any) { t.Errorf("%s: %s", name, fmt.Sprintf(format, args...)) }
			if op.OperationID == "" {
				fail("no operationId")
			} else if other, dup := ids[op.OperationID]; dup {
				fail("operationId %q also used by %s", op.OperationID, other)
			}
			ids[op.OperationID] = name
			if len(op.Tags) != 1 || !tags[op.Tags[0]] {
				fail("tags %v: want one tag declared at the top (the function's name)", op.Tags)
			}
			public := op.Security != nil && len(*op.Security) == 0
			needs := []int{429, 500}
			if path != "/health" && path != "/api/health" {
				needs = append(needs, 503)
			}
			if !public {
				needs = append(needs, 401)
			}
			if method == http.MethodPost || method == http.MethodDelete {
				needs = append(needs, 413, 415)
			}
			if op.RequestBody != nil {
				needs = append(needs, 400, 422)
			}
			var hasQuery, hasPathParam bool
			for _, p := range op.Parameters {
				switch p.Value.In {
				case openapi3.ParameterInQuery:
					hasQuery = true
				case openapi3.ParameterInPath:
					hasPathParam = true
				case openapi3.ParameterInHeader:
					if p.Value.Name == "Idempotency-Key" {
						needs = append(needs, 409, 422)
					}
				}
			}
			if hasQuery {
				needs = append(needs, 422)
			}
			if hasPathParam {
				needs = append(needs, 404)
			}
			for _, status := range needs {
				if op.Responses.Status(status) == nil {
					fail("does not document %d", status)
				}
			}
			if op.Responses.Default() != nil {
				fail("has a default response: every status must be documented")
			}

			var success bool
			for code, ref := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					fail("response %q is not a status code", code)
					continue
				}
				resp := ref.Value
				if h := resp.Headers["X-Request-Id"]; h == nil || !h.Value.Required {
					fail("%d does not declare the required X-Request-Id header", status)
				}
				media := resp.Content.Get("application/json")
				if media == nil || media.Schema == nil {
					fail("%d has no application/json schema: every 2xx and every error has a JSON body", status)
					continue
				}
				switch {
				case status >= 200 && status < 300:
					success = true
				case status == 503 && (path == "/health" || path == "/api/health"):
					// The unhealthy report, in the shape of the 200 (api.md).
				case status >= 400:
					if !usesSchema(media.Schema, "Error", 0) {
						fail("%d is not the error envelope (components.schemas.Error)", status)
					}
				}
				if (status == 429) && resp.Headers["Retry-After"] == nil {
					fail("429 without Retry-After")
				}
			}
			if !success {
				fail("no 2xx response")
			}
		}
	}
	for _, local := range localOnly {
		_, path, _ := strings.Cut(local, " ")
		if doc.Paths.Value(path) != nil {
			t.Errorf("%s is local-only and must not be in openapi.yaml", path)
		}
	}
}

// usesSchema reports whether s is, or is an allOf containing, the component schema name.
func usesSchema(s *openapi3.SchemaRef, name string, depth int) bool {
	if s == nil || depth > 5 {
		return false
	}
	if s.Ref == "#/components/schemas/"+name {
		return true
	}
	if s.Value == nil {
		return false
	}
	return slices.ContainsFunc(s.Value.AllOf, func(sub *openapi3.SchemaRef) bool { return usesSchema(sub, name, depth+1) }) ||
		(s.Ref != "" && usesSchema(&openapi3.SchemaRef{Value: s.Value}, name, depth+1))
}
