package portfolio

import (
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/trading"
)

// New builds the portfolio function behind the process's auth guard, with the trading
// service's cancel of open sell orders (run before a holding is removed).
func New(d *app.Deps) (*lambdahttp.Function, error) {
	return NewFunction(d, trading.NewServiceFor(d, trading.Options{}).CancelOpenSells)
}
