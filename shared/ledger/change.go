package ledger

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/money"
)

// maxEntries bounds the entries of one change. With every amount and value bounded by
// validate (|x| <= 1e17) and reservations by the money maxima, 16 of them sum to at most
// ~3.2e18 < 9.2e18: no sum in buildChange can overflow int64.
const maxEntries = 16

// Change is one atomic balance change, the primitive every operation is built on (deposits here;
// withdrawals, reservations, fills and adjustments in the packages that own them).
//
// The cash and holdings deltas are not given: they are derived from Entries (Entry.effect), so a
// change cannot move a balance without its ledger entries. Available amounts follow their
// balances, minus what the change reserves. Every decreased field gets the condition "field >=
// amount taken" in the same update, so no balance or available amount can go negative.
//
// Examples: a withdrawal is Entries [withdrawal]; placing a limit buy is ReserveCash = cost and no
// entries; filling it is Entries [buy, fee] with ReserveCash = -cost (release, then pay).
type Change struct {
	UserID  string
	Entries []Entry // at most 16; each is completed by Apply (ID, UserID, Status, CreatedAt)
	// ReserveCash moves cash from available to reserved (> 0) or back (< 0); cash is unchanged.
	// A reservation is conditioned like any decrease; a release is not (checking "available +
	// release <= balance" would need $expr, which the local engine lacks), so releasing more than
	// the order reserved is the caller's bug: the orders package releases what it recorded.
	ReserveCash money.USD
	// ReserveHoldings does the same for coins, by symbol.
	ReserveHoldings map[string]money.Quantity
	// Filter adds the caller's own conditions to the update's filter, e.g.
	// {"idem.<key>": {$exists: false}} for an idempotency marker. It may not name the fields the
	// ledger manages (see managedField); a failed Filter is ErrPrecondition.
	Filter bson.D
	// Set adds fields to $set in the same update (that marker, say); same restriction.
	Set bson.D
	// Unset removes caller fields in the same update (a marker whose purpose ended with this
	// change, say); same restriction, and a field may not be both set and unset.
	Unset []string
}

// condition is "field >= min" on an account field.
type condition struct {
	field string // "cash", "cash_available", "holdings.BTC", "available.BTC"
	min   int64
}

// plan is a validated change, ready to send.
type plan struct {
	entries   []Entry
	docs      []entryDoc
	conds     []condition
	callerIDs []string // entry ids the caller chose (guarded against being pending already)
	deferred  []string // deferred unsets (UnsetLater, Record) this update carries
	cleanID   string   // the clean stamp's token when deferred removes pending entries, else ""
	filter    bson.D
	update    bson.D
}

// Apply commits a change with one conditional update of the account, then flushes its entries
// to transactions (see the package documentation). It returns the completed entries.
//
// Errors: ErrNoAccount; ErrInsufficientFunds when a condition failed; ErrPrecondition when
// Change.Filter did not match; ErrDuplicateEntry; ErrInvalid; database errors (wrapped; after one
// of those the change may or may not have been committed — the invariant holds either way). Once
// the commit is acknowledged Apply succeeds: a failed flush is logged and repaired by the next
// read, never reported, because a caller's retry would apply the change twice.
func (l *Ledger) Apply(ctx context.Context, c Change) ([]Entry, error) {
	p, err := l.buildChange(c)
	if err != nil {
		return nil, fmt.Errorf("ledger: apply for user %s: %w: %v", c.UserID, ErrInvalid, err)
	}
	db, err := l.db(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: apply for user %s: %w", c.UserID, err)
	}
	res, err := db.Collection(AccountsCollection).UpdateOne(ctx, p.filter, p.update)
	if err != nil {
		return nil, fmt.Errorf("ledger: apply for user %s: update account: %w", c.UserID, err)
	}
	if res.MatchedCount == 0 {
		return nil, l.explainMiss(ctx, db, c, p)
	}
	l.later.sent(c.UserID, p.deferred)
	l.cleans.acked(c.UserID, p.cleanID)
	l.stepped(stepCommitted)
	l.flushCommitted(ctx, db, c.UserID, p.docs)
	return p.entries, nil
}

