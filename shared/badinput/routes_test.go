package badinput_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
)

// field is one JSON body field of a route and what its odd values get.
type field struct {
	name string
	// money: the field is an amount (a JSON number or numeric string); its bad values are
	// badMoney plus tooPrecise and tooLarge, and a number is the right type.
	money bool
	// tooPrecise and tooLarge are values of a money field with one decimal too many and just
	// over its maximum.
	tooPrecise, tooLarge string
	// missing is the answer when the field is absent or null (default: 422 naming it).
	missing outcome
	// text, huge and ctrl are the answers to a hostile string (hostileText), a 60 KB string,
	// and a control character inside the valid value (default: 422 naming the field).
	text, huge, ctrl outcome
	// ignored: the route does not read the field (any value, any type is the base answer).
	ignored bool
}

// spec describes a route for the table. Every template route needs one.
type spec struct {
	// params are valid values of the path parameters (the user's own resources).
	params map[string]func(h *harness) string
	// body returns a valid body (fresh values at each call) when the route reads a JSON body;
	// nil when it reads none (its body cases are not sent: an ignored body of a logout would
	// log the user out).
	body   func(h *harness) map[string]any
	fields []field
	// base is the answer to the valid request (and so to it with unknown fields added).
	base outcome
	// empty is the answer to an empty body (the frontend's empty POSTs), default base.
	empty outcome
	// noAuth: the route needs no token (sent without one).
	noAuth bool
	// list: the route reads limit and offset.
	list bool
	// query are the route's other query parameters.
	query []queryParam
	// tokenDelivery: the route reads X-Token-Delivery (body or cookie) before changing anything.
	tokenDelivery bool
	// idempotent: the route reads Idempotency-Key.
	idempotent bool
}

// queryParam is a query parameter with good and bad values.
type queryParam struct {
	name      string
	good, bad []string
}

var seq atomic.Int64

// fresh is a unique email address for a signup that must succeed.
func fresh() string { return fmt.Sprintf("fresh%d@example.com", seq.Add(1)) }

// Answers of the valid requests of the routes that do not succeed with the table's user (it has
// no 2FA, its email is not verified, the address of verify-email is nobody's).
var (
	notSetUp      = fail(http.StatusConflict, "TWO_FACTOR_NOT_SET_UP")
	notEnabled    = fail(http.StatusConflict, "TWO_FACTOR_NOT_ENABLED")
	invalidCode   = fail(http.StatusUnprocessableEntity, "INVALID_CODE")
	wrongPassword = fail(http.StatusUnprocessableEntity, "INVALID_CREDENTIALS").writing(failureWrites...)
	loginRefused  = fail(http.StatusUnauthorized, "INVALID_CREDENTIALS").writing(failureWrites...)
)

func text(f string) field { return field{name: f} }

func param(v string) func(h *harness) string { return func(*harness) string { return v } }

