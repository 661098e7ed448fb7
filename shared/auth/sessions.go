package auth

// The sessions collection belongs to the accounts package (it creates, rotates and revokes
// sessions), but every function's guard reads revocations from it, so the part of its shape that
// both sides rely on is defined here, once. A session document is
//
//	{_id: "<session id>", user_id: "<user id>", expires_at: <date>, revoked_at: <date>, ...}
//
// where revoked_at is absent while the session is active and is set exactly once, to the time of
// revocation (logout, password change, refresh-token reuse), with $set on a filter that requires
// it to be absent. It is never cleared and never moved: the revocation cache reads revocations
// incrementally by revoked_at and would miss one whose timestamp went back in time.
// Other fields (refresh-token hashes, family, ...) are the accounts package's own business.
const (
	// SessionsCollection is the collection holding one document per login.
	SessionsCollection = "sessions"
	// SessionIDField is the session id (a string), the token's sid claim.
	SessionIDField = "_id"
	// SessionUserIDField is the owner's user id (a string), the token's sub claim.
	SessionUserIDField = "user_id"
	// SessionRevokedAtField is the BSON date the session was revoked; absent while it is active.
	SessionRevokedAtField = "revoked_at"
	// SessionExpiresAtField is the BSON date after which the session is dead anyway (its refresh
	// token's end of life). The TTL index the accounts package declares on it is housekeeping;
	// readers compare it with the clock themselves.
	SessionExpiresAtField = "expires_at"
)
