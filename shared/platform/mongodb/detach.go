package mongodb

import (
	"context"
	"time"
)

type followUpKey struct{}

// WithFollowUpDeadline records until when the writes that follow a request's outcome (see Detach)
// may run. The Lambda adapter sets it a little before the invocation's deadline and gives the
// handler's own context an earlier deadline, so that bookkeeping after a slow operation still
// fits before Lambda ends the invocation.
func WithFollowUpDeadline(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, followUpKey{}, t)
}

// Detach returns the context for a write that must outlive the cancellation of the request that
// caused it (the change has happened; recording it saves the next reader the work) but not the
// invocation: it ends after timeout, or at the follow-up deadline (else ctx's deadline) if that
// is sooner. A write still running at the invocation's deadline would hold the response until
// Lambda cuts it off, and the client would get the gateway's error instead of the answer.
func Detach(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	end := time.Now().Add(timeout)
	limit, ok := ctx.Value(followUpKey{}).(time.Time)
	if !ok {
		limit, ok = ctx.Deadline()
	}
	if ok && limit.Before(end) {
		end = limit
	}
	return context.WithDeadline(context.WithoutCancel(ctx), end)
}
