package ledger

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Collection names.
const (
	AccountsCollection     = "accounts"
	TransactionsCollection = "transactions"
)

// Errors callers branch on (errors.Is); the returned errors wrap them with context.
var (
	// ErrNoAccount: the user has no account (never opened).
	ErrNoAccount = errors.New("ledger: no account")
	// ErrInsufficientFunds: a decrease would make a balance or an available amount negative (the
	// API's 422 INSUFFICIENT_FUNDS).
	ErrInsufficientFunds = errors.New("ledger: insufficient funds")
	// ErrPrecondition: the caller's own condition (Change.Filter) did not hold, e.g. an
	// idempotency marker is already set.
	ErrPrecondition = errors.New("ledger: precondition failed")
	// ErrDuplicateEntry: a caller-provided entry id is already pending in the account: the same
	// change was committed before and not flushed yet.
	ErrDuplicateEntry = errors.New("ledger: entry id already pending")
	// ErrInvalid: the change itself is malformed (a programming error of the caller, or input
	// that should have been validated before).
	ErrInvalid = errors.New("ledger: invalid change")
)

// Options configures a Ledger. Zero fields take defaults.
type Options struct {
	// Now is the clock for created_at and updated_at (default time.Now). Times are stored in UTC
	// with millisecond precision, which is what BSON keeps.
	Now func() time.Time
	// Logger receives warnings about flushes left for later (default: discard).
	Logger *slog.Logger
	// NewID makes entry ids (default: a new ObjectID in hex). Ids must be unique forever and
	// valid map keys: see validID.
	NewID func() string
}

// Ledger books balance changes. It is safe for concurrent use, and any number of Ledgers (in
// any number of processes) may work on the same database at once.
type Ledger struct {
	db    func(ctx context.Context) (*mongo.Database, error)
	now   func() time.Time
	log   *slog.Logger
	newID func() string

	// step, when set (tests only), is called after each step of a change so that a test can
	// inject a failure exactly between two steps.
	step func(name string)

	// later holds the unsets deferred to each account's next update (see laterSet).
	later laterSet
	// cleans remembers this Ledger's acknowledged clean stamps (see cleanMarks).
	cleans cleanMarks
	// wall is the clock Entries compares with the server's cleaned_at: the real one, unlike now
	// (which may be a test's clock for created_at); tests move it to simulate elapsed time.
	wall func() time.Time
}

// Steps reported to Ledger.step.
const (
	stepCommitted = "committed" // the account update (or insert) is acknowledged
	stepInserted  = "inserted"  // the entries are in transactions
)

// New returns a Ledger on the database that db returns (mongodb.Client.Database: the warm
// client). It does no I/O.
func New(db func(ctx context.Context) (*mongo.Database, error), opts Options) *Ledger {
	l := &Ledger{db: db, now: opts.Now, log: opts.Logger, newID: opts.NewID, wall: time.Now}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.newID == nil {
		l.newID = func() string { return bson.NewObjectID().Hex() }
	}
	return l
}

// timestamp is the current time as BSON stores it, so that a returned Entry equals the stored one.
func (l *Ledger) timestamp() time.Time {
	return l.now().UTC().Truncate(time.Millisecond)
}

func (l *Ledger) stepped(name string) {
	if l.step != nil {
		l.step(name)
	}
}

// validUserID bounds user ids: they are document ids and appear in logs.
func validUserID(id string) bool {
	return id != "" && len(id) <= 128
}
