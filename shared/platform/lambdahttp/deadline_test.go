package lambdahttp_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// TestHandlerEndsBeforeTheInvocationDeadline: the handler's context ends ResponseReserve (at most
// a quarter of the time left) before the invocation's deadline, and the writes that follow an
// outcome (mongodb.Detach) end between the two, so a handler that waits for its database until
// its context ends still answers before Lambda cuts the invocation off. Without a deadline (the
// local server) the handler's context has none either. (Found by the deadline test in
// shared/hardening: the 503 came after the deadline, and slow bookkeeping after a 201 held the
// response for its own 3 s.)
func TestHandlerEndsBeforeTheInvocationDeadline(t *testing.T) {
	var handlerDeadline, followUpDeadline time.Time
	var hasDeadline bool
	fn := &lambdahttp.Function{Name: "slow", HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerDeadline, hasDeadline = r.Context().Deadline()
		fctx, cancel := mongodb.Detach(r.Context(), time.Hour)
		followUpDeadline, _ = fctx.Deadline()
		cancel()
		if hasDeadline {
			<-r.Context().Done() // a database call that outlives the request's time
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})}
	ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/slow", Resource: "/slow"}

	for _, budget := range []time.Duration{800 * time.Millisecond, 4 * time.Second} {
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		invocationDeadline, _ := ctx.Deadline()
		start := time.Now()
		resp, err := fn.ServeEvent(ctx, ev)
		took := time.Since(start)
		cancel()
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("ServeEvent: %v %+v", err, resp)
		}
		reserve := min(lambdahttp.ResponseReserve, budget/4)
		if !hasDeadline || invocationDeadline.Sub(handlerDeadline) < reserve-5*time.Millisecond {
			t.Errorf("budget %v: handler deadline %v before the invocation's, want %v", budget, invocationDeadline.Sub(handlerDeadline), reserve)
		}
		if took >= budget-reserve/2 {
			t.Errorf("budget %v: answered after %v, want before %v", budget, took, budget-reserve/2)
		}
		if !followUpDeadline.After(handlerDeadline) || !followUpDeadline.Before(invocationDeadline) {
			t.Errorf("budget %v: follow-up writes end %v before the invocation deadline, handler %v before", budget,
				invocationDeadline.Sub(followUpDeadline), invocationDeadline.Sub(handlerDeadline))
		}
	}

	if _, err := fn.ServeEvent(context.Background(), ev); err != nil || hasDeadline {
		t.Errorf("without an invocation deadline: err %v, handler deadline %v", err, hasDeadline)
	}
}
