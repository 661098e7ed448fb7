package ledger

import (
	"errors"
	"net/http"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// CodeInsufficientFunds is the error code of a change refused for want of funds (api.md).
const CodeInsufficientFunds = "INSUFFICIENT_FUNDS"

// Answer maps the ledger's errors that are a request's answer rather than a failure, for the
// functions that move money: no account (a valid session whose signup did not open one) is 404
// rather than a 500, and a change the balances cannot cover is 422 INSUFFICIENT_FUNDS. Any other
// error is returned as it is.
func Answer(err error) error {
	var e *web.Error
	switch {
	case errors.Is(err, ErrNoAccount):
		e = web.NewError(http.StatusNotFound, web.CodeNotFound, "Account not found")
	case errors.Is(err, ErrInsufficientFunds):
		e = web.NewError(http.StatusUnprocessableEntity, CodeInsufficientFunds, "Insufficient funds")
	default:
		return err
	}
	e.Cause = err
	return e
}
