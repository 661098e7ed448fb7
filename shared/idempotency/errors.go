package idempotency

import (
	"errors"
	"net/http"
	"time"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// Envelope codes of the 409s (api.md "Idempotency").
const (
	// CodeKeyReused: the key was used for another route or another request body.
	CodeKeyReused = "IDEMPOTENCY_KEY_REUSED"
	// CodeKeyInProgress: the first request with this key has not finished yet.
	CodeKeyInProgress = "IDEMPOTENCY_KEY_IN_PROGRESS"
)

// ErrClaimLost is returned by Claim.Finish when the claim is no longer this request's: it was
// taken over after InFlightTimeout (or released by an earlier Finish). Nothing was stored; the
// request that holds the key now stores its own response, and the caller may still send its
// response to its client, since a re-run of the same operation answers the same.
var ErrClaimLost = errors.New("idempotency: claim lost to another request")

func keyReused() *web.Error {
	return web.NewError(http.StatusConflict, CodeKeyReused,
		"This Idempotency-Key was already used for a different request")
}

// keyInProgress suggests a retry after a second: the first request usually ends within that.
func keyInProgress() *web.Error {
	e := web.NewError(http.StatusConflict, CodeKeyInProgress,
		"A request with this Idempotency-Key is still in progress; retry later")
	e.RetryAfter = time.Second
	return e
}
