package openapi_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/openapi"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/samtemplate"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// pendingFunctions are functions openapi.yaml describes (api.md has them) that are still being
// written: none of their routes is in template.yaml or the catalog yet. Their routes are listed
// in the test log instead of failing it. Whoever adds a function to the template and the catalog
// removes it here; the test fails if a pending function has any route wired (then every route
// must match) or if an entry here is no longer pending.
var pendingFunctions = []string{}

// localOnly are routes the local server adds beside the template's; openapi.yaml leaves them out.
var localOnly = []string{"GET /api/openapi.json", "GET /api/docs"}

func loadRootDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join(root, openapi.SourcePath))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// resourceRoute is "METHOD /path" in template form: the document's `/api/` is API Gateway's
// `/api` resource (catalog.TemplateRoutes maps the code's "/api/{$}" the same way).
func resourceRoute(method, path string) string {
	if path != "/" {
		path = strings.TrimSuffix(path, "/")
	}
	return strings.ToUpper(method) + " " + path
}

// TestRoutesMatchTemplateAndCode: the operations of openapi.yaml are exactly the non-OPTIONS
// routes of template.yaml, which are exactly the routes the catalog's functions register, and
// each operation's tag names the function that serves it.
func TestRoutesMatchTemplateAndCode(t *testing.T) {
	doc := loadRootDoc(t)
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})

	inSpec := map[string]string{} // route → tag (function name)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			r := resourceRoute(method, path)
			if len(op.Tags) != 1 {
				t.Errorf("openapi.yaml %s has tags %v; want exactly one, the function's name", r, op.Tags)
				continue
			}
			inSpec[r] = op.Tags[0]
		}
	}
	inTemplate := map[string]string{} // route → function name
	for _, f := range tpl.Functions() {
		e, ok := catalog.ByLogicalID(f.LogicalID)
		name := f.LogicalID
		if ok {
			name = e.Name
		}
		for _, r := range f.Routes {
			if r.Method != http.MethodOptions {
				inTemplate[resourceRoute(r.Method, r.Path)] = name
			}
		}
	}
	inCode := map[string]string{} // route → function name
	for _, e := range catalog.All {
		fn, err := e.Build(env.Deps)
		if err != nil {
			t.Fatalf("build %s: %v", e.LogicalID, err)
		}
		for _, r := range catalog.TemplateRoutes(fn.Routes) {
			inCode[r] = e.Name
		}
	}

	for _, r := range localOnly {
		if _, ok := inSpec[r]; ok {
			t.Errorf("openapi.yaml has %s, a route only the local server adds", r)
		}
		delete(inTemplate, r)
		delete(inCode, r)
	}

	// Functions with no route in the template nor in the code are pending.
	wired := map[string]bool{}
	for _, fn := range inTemplate {
		wired[fn] = true
	}
	for _, fn := range inCode {
		wired[fn] = true
	}
	pending := map[string][]string{}
	for _, fn := range pendingFunctions {
		if wired[fn] {
			t.Errorf("%q is wired into template.yaml or the catalog now: remove it from pendingFunctions", fn)
			continue
		}
		pending[fn] = nil
	}

	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, r := range sortedKeys(inSpec) {
		fn := inSpec[r]
		if _, ok := pending[fn]; ok {
			pending[fn] = append(pending[fn], r)
			continue
		}
		tf, inT := inTemplate[r]
		cf, inC := inCode[r]
		switch {
		case !inT && !inC:
			add("%-45s in openapi.yaml (function %s), in neither template.yaml nor the code", r, fn)
		case !inT:
			add("%-45s in openapi.yaml and the code, not in template.yaml", r)
		case !inC:
			add("%-45s in openapi.yaml and template.yaml, not in the code", r)
		}
		if inT && tf != fn {
			add("%-45s openapi.yaml gives it to function %q (tag), template.yaml to %q", r, fn, tf)
		}
		if inC && cf != fn {
			add("%-45s openapi.yaml gives it to function %q (tag), the code to %q", r, fn, cf)
		}
	}
	for _, r := range sortedKeys(inTemplate) {
		if _, ok := inSpec[r]; ok {
			continue
		}
		if _, ok := inCode[r]; ok {
			add("%-45s in template.yaml and the code (function %s), not in openapi.yaml", r, inTemplate[r])
		} else {
			add("%-45s in template.yaml (function %s), in neither openapi.yaml nor the code", r, inTemplate[r])
		}
	}
	for _, r := range sortedKeys(inCode) {
		if _, ok := inSpec[r]; !ok {
			if _, ok := inTemplate[r]; !ok {
				add("%-45s in the code (function %s), in neither openapi.yaml nor template.yaml", r, inCode[r])
			}
		}
	}
	for _, fn := range sortedKeys(pending) {
		t.Logf("pending function %q: openapi.yaml has %d routes that template.yaml and the catalog do not have yet:\n\t%s",
			fn, len(pending[fn]), strings.Join(pending[fn], "\n\t"))
	}
	if len(problems) > 0 {
		t.Errorf("openapi.yaml, template.yaml and the code disagree (%d):\n\t%s", len(problems), strings.Join(problems, "\n\t"))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}
