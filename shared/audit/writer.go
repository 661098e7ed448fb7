package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Limits on what a request contributes to an entry: the User-Agent is client-controlled, so it
// is bounded to keep entries (and exports) small.
const (
	maxUserAgentBytes = 512
	maxResourceBytes  = 256
)

// writeTimeout bounds one audit insert. The write is detached from the request's cancellation
// (see Record), so it needs its own bound: a slow database may delay a response by at most this.
const writeTimeout = 2 * time.Second

// Event is what a caller records. The Writer adds the id, the client's IP address and User-Agent,
// and the time.
type Event struct {
	// UserID is the user the entry belongs to (only that user can read it). It may be empty for
	// an attempt against an unknown account; such entries are kept for operators but no user
	// sees them.
	UserID string
	// Action is one of the Action constants (UPPER_SNAKE).
	Action string
	// Resource names what was acted on ("order:<id>", "BTC"); at most 256 bytes are kept.
	Resource string
	// Status is StatusSuccess or StatusFailure; empty means StatusSuccess.
	Status string
	// Details is returned to the user as is: never put a password, token, code or secret in it.
	Details map[string]any
}

// Writer appends entries to audit_logs. It is safe for concurrent use.
type Writer struct {
	db  func(ctx context.Context) (*mongo.Database, error)
	log *slog.Logger
	now func() time.Time
}

// NewWriter returns a Writer using db (the warm client's Database), logging failures to log. now
// replaces time.Now in tests; nil means time.Now.
func NewWriter(db func(ctx context.Context) (*mongo.Database, error), log *slog.Logger, now func() time.Time) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Writer{db: db, log: log, now: now}
}

// Record inserts an entry for e with the request's client IP address (r.RemoteAddr, which the
// Lambda adapter sets to API Gateway's sourceIp; a forwarded-for header is not used, since a
// client can forge it) and User-Agent.
//
// It never fails the user's request and returns nothing: a failed write is logged at error level
// (action, user id, request id and the error; never the details) for the alarms and operators.
// The write outlives the request's cancellation, so a client that hangs up right after a failed
// login cannot suppress its LOGIN_FAILED entry; writeTimeout bounds it instead.
func (w *Writer) Record(r *http.Request, e Event) {
	ctx := context.Background()
	var ip, ua string
	if r != nil {
		ctx = r.Context()
		ip, ua = clientIP(r.RemoteAddr), r.UserAgent()
	}
	w.record(ctx, e, ip, ua)
}

// RecordSystem inserts an entry for e that no client request caused — the matcher filling or
// expiring a resting order — so it has no IP address or User-Agent. Failures are handled as in
// Record.
func (w *Writer) RecordSystem(ctx context.Context, e Event) {
	w.record(ctx, e, "", "")
}

func (w *Writer) record(ctx context.Context, e Event, ip, ua string) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := mongodb.Detach(ctx, writeTimeout)
	defer cancel()
	if err := w.insert(ctx, e, ip, ua); err != nil {
		w.log.LogAttrs(ctx, slog.LevelError, "audit write failed",
			slog.String("action", e.Action),
			slog.String("user_id", e.UserID),
			slog.String("request_id", web.RequestIDFrom(ctx)),
			slog.String("error", err.Error()),
		)
	}
}

func (w *Writer) insert(ctx context.Context, e Event, ip, ua string) error {
	if !validAction(e.Action) {
		// A programming error; the value is not quoted in the log line's error, it is the
		// "action" attribute already.
		return errors.New("invalid action: not UPPER_SNAKE")
	}
	status := e.Status
	if status == "" {
		status = StatusSuccess
	}
	if status != StatusSuccess && status != StatusFailure {
		return errors.New("invalid status: must be success or failure")
	}
	details := e.Details
	if details == nil {
		details = map[string]any{} // always an object, so readers never see null
	}
	raw, err := bson.Marshal(details)
	if err != nil {
		// The encoder's message may quote a detail's value: keep only the type of failure.
		return errors.New("details cannot be encoded as a document")
	}
	doc := entry{
		ID:        bson.NewObjectID(),
		UserID:    e.UserID,
		Action:    e.Action,
		Resource:  truncateUTF8(e.Resource, maxResourceBytes),
		Status:    status,
		IPAddress: ip,
		UserAgent: truncateUTF8(ua, maxUserAgentBytes),
		Details:   bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: raw},
		// BSON dates hold milliseconds; truncating here keeps the value a test or a caller saw
		// equal to the stored one.
		CreatedAt: w.now().UTC().Truncate(time.Millisecond),
	}
	db, err := w.db(ctx)
	if err != nil {
		return err
	}
	if _, err := db.Collection(Collection).InsertOne(ctx, doc); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// clientIP strips the port from a RemoteAddr ("203.0.113.9:443", "[2001:db8::1]:443"); API
// Gateway's sourceIp has none, and is kept as is.
func clientIP(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// truncateUTF8 keeps at most n bytes of s without splitting a character; invalid UTF-8 is
// replaced first, since it could not be sent back as a JSON string unchanged.
func truncateUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
