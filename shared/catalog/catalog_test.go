package catalog_test

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/samtemplate"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

const root = "../.."

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestTemplateMatchesCode: template.yaml is the one source of truth for which route goes to which
// function. Every template function is in the catalog and vice versa, and each function serves
// exactly the routes the template sends it (OPTIONS aside, which the middleware answers).
func TestTemplateMatchesCode(t *testing.T) {
	tpl := loadTemplate(t)
	db := testenv.DB(t)
	env := testenv.NewDeps(t, testenv.Config(t, db.URI(), nil), app.Options{})

	inTemplate := map[string]samtemplate.Function{}
	for _, f := range tpl.Functions() {
		inTemplate[f.LogicalID] = f
		if _, ok := catalog.ByLogicalID(f.LogicalID); !ok {
			t.Errorf("template function %s is not in the catalog", f.LogicalID)
		}
	}
	for _, e := range catalog.All {
		tf, ok := inTemplate[e.LogicalID]
		if !ok {
			t.Errorf("catalog function %s is not in template.yaml", e.LogicalID)
			continue
		}
		fn, err := e.Build(env.Deps)
		if err != nil {
			t.Fatalf("build %s: %v", e.LogicalID, err)
		}
		var want []string
		for _, r := range tf.Routes {
			if r.Method != http.MethodOptions {
				want = append(want, r.Method+" "+r.Path)
			}
		}
		slices.Sort(want)
		if got := catalog.TemplateRoutes(fn.Routes); !slices.Equal(got, want) {
			t.Errorf("%s: code routes %v\n template routes %v", e.LogicalID, got, want)
		}
		if fn.Scheduled == nil && len(tf.Schedules) > 0 {
			t.Errorf("%s has a schedule in the template but no scheduled handler", e.LogicalID)
		}
	}
}

func TestTemplateRoutes(t *testing.T) {
	got := catalog.TemplateRoutes([]string{"GET /api/{$}", "GET /api", "POST /api/status", "GET /health"})
	want := []string{"GET /api", "GET /health", "POST /api/status"}
	if !slices.Equal(got, want) {
		t.Errorf("TemplateRoutes = %v, want %v", got, want)
	}
}

// TestEventsFilesBelongToFunctions: every function has events for `sam local invoke`, and every
// events file names a function.
func TestEventsFilesBelongToFunctions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, f := range files {
		name, _, _ := strings.Cut(filepath.Base(f), "-")
		per[name]++
	}
	for _, e := range catalog.All {
		if per[e.Name] == 0 {
			t.Errorf("no events/%s-*.json for %s", e.Name, e.LogicalID)
		}
		delete(per, e.Name)
	}
	for name := range per {
		t.Errorf("events/%s-*.json names no function", name)
	}
}

// TestLambdaBinariesLinkOnlyWhatTheyNeed: no engine, test helper or local tooling reaches a
// bootstrap (FerretDB alone is ~40 MB and would be dead weight on every cold start), nor the
// SDK's default configuration loader and its credential chain (SSO, STS, IMDS, shared files):
// about 1.5 MiB per bootstrap that Lambda never uses, since it hands the function its region and
// credentials in environment variables (awsconfig). The credentials root package (the static
// provider) is allowed; its subpackages are the chain.
func TestLambdaBinariesLinkOnlyWhatTheyNeed(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./functions/...")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"FerretDB", "/shared/devdb", "/shared/testkit", "/shared/catalog", "/shared/samtemplate", "/cmd/local",
		"github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/credentials/", "github.com/aws/aws-sdk-go-v2/feature/ec2/imds"}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" || strings.HasPrefix(pkg, "testing/") {
			t.Errorf("a function links %s", pkg)
		}
		for _, f := range forbidden {
			if strings.Contains(pkg, f) {
				t.Errorf("a function links %s", pkg)
			}
		}
	}
}
