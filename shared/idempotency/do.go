package idempotency

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// ReplayedHeader marks a response that Do replayed from the store instead of running the
// operation (informational, like Stripe's Idempotent-Replayed).
const ReplayedHeader = "Idempotency-Replayed"

// finishTimeout bounds storing the outcome. The store runs even if the client hung up: the
// operation has happened, and its retry should get the answer rather than run again.
const finishTimeout = 3 * time.Second

// Op is an operation run under Do. c is nil when the request has no Idempotency-Key; its methods
// accept that (see Claim). It returns the success status (2xx) and the body to encode as JSON, or
// an error: a *web.Error with a 4xx status is the operation's answer and is stored like a
// success; any other error is a failure (5xx), not stored.
type Op func(ctx context.Context, c *Claim) (status int, body any, err error)

// Do runs op for the request under the Idempotency-Key protocol and writes the response:
//
//   - no key: op runs with a nil Claim;
//   - malformed key: 422 (returned, nothing written);
//   - a stored response for the same route and fingerprint: written back as it was sent, with
//     ReplayedHeader; op does not run;
//   - key reused or in progress: the 409 is returned;
//   - otherwise op runs under a fresh or taken-over Claim, and its outcome is stored (2xx, 4xx)
//     or the claim released (anything else) before the response is written.
//
// userID is the caller; route names the operation ("POST /api/transactions") and fingerprint its
// parsed request in a canonical form (equal for requests that mean the same). As with every
// web.HandlerFunc, a returned error has not been written and goes to web.WriteError.
func (s *Store) Do(w http.ResponseWriter, r *http.Request, userID, route, fingerprint string, op Op) error {
	key, err := Key(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if key == "" {
		status, body, err := op(ctx, nil)
		if err != nil {
			return err
		}
		if status < 200 || status > 299 {
			return fmt.Errorf("idempotency: operation answered status %d without an error", status)
		}
		web.WriteJSON(w, status, body)
		return nil
	}

	claim, replay, err := s.Begin(ctx, userID, key, route, fingerprint)
	if err != nil {
		return err
	}
	if replay != nil {
		w.Header().Set(ReplayedHeader, "true")
		writeStored(w, *replay, nil)
		return nil
	}

	resp, header, err := run(r, claim, op)
	if err != nil {
		s.finish(r, claim, http.StatusInternalServerError, nil) // release: the retry runs again
		return err
	}
	s.finish(r, claim, resp.Status, resp.Body)
	writeStored(w, resp, header)
	return nil
}

// run runs op and renders its outcome as the bytes the client gets. A 4xx *web.Error is rendered
// through web.WriteError (the one envelope writer) into a buffer, so the stored body is exactly
// the envelope sent. A returned error is a failure not to store.
func run(r *http.Request, claim *Claim, op Op) (Response, http.Header, error) {
	status, body, err := op(r.Context(), claim)
	if err != nil {
		var we *web.Error
		if !errors.As(err, &we) || we.Status < 400 || we.Status > 499 {
			return Response{}, nil, err
		}
		buf := &bufferWriter{header: http.Header{}}
		web.WriteError(buf, r, err)
		return Response{Status: buf.status, Body: buf.body.Bytes()}, buf.header, nil
	}
	if status < 200 || status > 299 {
		return Response{}, nil, fmt.Errorf("idempotency: operation answered status %d without an error", status)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return Response{}, nil, fmt.Errorf("idempotency: encode response: %w", err)
	}
	// The newline matches web.WriteJSON, so a keyed and an unkeyed response are byte-identical.
	return Response{Status: status, Body: append(b, '\n')}, nil, nil
}

// finish calls Claim.Finish detached from the request's cancellation, logging what it cannot
// report: the response is already decided, and a failed store only means that a retry after
// InFlightTimeout runs the (re-runnable) operation again.
func (s *Store) finish(r *http.Request, claim *Claim, status int, body []byte) {
	ctx, cancel := mongodb.Detach(r.Context(), finishTimeout)
	defer cancel()
	if err := claim.Finish(ctx, status, body); err != nil {
		s.log.WarnContext(ctx, "idempotency outcome not stored; a retry runs the operation again",
			"request_id", web.RequestIDFrom(ctx), "status", status, "error", err.Error())
	}
}

// writeStored writes a stored response. Of the headers an error envelope set, only those that
// describe the body or the retry are kept (the security and CORS headers are the middleware's).
func writeStored(w http.ResponseWriter, resp Response, header http.Header) {
	h := w.Header()
	for _, k := range []string{"Retry-After", "Allow"} {
		if v := header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body) // a write error means the client is gone; nothing to do
}

// bufferWriter captures a response in memory.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