// buildChange validates c, completes its entries and builds the filter and update.
func (l *Ledger) buildChange(c Change) (*plan, error) {
	if !validUserID(c.UserID) {
		return nil, errors.New("bad user id")
	}
	if len(c.Entries) > maxEntries {
		return nil, fmt.Errorf("%d entries, at most %d", len(c.Entries), maxEntries)
	}
	if c.ReserveCash < -money.MaxUSD || c.ReserveCash > money.MaxUSD {
		return nil, errors.New("cash reservation out of range")
	}
	if err := checkExtra(c.Filter); err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	if err := checkExtra(c.Set); err != nil {
		return nil, fmt.Errorf("set: %w", err)
	}
	if err := checkUnset(c.Unset, c.Set); err != nil {
		return nil, fmt.Errorf("unset: %w", err)
	}

	now := l.timestamp()
	p := &plan{}
	cash := int64(0)
	holdings := map[string]int64{}
	seen := map[string]bool{}
	for _, e := range c.Entries {
		if e.UserID != "" && e.UserID != c.UserID {
			return nil, fmt.Errorf("entry for user %s in a change of user %s", e.UserID, c.UserID)
		}
		if e.Status != "" && e.Status != StatusCompleted {
			return nil, fmt.Errorf("entry status %q", e.Status)
		}
		e.UserID, e.Status = c.UserID, StatusCompleted
		if e.ID == "" {
			e.ID = l.newID()
		} else {
			p.callerIDs = append(p.callerIDs, e.ID)
		}
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Millisecond)
		if err := e.validate(); err != nil {
			return nil, err
		}
		if seen[e.ID] {
			return nil, fmt.Errorf("entry id %s twice", e.ID)
		}
		seen[e.ID] = true
		dc, dq := e.effect()
		cash += dc
		if dq != 0 {
			holdings[e.Symbol] += dq
		}
		p.entries = append(p.entries, e)
		p.docs = append(p.docs, e.doc())
	}

	available := maps.Clone(holdings)
	for sym, q := range c.ReserveHoldings {
		if !validSymbol(sym) {
			return nil, fmt.Errorf("reservation of bad symbol %q", sym)
		}
		if q < -money.MaxQuantity || q > money.MaxQuantity {
			return nil, fmt.Errorf("reservation of %s out of range", sym)
		}
		available[sym] -= int64(q)
	}

	// Deltas in a fixed order (cash first, then symbols sorted), so that the same change always
	// produces the same command.
	type delta struct {
		field string
		v     int64
	}
	deltas := []delta{{"cash", cash}, {"cash_available", cash - int64(c.ReserveCash)}}
	for _, sym := range slices.Sorted(maps.Keys(holdings)) {
		deltas = append(deltas, delta{"holdings." + sym, holdings[sym]})
	}
	for _, sym := range slices.Sorted(maps.Keys(available)) {
		deltas = append(deltas, delta{"available." + sym, available[sym]})
	}

	inc := bson.D{}
	for _, d := range deltas {
		if d.v == 0 {
			continue // $inc by 0 would still create a missing holdings key
		}
		inc = append(inc, bson.E{Key: d.field, Value: d.v})
		if d.v < 0 {
			p.conds = append(p.conds, condition{field: d.field, min: -d.v})
		}
	}
	if len(inc) == 0 && len(p.entries) == 0 && len(c.Set) == 0 && len(c.Unset) == 0 {
		return nil, errors.New("the change changes nothing")
	}
	inc = append(inc, bson.E{Key: "version", Value: int64(1)})

	set := bson.D{{Key: "updated_at", Value: now}}
	for _, d := range p.docs {
		set = append(set, bson.E{Key: "pending." + d.ID, Value: d})
	}
	set = append(set, c.Set...)

	// $unset: the caller's fields, then the unsets deferred to this account's next update
	// (UnsetLater, Record) that do not collide with a path this update writes: a collision would
	// make the update invalid, and the field written now supersedes the deferred unset anyway.
	written := make([]string, 0, len(set))
	for _, e := range set {
		written = append(written, e.Key)
	}
	unset := bson.D{}
	seenUnset := map[string]bool{}
	for _, f := range c.Unset {
		if !seenUnset[f] {
			seenUnset[f] = true
			unset = append(unset, bson.E{Key: f, Value: ""})
		}
	}
	for _, f := range l.later.pending(c.UserID) {
		if seenUnset[f] || collides(f, written) {
			continue
		}
		seenUnset[f] = true
		p.deferred = append(p.deferred, f)
		unset = append(unset, bson.E{Key: f, Value: ""})
	}

	p.filter = bson.D{{Key: "_id", Value: c.UserID}}
	for _, cond := range p.conds {
		p.filter = append(p.filter, bson.E{Key: cond.field, Value: bson.D{{Key: "$gte", Value: cond.min}}})
	}
	for _, id := range p.callerIDs {
		p.filter = append(p.filter, bson.E{Key: "pending." + id, Value: bson.D{{Key: "$exists", Value: false}}})
	}
	p.filter = append(p.filter, c.Filter...)
	// Deferred unsets of recorded entries make this update a clean: it carries the clean stamp
	// like a clean of its own (see cleanedAtField).
	var currentDate bson.D
	if removesPending(p.deferred) {
		p.cleanID = newCleanID()
		set = append(set, bson.E{Key: cleanIDField, Value: p.cleanID})
		currentDate = bson.D{{Key: cleanedAtField, Value: true}}
	}
	p.update = bson.D{{Key: "$inc", Value: inc}, {Key: "$set", Value: set}}
	if len(unset) > 0 {
		p.update = append(p.update, bson.E{Key: "$unset", Value: unset})
	}
	if currentDate != nil {
		p.update = append(p.update, bson.E{Key: "$currentDate", Value: currentDate})
	}
	return p, nil
}

