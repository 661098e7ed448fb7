package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func fetch(t *testing.T, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestDocsRoutes: the local server serves the OpenAPI document as JSON that loads and validates
// as OpenAPI 3.1, and a docs page that loads nothing from another host.
func TestDocsRoutes(t *testing.T) {
	srv := newTestGateway(t)

	t.Run("openapi.json", func(t *testing.T) {
		resp, body := fetch(t, http.MethodGet, srv.URL+openAPIPath)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(body)
		if err != nil {
			t.Fatalf("kin-openapi cannot load the served document: %v", err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatalf("the served document is not valid: %v", err)
		}
		if !doc.IsOpenAPI31OrLater() || !strings.HasPrefix(doc.OpenAPI, "3.1.") {
			t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
		}
		if doc.Paths.Value("/api/auth/login") == nil || doc.Paths.Value("/health") == nil {
			t.Errorf("paths are missing from the served document")
		}
		for _, local := range []string{openAPIPath, docsPath} {
			if doc.Paths.Value(local) != nil {
				t.Errorf("%s is a local-only route; it must not be in openapi.yaml", local)
			}
		}
	})

	t.Run("docs", func(t *testing.T) {
		resp, body := fetch(t, http.MethodGet, srv.URL+docsPath)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		html := string(body)
		if !strings.Contains(html, `fetch("openapi.json"`) {
			t.Errorf("the page does not read openapi.json from its own origin")
		}
		if p := externalResources(html); len(p) > 0 {
			t.Errorf("the page refers to other hosts: %q", p)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("Content-Security-Policy = %q", csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers %v", resp.Header)
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		resp, body := fetch(t, http.MethodHead, srv.URL+docsPath)
		if resp.StatusCode != http.StatusOK || len(body) != 0 {
			t.Errorf("HEAD: %d, %d bytes", resp.StatusCode, len(body))
		}
	})

	t.Run("other method", func(t *testing.T) {
		resp, body := fetch(t, http.MethodPost, srv.URL+openAPIPath)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" ||
			!strings.Contains(string(body), "METHOD_NOT_ALLOWED") {
			t.Errorf("POST: %d Allow %q %s", resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	})

	t.Run("trailing slash", func(t *testing.T) {
		resp, _ := fetch(t, http.MethodGet, srv.URL+docsPath+"/")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s/: %d, want 404", docsPath, resp.StatusCode)
		}
	})
}

// externalResources finds what a page could load from another host: absolute or
// protocol-relative URLs anywhere (attributes, CSS url(), @import, script strings).
func externalResources(html string) []string {
	re := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|https?://|@import|url\(\s*['"]?(https?:)?//|<link\b|\bsrc\s*=`)
	return re.FindAllString(html, -1)
}

func TestExternalResources(t *testing.T) {
	for _, bad := range []string{
		`<script src="https://cdn.example.com/x.js"></script>`,
		`<link rel="stylesheet" href="//fonts.example.com/css">`,
		`<style>@import "x.css";</style>`,
		`<img src="http://example.com/a.png">`,
		`<div style="background: url(//example.com/a.png)">`,
	} {
		if len(externalResources(bad)) == 0 {
			t.Errorf("not caught: %s", bad)
		}
	}
	if p := externalResources(`<a href="openapi.json">openapi.json</a> <code>x // y</code>`); len(p) > 0 {
		t.Errorf("false positive: %q", p)
	}
}
