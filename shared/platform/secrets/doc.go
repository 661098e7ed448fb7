// Package secrets reads CryptoVault's secrets (JWT signing keys, the MongoDB
// connection string) from AWS Secrets Manager and keeps them in memory.
//
// The design follows the constraints of AWS Lambda:
//
//   - Clients, caches and key rings are built once per instance, in init.
//     Requests never wait on Secrets Manager while a cached value exists: a
//     value older than the TTL is still served, and one background refresh is
//     started (stale-while-revalidate), so the cost of a refresh is never on
//     a request's critical path.
//   - A cold start must not fail because Secrets Manager is unreachable: the
//     function starts, requests that need a secret get an error wrapping
//     [ErrUnavailable] (mapped to 503 SECRETS_UNAVAILABLE by the web layer),
//     and the next call after a short backoff tries again, so the function
//     recovers on its own without hammering a dead endpoint.
//   - When a refresh fails, the cached value keeps being served
//     (stale-while-error) and a warning is logged.
//   - No secret value ever appears in a log line or an error string: errors
//     describe what failed (secret id, stage, cause), never the contents.
//
// JWT signing keys are stored as JSON {"kid":"...","secret":"..."}. Tokens are
// signed with the AWSCURRENT version and verified against AWSCURRENT and
// AWSPREVIOUS, so a rotation does not invalidate tokens that are in flight.
//
// Typical wiring in a Lambda's init:
//
//	client, err := secrets.NewClient(ctx, "")
//	cache := secrets.NewCache(client, secrets.CacheOptions{Logger: logger})
//	keys := secrets.NewSecretsManagerKeyRing(cache, os.Getenv("JWT_SECRET_ID"))
//	if err := keys.Check(initCtx); err != nil {
//		logger.Warn("signing key not available yet", "error", err) // keep starting
//	}
package secrets
