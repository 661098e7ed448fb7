// Package obs is the service's observability: the JSON logger every function writes to, and
// CloudWatch Embedded Metric Format (EMF) lines that CloudWatch turns into metrics without an API
// call on the request path.
package obs

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// NewLogger returns a JSON logger writing to w at level. It uses the key names and the
// requestId injection of aws-lambda-go's lambdacontext logger (so lines look the same as the
// runtime's own in CloudWatch), but always writes JSON to w (lambdacontext.NewLogger picks the
// format from AWS_LAMBDA_LOG_FORMAT and always writes to stdout, which tests cannot capture).
//
// As a last line of defence, attributes whose key names a credential are redacted, so a careless
// `slog.String("password", ...)` cannot reach CloudWatch.
func NewLogger(w io.Writer, level slog.Leveler, attrs ...slog.Attr) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if sensitiveKey(a.Key) {
				return slog.String(a.Key, "[redacted]")
			}
			return lambdacontext.ReplaceAttr(groups, a)
		},
	})
	return slog.New(&lambdaRequestID{Handler: h}).With(attrsToAny(attrs)...)
}

// Discard is a logger that drops everything (tests and engines whose own logs are noise).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func attrsToAny(attrs []slog.Attr) []any {
	out := make([]any, len(attrs))
	for i, a := range attrs {
		out[i] = a
	}
	return out
}

// sensitiveKeys are substrings of attribute keys that name a credential.
var sensitiveKeys = []string{"password", "passwd", "secret", "token", "authorization", "cookie", "totp", "api_key", "apikey", "connection_string", "mongodb_uri"}

func sensitiveKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range sensitiveKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// lambdaRequestID adds the Lambda invocation's request id to every record logged with a context
// that carries one, as lambdacontext's own handler does.
type lambdaRequestID struct{ slog.Handler }

func (h *lambdaRequestID) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *lambdaRequestID) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &lambdaRequestID{Handler: h.Handler.WithAttrs(attrs)}
}

func (h *lambdaRequestID) WithGroup(name string) slog.Handler {
	return &lambdaRequestID{Handler: h.Handler.WithGroup(name)}
}