// specs describes every route of template.yaml.
func specs() map[string]spec {
	created, ok := status(http.StatusCreated), status(http.StatusOK)
	orderID := func(h *harness) string { return h.orderID }
	return map[string]spec{
		// auth
		"POST /api/auth/signup": {
			noAuth: true, tokenDelivery: true, base: created,
			body: func(*harness) map[string]any {
				return map[string]any{"email": fresh(), "password": "Fresh9Password", "name": "Fresh User"}
			},
			fields: []field{
				text("email"),
				{name: "password", text: or(created, invalid("password")), ctrl: or(created, invalid("password"))},
				{name: "name", text: or(created, invalid("name"))},
			},
			empty: invalid("email"),
		},
		"POST /api/auth/login": {
			noAuth: true, tokenDelivery: true, base: ok,
			body: func(*harness) map[string]any {
				return map[string]any{"email": userEmail, "password": userPassword}
			},
			fields: []field{
				{name: "email", text: loginRefused, huge: loginRefused, ctrl: loginRefused},
				{name: "password", text: loginRefused, huge: loginRefused, ctrl: loginRefused},
				// The user has no 2FA: the code is not read.
				{name: "totp_code", missing: ok, text: ok, huge: ok, ctrl: ok},
			},
			empty: invalid("email"),
		},
		"POST /api/auth/logout": {},
		"GET /api/auth/me":      {base: ok},
		"POST /api/auth/refresh": {
			noAuth: true, base: unauthenticated,
			body: func(*harness) map[string]any { return map[string]any{"refresh_token": "not-a-refresh-token"} },
			fields: []field{
				{name: "refresh_token", missing: unauthenticated, text: unauthenticated, huge: unauthenticated, ctrl: unauthenticated},
			},
		},
		"POST /api/auth/verify-email": {
			noAuth: true, tokenDelivery: true, base: invalidCode,
			body: func(*harness) map[string]any {
				return map[string]any{"email": "nobody@example.com", "code": "123456"}
			},
			fields: []field{
				text("email"),
				{name: "code", missing: invalid("code"), text: invalidCode, huge: invalidCode, ctrl: invalidCode},
				{name: "token", missing: invalidCode, text: invalidCode, huge: invalidCode, ctrl: invalidCode},
			},
			empty: invalid("email"),
		},
		"POST /api/auth/resend-verification": {
			noAuth: true, base: ok,
			body:   func(*harness) map[string]any { return map[string]any{"email": "nobody@example.com"} },
			fields: []field{text("email")},
			empty:  invalid("email"),
		},
		"POST /api/auth/2fa/setup": {},
		"POST /api/auth/2fa/verify": {
			base:   notSetUp,
			body:   func(*harness) map[string]any { return map[string]any{"code": "123456"} },
			fields: []field{{name: "code", text: notSetUp, huge: notSetUp, ctrl: notSetUp}},
			empty:  invalid("code"),
		},
		"GET /api/auth/2fa/status": {base: ok},
		"POST /api/auth/2fa/disable": {
			base: notEnabled,
			body: func(*harness) map[string]any { return map[string]any{"password": userPassword, "code": "123456"} },
			fields: []field{
				{name: "password", text: notEnabled, huge: notEnabled, ctrl: notEnabled},
				{name: "code", text: notEnabled, huge: notEnabled, ctrl: notEnabled},
			},
			empty: invalid("password"),
		},
		"POST /api/auth/2fa/backup-codes": {
			base:   notEnabled,
			body:   func(*harness) map[string]any { return map[string]any{"code": "123456"} },
			fields: []field{{name: "code", text: notEnabled, huge: notEnabled, ctrl: notEnabled}},
			empty:  invalid("code"),
		},
		"POST /api/auth/change-password": {
			// A wrong current password: the valid body never changes the user's password.
			base: wrongPassword,
			body: func(*harness) map[string]any {
				return map[string]any{"current_password": "Wrong9Password", "new_password": "Another9Password"}
			},
			fields: []field{
				{name: "current_password", text: wrongPassword, huge: wrongPassword, ctrl: wrongPassword},
				{name: "new_password", text: or(wrongPassword, invalid("new_password")), ctrl: or(wrongPassword, invalid("new_password"))},
			},
			empty: invalid("current_password"),
		},

		// audit
		"GET /api/audit-logs": {base: ok, list: true, query: []queryParam{
			{name: "action", good: []string{"login", "USER_SIGNUP"}, bad: []string{"(a+)+$", ".*", "USER.LOGIN", "$where", "a b", strings.Repeat("a", 65), "login\x00"}},
		}},
		"GET /api/audit-logs/summary": {base: ok, query: []queryParam{days(365)}},
		"GET /api/audit-logs/export": {base: ok, query: []queryParam{days(365),
			{name: "format", good: []string{"json", "csv"}, bad: []string{"xml", "CSV", "JSON", "$ne", "csv\x00"}}}},
		"GET /api/audit-logs/{id}": {base: ok, params: map[string]func(*harness) string{"id": func(h *harness) string { return h.auditID }}},

		// market and health
		"GET /api/crypto":                  {noAuth: true, base: ok},
		"GET /api/crypto/{symbol}":         {noAuth: true, base: ok, params: map[string]func(*harness) string{"symbol": param("btc")}},
		"GET /api/crypto/{symbol}/history": {noAuth: true, base: ok, params: map[string]func(*harness) string{"symbol": param("bitcoin")}, query: []queryParam{days(365)}},
		"GET /health":                      {noAuth: true, base: ok},
		"GET /api/health":                  {noAuth: true, base: ok},
		"GET /api":                         {noAuth: true, base: ok},
		"GET /api/status":                  {noAuth: true, base: ok},
		"POST /api/status": {
			// Any JSON object is accepted: it has no fields to get wrong.
			noAuth: true, base: ok,
			body: func(*harness) map[string]any { return map[string]any{"client": "table"} },
		},

		// transactions
		"GET /api/transactions": {base: ok, list: true, query: []queryParam{
			{name: "type", good: []string{"deposit", "adjustment"}, bad: []string{"DEPOSIT", "all", "$ne", "deposit,withdrawal"}},
			{name: "symbol", good: []string{"btc", "USD"}, bad: []string{"XYZ", "$ne", "BTC/USD", "ＢＴＣ"}},
		}},
		"GET /api/transactions/stats/overview": {base: ok},
		"GET /api/transactions/{id}":           {base: ok, params: map[string]func(*harness) string{"id": func(h *harness) string { return h.transactionID }}},
		"POST /api/transactions": {
			base: created, idempotent: true,
			body: func(*harness) map[string]any { return map[string]any{"type": "deposit", "amount": "10.00"} },
			fields: []field{
				text("type"),
				{name: "amount", money: true, tooPrecise: `"1.001"`, tooLarge: `"1000000.01"`},
				{name: "symbol", missing: created},
				{name: "description", missing: created, text: or(created, invalid("description"))},
			},
			empty: invalid("type"),
		},

		// orders
		"GET /api/orders": {base: ok, list: true, query: []queryParam{
			{name: "status", good: []string{"open", "filled"}, bad: []string{"OPEN", "opened", "$ne", "open,filled"}},
		}},
		"GET /api/orders/{id}":         {base: ok, params: map[string]func(*harness) string{"id": orderID}},
		"POST /api/orders/{id}/cancel": {params: map[string]func(*harness) string{"id": orderID}},
		"POST /api/orders": {
			// A limit buy far below the market: it rests, reserving about a dollar.
			base: created, idempotent: true,
			body: func(*harness) map[string]any {
				return map[string]any{"trading_pair": "BTC/USD", "order_type": "limit", "side": "buy", "amount": "0.001", "price": "1000"}
			},
			fields: []field{
				text("trading_pair"), text("order_type"), text("side"),
				{name: "amount", money: true, tooPrecise: `"0.000000001"`, tooLarge: `"1000000001"`},
				{name: "price", money: true, tooPrecise: `"1000.000000001"`, tooLarge: `"1000000001"`},
			},
			empty: invalid("trading_pair"),
		},

		// portfolio
		"GET /api/portfolio":                     {base: ok},
		"GET /api/portfolio/holding/{symbol}":    {base: ok, params: map[string]func(*harness) string{"symbol": param("BTC")}},
		"DELETE /api/portfolio/holding/{symbol}": {params: map[string]func(*harness) string{"symbol": param("BTC")}},
		"POST /api/portfolio/holding": {
			base: created, idempotent: true,
			body: func(*harness) map[string]any { return map[string]any{"symbol": "ETH", "amount": "0.001"} },
			fields: []field{
				text("symbol"),
				{name: "amount", money: true, tooPrecise: `"0.000000001"`, tooLarge: `"1000000001"`},
				// api.md: name is ignored, whatever its type.
				{name: "name", ignored: true},
			},
			empty: invalid("symbol"),
		},
	}
}

// days is the days parameter of the audit and history routes (1–max).
func days(max int) queryParam {
	return queryParam{name: "days", good: []string{"1", fmt.Sprint(max)},
		bad: []string{"0", fmt.Sprint(max + 1), "-1", "7.0", "7.5", "1e2", "x", "99999999999999999999", "$ne"}}
}
