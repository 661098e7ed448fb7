package transactions

import (
	"time"

	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// NewFunctionWithHook is NewFunction with afterApply run right after each cash movement is
// committed, before anything else happens: a test fails the request there (an error) or crashes
// it (a panic) to check what a retry does.
func NewFunctionWithHook(d *app.Deps, require func(web.HandlerFunc) web.HandlerFunc, now func() time.Time, afterApply func() error) *lambdahttp.Function {
	s := newService(d, now)
	s.afterApply = afterApply
	return newFunction(d, s, require)
}
