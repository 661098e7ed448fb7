// Package openapi serves the API's OpenAPI document to people: the document as JSON
// (GET /api/openapi.json) and a self-contained HTML page that renders it (GET /api/docs), both
// mounted by the local server only. It is never linked into a Lambda binary.
//
// The source of truth is openapi.yaml at the repository root. go:embed cannot reach a file above
// the package directory, so this directory holds a byte-identical copy, refreshed with
//
//	go generate ./shared/openapi
//
// and TestEmbeddedCopyIsCurrent fails (saying so) whenever the two differ. The response checks of
// the API tests (shared/testkit/openapicheck) read the root file itself, so they never validate
// against a stale copy.
package openapi

//go:generate cp ../../openapi.yaml openapi.yaml

import (
	_ "embed"
	"fmt"
	"sync"
)

// SourcePath is the document's path relative to the repository root.
const SourcePath = "openapi.yaml"

//go:embed openapi.yaml
var specYAML []byte

// YAML is the embedded document as written.
func YAML() []byte { return specYAML }

var specJSON = sync.OnceValues(func() ([]byte, error) {
	b, err := YAMLToJSON(specYAML)
	if err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", SourcePath, err)
	}
	return b, nil
})

// JSON is the embedded document converted to JSON, keys in the order they are written (so the
// docs page lists paths and fields as the YAML does). Converted once.
func JSON() ([]byte, error) { return specJSON() }
