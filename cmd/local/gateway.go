package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/platform/apigateway"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/samtemplate"
)

// stage is the stage name in the events the local gateway sends. The local server has no stage
// prefix in its URLs (like a custom domain), so requestContext.path equals the path.
const stage = "local"

// maxEventBody is API Gateway's payload limit; the functions enforce their own, smaller one.
const maxEventBody = 10 << 20

// gateway plays API Gateway: it routes each template route to its function's handler and
// answers unknown paths and methods itself, in the API's error envelope.
type gateway struct {
	mux       *http.ServeMux
	fallback  http.Handler // 404/405 envelopes with CORS and security headers
	log       *slog.Logger
	functions []mounted
	throttle  *throttler // the template's throttling table; nil: off (-throttle off)
}

type mounted struct {
	fn        *lambdahttp.Function
	schedules []string
	// every replaces the schedules locally when the catalog says so (0: use the template's).
	every time.Duration
}

func newGateway(tpl *samtemplate.Template, deps *app.Deps, log *slog.Logger) (*gateway, error) {
	g := &gateway{mux: http.NewServeMux(), log: log}
	shape := deps.Router() // the same routes, for the fallback to tell 404 from 405
	for _, tf := range tpl.Functions() {
		entry, ok := catalog.ByLogicalID(tf.LogicalID)
		if !ok {
			return nil, fmt.Errorf("template function %s has no catalog entry", tf.LogicalID)
		}
		fn, err := entry.Build(deps)
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", tf.LogicalID, err)
		}
		if err := checkRoutes(tf, fn); err != nil {
			return nil, err
		}
		m := mounted{fn: fn, schedules: tf.Schedules}
		if entry.LocalEvery != nil && len(tf.Schedules) > 0 {
			m.every = entry.LocalEvery(deps.Config)
		}
		g.functions = append(g.functions, m)
		for _, route := range tf.Routes {
			h := g.invoke(fn, route)
			// API Gateway routes /x/ to the /x resource; the function then decides.
			for _, p := range []string{route.Path, strings.TrimSuffix(route.Path, "/") + "/{$}"} {
				pattern := route.Method + " " + p
				g.mux.Handle(pattern, h)
				if route.Method != http.MethodOptions {
					shape.Handle(pattern, func(http.ResponseWriter, *http.Request) error { return nil })
				}
			}
		}
	}
	mountDocs(g.mux, shape) // local-only: /api/openapi.json and /api/docs (docs.go)
	g.fallback = deps.HTTP("gateway", shape)
	return g, nil
}

// checkRoutes refuses to start when the template and the code disagree: a route in the template
// that the function does not serve would 404 in AWS too, and a route in the code that the template
// lacks is unreachable there.
func checkRoutes(tf samtemplate.Function, fn *lambdahttp.Function) error {
	var fromTemplate []string
	for _, r := range tf.Routes {
		if r.Method != http.MethodOptions {
			fromTemplate = append(fromTemplate, r.Method+" "+r.Path)
		}
	}
	fromCode := catalog.TemplateRoutes(fn.Routes)
	slices.Sort(fromTemplate)
	fromTemplate = slices.Compact(fromTemplate)
	if !slices.Equal(fromTemplate, fromCode) {
		return fmt.Errorf("%s: template routes %v differ from code routes %v", tf.LogicalID, fromTemplate, fromCode)
	}
	return nil
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := g.mux.Handler(r); pattern == "" {
		g.serveMiss(w, r)
		return
	}
	g.mux.ServeHTTP(w, r)
}

// serveMiss answers a request that matches no route: 404, or 405 for a known path. Like API
// Gateway, it decides on the method and path alone, so the body and its type are not looked at.
func (g *gateway) serveMiss(w http.ResponseWriter, r *http.Request) {
	miss := r.Clone(r.Context())
	miss.Header.Del("Content-Type")
	miss.Body, miss.ContentLength = http.NoBody, 0
	g.fallback.ServeHTTP(w, miss)
}

// invoke returns the handler that sends a request matched to route to fn as an API Gateway event.
func (g *gateway) invoke(fn *lambdahttp.Function, route samtemplate.Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.throttle.admit(w, r, route) {
			return // 429 RATE_LIMITED, before the function runs
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxEventBody+1))
		if err != nil || len(body) > maxEventBody {
			// API Gateway refuses payloads over its limit before any function runs.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = w.Write([]byte(`{"message":"Request Too Long"}`))
			return
		}
		ev := apigateway.Event(r, route.Path, body, apigateway.Stage{Name: stage}, newRequestID())
		resp, err := fn.ServeEvent(r.Context(), ev)
		if err != nil {
			// In AWS a handler error is a bare 502 from API Gateway.
			g.log.Error("function failed", "function", fn.Name, "error", err.Error())
			http.Error(w, `{"message": "Internal server error"}`, http.StatusBadGateway)
			return
		}
		if err := apigateway.WriteResponse(w, resp); err != nil {
			g.log.Error("bad function response", "function", fn.Name, "error", err.Error())
		}
	})
}

// newRequestID makes an id shaped like API Gateway's (a random UUID).
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
