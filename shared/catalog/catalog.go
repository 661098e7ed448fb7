// Package catalog lists every Lambda function: its logical id in template.yaml, its main package
// and its builder. The local server mounts functions from it, and the tests use it to check the
// template, build every bootstrap and invoke every events file. It is never linked into a Lambda
// binary (each binary imports only its own function package).
package catalog

import (
	"slices"
	"strings"
	"time"

	"github.com/cryptovault/serverless/shared/accounts"
	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/health"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/config"
	"github.com/cryptovault/serverless/shared/portfolio"
	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/trading"
	"github.com/cryptovault/serverless/shared/transactions"
)

// Entry is one function.
type Entry struct {
	// LogicalID is the AWS::Serverless::Function's id in template.yaml ("HealthFunction"); the
	// Makefile's build-<LogicalID> target builds it for `sam build`.
	LogicalID string
	// Name is the short name: functions/<Name>/main.go, events/<Name>-*.json.
	Name  string
	Build app.Build
	// LocalEvery, when set, replaces the template's schedule on the local server (the price
	// refresh runs every PRICE_REFRESH_INTERVAL there, not every minute).
	LocalEvery func(cfg *config.Config) time.Duration
}

// Package is the function's main package path relative to the module root.
func (e Entry) Package() string { return "./functions/" + e.Name }

// All is every function, in template order.
var All = []Entry{
	{LogicalID: "HealthFunction", Name: health.Name, Build: health.New},
	{LogicalID: "AuthFunction", Name: accounts.Name, Build: accounts.New},
	{LogicalID: "AuditFunction", Name: audit.Name, Build: audit.New},
	// Prices before market: the emulator test fills the price store with the prices run first.
	{LogicalID: "PricesFunction", Name: market.PricesName, Build: trading.NewPricesFunction,
		LocalEvery: func(cfg *config.Config) time.Duration { return cfg.PriceRefreshInterval }},
	{LogicalID: "MarketFunction", Name: market.MarketName, Build: market.NewMarketFunction},
	{LogicalID: "TransactionsFunction", Name: transactions.Name, Build: transactions.New},
	{LogicalID: "OrdersFunction", Name: trading.Name, Build: trading.New},
	{LogicalID: "PortfolioFunction", Name: portfolio.Name, Build: portfolio.New},
	// WebSocket: no REST routes; the local server serves it at /ws/prices (cmd/local/ws.go).
	{LogicalID: "StreamFunction", Name: stream.Name, Build: stream.New},
}

// ByLogicalID finds an entry.
func ByLogicalID(id string) (Entry, bool) {
	for _, e := range All {
		if e.LogicalID == id {
			return e, true
		}
	}
	return Entry{}, false
}

// TemplateRoutes maps code route patterns to the form template.yaml uses, sorted and without
// duplicates: "GET /api/{$}" (a path ending in a slash) is served by API Gateway's /api resource.
func TemplateRoutes(patterns []string) []string {
	out := make([]string, 0, len(patterns))
	for _, p := range patterns {
		out = append(out, strings.TrimSuffix(p, "/{$}"))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
