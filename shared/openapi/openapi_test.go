package openapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/cryptovault/serverless/shared/openapi"
)

// root is the repository root, from this package's directory.
const root = "../.."

func rootSpec(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, openapi.SourcePath))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEmbeddedCopyIsCurrent: the copy go:embed serves is the root openapi.yaml, byte for byte.
func TestEmbeddedCopyIsCurrent(t *testing.T) {
	if !bytes.Equal(openapi.YAML(), rootSpec(t)) {
		t.Fatalf("shared/openapi/openapi.yaml differs from the root openapi.yaml (the source of truth): run\n\tgo generate ./shared/openapi")
	}
}

func loadJSON(t *testing.T) (*openapi3.T, []byte) {
	t.Helper()
	b, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("load the JSON document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the JSON document is not valid OpenAPI: %v", err)
	}
	return doc, b
}

// TestJSON: the served JSON is a valid OpenAPI 3.1 document with the same content as the YAML.
func TestJSON(t *testing.T) {
	doc, b := loadJSON(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal(b, &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(openapi.YAML(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	// Round-trip the YAML value through encoding/json to get the same Go types as fromJSON.
	yb, err := json.Marshal(stringKeys(fromYAML))
	if err != nil {
		t.Fatal(err)
	}
	var normalized any
	_ = json.Unmarshal(yb, &normalized)
	if !reflect.DeepEqual(fromJSON, normalized) {
		t.Errorf("the JSON document does not hold the same values as the YAML")
	}
}

// stringKeys turns yaml.v3's map keys into strings, as JSON writes them.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = stringKeys(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[toString(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = stringKeys(e)
		}
	}
	return v
}

func toString(k any) string {
	b, _ := json.Marshal(k)
	return strings.Trim(string(b), `"`)
}

// TestJSONKeepsOrder: paths come in the order the YAML writes them (the docs page lists them so).
func TestJSONKeepsOrder(t *testing.T) {
	b, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Paths json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	got := objectKeys(t, raw.Paths)

	var node yaml.Node
	if err := yaml.Unmarshal(openapi.YAML(), &node); err != nil {
		t.Fatal(err)
	}
	var want []string
	top := node.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "paths" {
			for j := 0; j+1 < len(top.Content[i+1].Content); j += 2 {
				want = append(want, top.Content[i+1].Content[j].Value)
			}
		}
	}
	if !reflect.DeepEqual(got, want) || len(want) == 0 {
		t.Errorf("path order\n got %v\nwant %v", got, want)
	}
}

func objectKeys(t *testing.T, obj json.RawMessage) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestDocsPageIsSelfContained: the page inlines its style and script, loads nothing from
// another host, reads the document from its own origin, and its CSP admits exactly what it
// inlines.
func TestDocsPageIsSelfContained(t *testing.T) {
	html := string(openapi.DocsHTML())
	for _, banned := range []string{"http://", "https://", "<link", "@import", "url(", " src=", "{{STYLE}}", "{{SCRIPT}}"} {
		if strings.Contains(html, banned) {
			t.Errorf("the docs page contains %q", banned)
		}
	}
	if !strings.Contains(html, `fetch("openapi.json"`) {
		t.Errorf("the page does not fetch openapi.json relative to itself")
	}
	script := between(t, html, "<script>", "</script>")
	style := between(t, html, "<style>", "</style>")
	csp := openapi.DocsCSP()
	for _, inline := range []string{script, style} {
		sum := sha256.Sum256([]byte(inline))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, h) {
			t.Errorf("CSP %q lacks %s", csp, h)
		}
	}
	if strings.Count(html, "<script") != 1 || strings.Count(html, "<style") != 1 {
		t.Errorf("want exactly one inline script and one inline style")
	}
	// Text from the document is set as text: the script never writes HTML.
	if regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`).MatchString(script) {
		t.Errorf("the script writes HTML or evaluates code")
	}
}

func between(t *testing.T, s, open, close string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		t.Fatalf("no %s", open)
	}
	inner, _, ok := strings.Cut(rest, close)
	if !ok {
		t.Fatalf("no %s", close)
	}
	return inner
}

func TestHandlers(t *testing.T) {
	for _, tt := range []struct {
		h           http.Handler
		contentType string
	}{
		{openapi.JSONHandler(), "application/json; charset=utf-8"},
		{openapi.DocsHandler(), "text/html; charset=utf-8"},
	} {
		rec := httptest.NewRecorder()
		tt.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != tt.contentType || rec.Body.Len() == 0 ||
			rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v", tt.contentType, rec.Code, rec.Header())
		}
		head := httptest.NewRecorder()
		tt.h.ServeHTTP(head, httptest.NewRequest(http.MethodHead, "/x", nil))
		if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") != rec.Header().Get("Content-Length") {
			t.Errorf("HEAD %s: %d, %d bytes, Content-Length %q", tt.contentType, head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
		}
	}
}
