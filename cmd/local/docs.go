package main

import (
	"net/http"

	"github.com/cryptovault/serverless/shared/openapi"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Routes only the local server has: the OpenAPI document and a page that renders it. They are no
// template routes (nothing in AWS serves them), so the route comparisons leave them out.
const (
	openAPIPath = "/api/openapi.json"
	docsPath    = "/api/docs"
)

// mountDocs serves the local-only routes on mux, and adds them to shape (the routes the
// gateway's 404/405 answers know) so that another method on them is 405 like on any route.
func mountDocs(mux *http.ServeMux, shape *web.Router) {
	for path, h := range map[string]http.Handler{openAPIPath: openapi.JSONHandler(), docsPath: openapi.DocsHandler()} {
		mux.Handle("GET "+path, h) // GET patterns serve HEAD too
		shape.Handle("GET "+path, func(http.ResponseWriter, *http.Request) error { return nil })
	}
}
