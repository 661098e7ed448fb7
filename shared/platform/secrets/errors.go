package secrets

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// ErrUnavailable is wrapped by every failure to obtain a usable secret:
// network errors, throttling, 5xx, access denied, a missing AWSCURRENT
// version, a malformed value, or a caller deadline that expired while waiting.
// Callers test it with errors.Is to answer 503 SECRETS_UNAVAILABLE instead of
// 500, because the condition is operational and usually transient.
var ErrUnavailable = errors.New("secrets unavailable")

// ErrUnknownKey is returned by [KeyRing.VerificationKey] when no current or
// previous key has the requested kid. It is deliberately distinct from
// [ErrUnavailable]: a token naming an unknown key is the client's problem
// (401), not an outage (503).
var ErrUnknownKey = errors.New("unknown signing key id")

// ErrInvalidSecret is wrapped when a secret was read but its value does not
// have the expected shape (bad JSON, short key, wrong URI scheme). When it
// comes from a fetch path it is wrapped together with [ErrUnavailable], so the
// web layer still answers 503 while logs can tell misconfiguration apart from
// an outage.
var ErrInvalidSecret = errors.New("secret value is malformed")

// fetchError reports a failed read of one secret version. Its message is
// built only from the secret id, the stage and a description of the failure,
// never from response bodies, so it cannot carry a secret value.
type fetchError struct {
	secretID string
	stage    string
	reason   string
	cause    error // for errors.Is/As (e.g. ResourceNotFoundException); may be nil
}

func (e *fetchError) Error() string {
	return fmt.Sprintf("%s: secret %q (%s): %s", ErrUnavailable.Error(), e.secretID, e.stage, e.reason)
}

func (e *fetchError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.cause}
}

// newFetchError wraps an SDK error. A deserialization failure may quote the
// (successful, secret-bearing) response body, so its text and cause are
// dropped; every other SDK error describes an error response or a transport
// failure and is safe to show.
func newFetchError(secretID, stage string, err error) error {
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return &fetchError{secretID: secretID, stage: stage, reason: "malformed response from Secrets Manager"}
	}
	return &fetchError{secretID: secretID, stage: stage, reason: err.Error(), cause: err}
}

// isNotFound reports whether err says the secret or the stage does not exist.
func isNotFound(err error) bool {
	var rnf *types.ResourceNotFoundException
	return errors.As(err, &rnf)
}
