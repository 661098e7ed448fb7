// Package openapicheck checks API responses against openapi.yaml, the repository's OpenAPI 3.1
// document. testenv.Do calls Check for every request it drives through a function of the API, so
// every API test also checks that each answer it provokes (2xx and errors alike) is what the
// document says: the status is documented for the operation, the declared headers are present
// and valid, and the JSON body matches the schema. Test-only: never linked into a Lambda.
//
// The document is loaded once per test binary from the repository root (found by walking up from
// the working directory to go.mod), with kin-openapi's loader; routes are matched with its
// gorilla/mux router and responses validated with openapi3filter.ValidateResponse.
package openapicheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// SpecFile is the document's path relative to the repository root.
const SpecFile = "openapi.yaml"

// Exchange is one request as a client sent it and the response it received.
type Exchange struct {
	// Function is the name of the function that answered (lambdahttp.Function.Name); Routes are
	// its registered route patterns (lambdahttp.Function.Routes).
	Function string
	Routes   []string
	Method   string
	// Target is the request path as the client sent it, with its query string, without a stage
	// prefix ("/api/orders?limit=5").
	Target string
	Status int
	Header http.Header
	Body   []byte
}

// Problem is one way a response contradicts the document.
type Problem struct {
	// Operation is "METHOD /path (operationId)", or the request line when no operation matched.
	Operation string
	Status    int
	// Where is a JSON pointer into the body ("/user/createdAt", "" for the whole body), or
	// "header X" or "status".
	Where   string
	Message string
	// OperationID is the matched operation's id ("" when none matched).
	OperationID string
}

func (p Problem) String() string {
	where := p.Where
	if where == "" {
		where = "body (root)"
	} else if strings.HasPrefix(where, "/") {
		where = "body at " + where
	}
	return fmt.Sprintf("openapi.yaml: %s → %d: %s: %s", p.Operation, p.Status, where, p.Message)
}

// spec is the loaded document and its router.
type spec struct {
	doc       *openapi3.T
	router    routers.Router
	functions map[string]bool            // the tags: one per function
	byTag     map[string]map[string]bool // function → "METHOD /path" of its operations
	errorBody *openapi3.SchemaRef        // components.schemas.Error
}

var loadSpec = sync.OnceValues(func() (*spec, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	return Load(filepath.Join(root, SpecFile))
})

// Load reads and validates an OpenAPI document and prepares its router.
func Load(path string) (*spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("openapicheck: load %s: %w", path, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapicheck: %s is not a valid OpenAPI document: %w", path, err)
	}
	// Route on paths alone: the tests send requests to no particular host, and the document's
	// servers (same origin, the stage URL) differ only in host and base path.
	routed := *doc
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("openapicheck: router: %w", err)
	}
	s := &spec{doc: doc, router: router, functions: map[string]bool{}, byTag: map[string]map[string]bool{}}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for _, tag := range op.Tags {
				s.functions[tag] = true
				if s.byTag[tag] == nil {
					s.byTag[tag] = map[string]bool{}
				}
				s.byTag[tag][method+" "+path] = true
			}
		}
	}
	if doc.Components != nil {
		s.errorBody = doc.Components.Schemas["Error"]
	}
	if s.errorBody == nil {
		return nil, fmt.Errorf("openapicheck: %s has no components.schemas.Error", path)
	}
	return s, nil
}

// RepoRoot is the directory of go.mod, found by walking up from the working directory (a test
// runs in its package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("openapicheck: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Check validates ex against the document and reports each problem as a test error, unless it
// is a known deviation (see Deviations), which is logged. Responses of functions the document
// does not describe (test stubs: a function whose name is no tag of the document, or which
// registers no routes) are not checked.
func Check(t testing.TB, ex Exchange) {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	for _, p := range s.Validate(ex) {
		if d, ok := knownDeviation(p); ok {
			t.Logf("%s\n    known deviation from api.md, not failing: %s", p, d.Why)
			continue
		}
		t.Errorf("%s", p)
	}
}

// Validate returns the problems of ex, nil when it conforms (or is not checked, see Check).
func (s *spec) Validate(ex Exchange) []Problem {
	if !s.functions[ex.Function] || len(ex.Routes) == 0 {
		return nil
	}
	problems := s.routeProblems(ex)
	// Validating a body compiles its schema each time (about a millisecond); tests repeat
	// identical exchanges by the thousand (cache and rate tests), so results are memoized.
	key := exchangeKey(ex)
	if cached, ok := results.Load(key); ok {
		return append(problems, cached.([]Problem)...)
	}
	found := s.validateExchange(ex)
	if resultCount.Add(1) <= maxResults {
		results.Store(key, found)
	}
	return append(problems, found...)
}

// Memoized results of validateExchange, by exchangeKey.
var (
	results     sync.Map
	resultCount atomic.Int64
)

const maxResults = 20000

// exchangeKey identifies an exchange by everything validation reads.
func exchangeKey(ex Exchange) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00", ex.Function, ex.Method, ex.Target, ex.Status)
	names := make([]string, 0, len(ex.Header))
	for k := range ex.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(h, "%s\x00%q\x00", k, ex.Header[k])
	}
	h.Write(ex.Body)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// validateExchange validates one exchange (Validate without the route check and the cache).
