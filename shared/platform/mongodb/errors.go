package mongodb

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// ErrUnavailable is matched (errors.Is) by every error meaning "the database cannot be reached".
var ErrUnavailable = errors.New("database unavailable")

type unavailableError struct{ cause error }

func (e *unavailableError) Error() string {
	if e.cause == nil {
		return ErrUnavailable.Error()
	}
	return ErrUnavailable.Error() + ": " + e.cause.Error()
}
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }
func (e *unavailableError) Unwrap() error        { return e.cause }

// stateChangeCodes are the server's answers that mean "this node cannot serve you now", not "your
// command is wrong": it is shutting down or stepping down, or is no longer the primary — what
// every Atlas failover and maintenance window produces for a moment. The driver retries once;
// when the retry meets the same, the request is as good as unavailable.
var stateChangeCodes = []int{
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
}

// IsUnavailable reports whether err means the database could not be reached (as opposed to a
// query that the database refused): no client, no server selectable, a network error, a
// connection pool cleared by a failover, or a node that answered it is shutting down or not
// the primary (stateChangeCodes).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var se mongo.ServerError
	if errors.As(err, &se) && slices.ContainsFunc(stateChangeCodes, se.HasErrorCode) {
		return true
	}
	// A cleared pool fails the operations waiting for a connection with an unexported error
	// that carries no NetworkError label; it is the driver's only RetryablePoolError.
	var cleared driver.RetryablePoolError
	return errors.Is(err, ErrUnavailable) ||
		errors.As(err, &topology.ServerSelectionError{}) ||
		errors.Is(err, topology.ErrTopologyClosed) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		mongo.IsNetworkError(err) ||
		(errors.As(err, &cleared) && cleared.Retryable())
}

// Classify is the web.Classifier for database errors: unreachable → 503 DATABASE_UNAVAILABLE
// (the driver's message, which may name hosts, stays in the log, never in the response).
// List the secrets classifier before this one: a connection string that could not be read from
// Secrets Manager is then reported as SECRETS_UNAVAILABLE, which is what an operator must fix.
func Classify(err error) *web.Error {
	if !IsUnavailable(err) {
		return nil
	}
	e := web.NewError(http.StatusServiceUnavailable, web.CodeDatabaseUnavailable, "The database is temporarily unavailable; please retry")
	e.Cause = err
	e.RetryAfter = time.Second // the driver reselects a server within about that
	return e
}
