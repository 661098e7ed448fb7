package audit

import (
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// NewFunctionWithService builds the function around a service with test options (a lower export
// cap), for the external tests.
func NewFunctionWithService(d *app.Deps, s *Service, require func(web.HandlerFunc) web.HandlerFunc) *lambdahttp.Function {
	return newFunction(d, s, require)
}