func (s *spec) validateExchange(ex Exchange) []Problem {
	var problems []Problem
	u, err := url.Parse(ex.Target)
	if err != nil {
		return append(problems, Problem{Operation: ex.Method + " " + ex.Target, Status: ex.Status, Where: "request", Message: err.Error()})
	}
	line := ex.Method + " " + u.Path
	if ex.Method == http.MethodOptions {
		// A CORS preflight, answered by every function for every path before routing; it is
		// outside the document (api.md: 204 without a body, whatever the origin).
		if ex.Status != http.StatusNoContent || len(bytes.TrimSpace(ex.Body)) > 0 {
			problems = append(problems, Problem{Operation: line, Status: ex.Status, Where: "status",
				Message: "a preflight (OPTIONS) must be answered 204 without a body"})
		}
		return problems
	}
	method := ex.Method
	if method == http.MethodHead {
		method = http.MethodGet // HEAD is served as GET without a body
	}
	route, params, err := s.find(method, u)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return append(problems, s.missProblems(ex, line, http.StatusNotFound, "NOT_FOUND")...)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return append(problems, s.missProblems(ex, line, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")...)
	case err != nil:
		return append(problems, Problem{Operation: line, Status: ex.Status, Where: "request", Message: err.Error()})
	}
	op := fmt.Sprintf("%s %s (%s)", ex.Method, route.Path, route.Operation.OperationID)
	req := &http.Request{Method: ex.Method, URL: u, Header: http.Header{}, Host: "api.test"}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 ex.Status,
		Header:                 ex.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, // a status the operation does not document is a problem
			MultiError:            true,
		},
	}
	input.SetBodyBytes(ex.Body)
	if ex.Method == http.MethodHead {
		// ValidateResponse skips HEAD; the status must still be documented for GET.
		if route.Operation.Responses.Status(ex.Status) == nil && route.Operation.Responses.Default() == nil {
			problems = append(problems, Problem{Operation: op, OperationID: route.Operation.OperationID, Status: ex.Status, Where: "status", Message: "status not documented for the operation"})
		}
		return problems
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		for _, p := range flatten(err) {
			p.Operation, p.OperationID, p.Status = op, route.Operation.OperationID, ex.Status
			problems = append(problems, p)
		}
	}
	return problems
}

// find matches a path to an operation. API Gateway routes a request path with or without one
// trailing slash to the same resource; the document writes `GET /api/` as api.md does, so `/api`
// finds it too (other paths with a trailing slash are 404 by design and stay unmatched).
func (s *spec) find(method string, u *url.URL) (*routers.Route, map[string]string, error) {
	req := &http.Request{Method: method, URL: &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}, Host: "api.test"}
	route, params, err := s.router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) && !strings.HasSuffix(u.Path, "/") && s.doc.Paths.Value(u.Path+"/") != nil {
		req.URL.Path, req.URL.RawPath = u.Path+"/", ""
		return s.router.FindRoute(req)
	}
	return route, params, err
}

// missProblems checks the answer to a request that matches no operation: only the error
// envelope with 404 (unknown path) or 405 with Allow (known path, other method) is right; a
// function that serves anything else there serves a route the document lacks.
func (s *spec) missProblems(ex Exchange, line string, want int, code string) []Problem {
	if ex.Status != want {
		what := "no path of the document matches"
		if want == http.StatusMethodNotAllowed {
			what = "the path has no such method in the document"
		}
		return []Problem{{Operation: line, Status: ex.Status, Where: "status",
			Message: fmt.Sprintf("%s, so the answer must be %d %s; a function serving it serves a route openapi.yaml lacks", what, want, code)}}
	}
	var problems []Problem
	if want == http.StatusMethodNotAllowed && ex.Header.Get("Allow") == "" {
		problems = append(problems, Problem{Operation: line, Status: ex.Status, Where: "header Allow", Message: "a 405 must list the allowed methods"})
	}
	if ex.Header.Get("X-Request-Id") == "" {
		problems = append(problems, Problem{Operation: line, Status: ex.Status, Where: "header X-Request-Id", Message: "missing"})
	}
	value, err := decodeJSON(ex.Body)
	if err != nil {
		return append(problems, Problem{Operation: line, Status: ex.Status, Where: "", Message: "the error envelope is not JSON: " + err.Error()})
	}
	if err := s.errorBody.Value.VisitJSON(value, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		for _, p := range flatten(err) {
			p.Operation, p.Status = line+" (no operation: error envelope)", ex.Status
			problems = append(problems, p)
		}
	}
	if m, ok := value.(map[string]any); ok && m["code"] != code {
		problems = append(problems, Problem{Operation: line, Status: ex.Status, Where: "/code", Message: fmt.Sprintf("got %v, want %s", m["code"], code)})
	}
	return problems
}

// routeProblems reports, once per function, the routes it registers that the document does not
// give it (`METHOD /path` of an operation tagged with the function's name).
func (s *spec) routeProblems(ex Exchange) []Problem {
	key := ex.Function + "\x00" + strings.Join(ex.Routes, "\x00")
	if _, done := reportedRoutes.LoadOrStore(key, true); done {
		return nil
	}
	var missing []string
	for _, r := range templateRoutes(ex.Routes) {
		if !s.hasRoute(ex.Function, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []Problem{{Operation: "function " + ex.Function, Where: "routes",
		Message: fmt.Sprintf("serves %s, which openapi.yaml does not give to the %q function (tag)", strings.Join(missing, ", "), ex.Function)}}
}

var reportedRoutes sync.Map

func (s *spec) hasRoute(function, route string) bool {
	ops := s.byTag[function]
	if ops[route] {
		return true
	}
	// `GET /api` is the document's `GET /api/` (API Gateway's /api resource).
	return ops[route+"/"]
}

// templateRoutes maps code route patterns to "METHOD /path" (as catalog.TemplateRoutes does:
// "GET /api/{$}" is the /api resource).
func templateRoutes(patterns []string) []string {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		out = append(out, strings.TrimSuffix(p, "/{$}"))
	}
	sort.Strings(out)
	return slices.Compact(out)
}