// managedPrefixes are the account fields only the ledger writes or conditions.
var managedPrefixes = []string{"_id", "cash", "cash_available", "holdings", "available", "pending", "version", "created_at", "updated_at", cleanedAtField, cleanIDField}

// checkExtra refuses caller filter or set keys that touch managed fields or are operators (an
// "$or" could bypass the ledger's own conditions).
func checkExtra(d bson.D) error {
	for _, e := range d {
		if e.Key == "" || strings.HasPrefix(e.Key, "$") {
			return fmt.Errorf("key %q not allowed", e.Key)
		}
		root, _, _ := strings.Cut(e.Key, ".")
		if slices.Contains(managedPrefixes, root) {
			return fmt.Errorf("key %q names a field the ledger manages", e.Key)
		}
	}
	return nil
}

// checkUnset refuses unset fields that checkExtra would refuse, and fields the same change sets
// (MongoDB rejects an update that sets and unsets one path).
func checkUnset(fields []string, set bson.D) error {
	keys := make(bson.D, 0, len(fields))
	for _, f := range fields {
		keys = append(keys, bson.E{Key: f})
	}
	if err := checkExtra(keys); err != nil {
		return err
	}
	written := make([]string, 0, len(set))
	for _, e := range set {
		written = append(written, e.Key)
	}
	for _, f := range fields {
		if collides(f, written) {
			return fmt.Errorf("field %q is also set", f)
		}
	}
	return nil
}

// collides reports whether path f is one of paths or an ancestor or descendant of one: two such
// paths cannot both be operated on in one update.
func collides(f string, paths []string) bool {
	for _, p := range paths {
		if f == p || strings.HasPrefix(f, p+".") || strings.HasPrefix(p, f+".") {
			return true
		}
	}
	return false
}

// explainMiss finds out why the update matched nothing, with one read (only on this failure
// path). The read comes after the update, so a concurrent change can make the answer approximate
// (a condition that failed may hold now); the outcome — nothing was applied — is exact.
func (l *Ledger) explainMiss(ctx context.Context, db *mongo.Database, c Change, p *plan) error {
	if len(p.conds) == 0 && len(p.callerIDs) == 0 && len(c.Filter) == 0 {
		return fmt.Errorf("ledger: apply for user %s: %w", c.UserID, ErrNoAccount)
	}
	var doc accountDoc
	err := db.Collection(AccountsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: c.UserID}},
		options.FindOne().SetProjection(bson.D{{Key: "pending", Value: 1}, {Key: "cash", Value: 1},
			{Key: "cash_available", Value: 1}, {Key: "holdings", Value: 1}, {Key: "available", Value: 1}})).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("ledger: apply for user %s: %w", c.UserID, ErrNoAccount)
	}
	if err != nil {
		return fmt.Errorf("ledger: apply for user %s: change not applied; reading the account: %w", c.UserID, err)
	}
	for _, id := range p.callerIDs {
		if _, ok := doc.Pending[id]; ok {
			return fmt.Errorf("ledger: apply for user %s: entry %s: %w", c.UserID, id, ErrDuplicateEntry)
		}
	}
	for _, cond := range p.conds {
		if have, ok := doc.field(cond.field); !ok || have < cond.min {
			return fmt.Errorf("ledger: apply for user %s: %s is %d, needs %d: %w", c.UserID, cond.field, have, cond.min, ErrInsufficientFunds)
		}
	}
	if len(c.Filter) > 0 {
		return fmt.Errorf("ledger: apply for user %s: %w", c.UserID, ErrPrecondition)
	}
	// Every condition holds now, so a concurrent change raced this one: at the moment of the
	// update the funds were short.
	return fmt.Errorf("ledger: apply for user %s: balance changed concurrently: %w", c.UserID, ErrInsufficientFunds)
}
