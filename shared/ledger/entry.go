package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/cryptovault/serverless/shared/money"
)

// EntryType is the type of a ledger entry.
type EntryType string

// Entry types (api.md: transaction.type).
const (
	TypeDeposit    EntryType = "deposit"    // cash in: cash += amount
	TypeWithdrawal EntryType = "withdrawal" // cash out: cash -= amount
	TypeBuy        EntryType = "buy"        // holdings[symbol] += amount, cash -= value
	TypeSell       EntryType = "sell"       // holdings[symbol] -= amount, cash += value
	TypeFee        EntryType = "fee"        // cash -= amount
	TypeAdjustment EntryType = "adjustment" // holdings[symbol] += amount (signed); no cash
)

// CashSymbol is the symbol of cash entries.
const CashSymbol = "USD"

// StatusCompleted is the status of every entry: an entry exists only once its change happened.
const StatusCompleted = "completed"

// maxDescription bounds a description (bytes); handlers validate user text more strictly.
const maxDescription = 500

// Entry is one ledger entry: one document of transactions.
type Entry struct {
	ID     string    // 24 hex characters (see DerivedID); set by Apply when empty
	UserID string    // set by Apply
	Type   EntryType // see the Type* constants
	// Symbol is CashSymbol for deposit, withdrawal and fee; a coin symbol (upper-case letters and
	// digits) for buy, sell and adjustment.
	Symbol string
	// Amount is in minor units of Symbol (cents for USD, 1e-8 for coins): positive, except an
	// adjustment, which is signed and non-zero.
	Amount int64
	// Price is the coin's price at booking time for buy and sell (required) and adjustment
	// (optional); nil for cash entries.
	Price *money.Price
	// Value is the USD value at booking time: equal to Amount for cash entries; for buy and sell
	// the cash that moved before the fee (>= 0); for an adjustment its signed valuation.
	Value       money.USD
	Description string
	Status      string    // StatusCompleted; set by Apply
	OrderID     string    // the order a buy, sell or fee belongs to; "" (stored as null) otherwise
	CreatedAt   time.Time // set by Apply when zero; UTC, millisecond precision
}

// entryDoc is the stored form of an Entry, in transactions and in an account's pending map.
type entryDoc struct {
	ID          string    `bson:"_id"`
	UserID      string    `bson:"user_id"`
	Type        string    `bson:"type"`
	Symbol      string    `bson:"symbol"`
	Amount      int64     `bson:"amount"`
	Price       *int64    `bson:"price"`
	Value       int64     `bson:"value"`
	Description string    `bson:"description"`
	Status      string    `bson:"status"`
	OrderID     *string   `bson:"order_id"`
	CreatedAt   time.Time `bson:"created_at"`
}

func (e Entry) doc() entryDoc {
	d := entryDoc{
		ID: e.ID, UserID: e.UserID, Type: string(e.Type), Symbol: e.Symbol, Amount: e.Amount,
		Value: int64(e.Value), Description: e.Description, Status: e.Status, CreatedAt: e.CreatedAt,
	}
	if e.Price != nil {
		p := int64(*e.Price)
		d.Price = &p
	}
	if e.OrderID != "" {
		d.OrderID = &e.OrderID
	}
	return d
}

func (d entryDoc) entry() Entry {
	e := Entry{
		ID: d.ID, UserID: d.UserID, Type: EntryType(d.Type), Symbol: d.Symbol, Amount: d.Amount,
		Value: money.USD(d.Value), Description: d.Description, Status: d.Status,
		CreatedAt: d.CreatedAt.UTC(),
	}
	if d.Price != nil {
		p := money.Price(*d.Price)
		e.Price = &p
	}
	if d.OrderID != nil {
		e.OrderID = *d.OrderID
	}
	return e
}

// isCash reports whether entries of type t move cash only.
func (t EntryType) isCash() bool {
	return t == TypeDeposit || t == TypeWithdrawal || t == TypeFee
}

// effect is what the entry does to the balances: the change of cash (cents) and of
// holdings[e.Symbol] (1e-8 units). This is the one definition of "balance = sum of the ledger".
func (e Entry) effect() (cash, coins int64) {
	switch e.Type {
	case TypeDeposit:
		return e.Amount, 0
	case TypeWithdrawal, TypeFee:
		return -e.Amount, 0
	case TypeBuy:
		return -int64(e.Value), e.Amount
	case TypeSell:
		return int64(e.Value), -e.Amount
	case TypeAdjustment:
		return 0, e.Amount
	}
	return 0, 0
}

// validate checks an entry completed by Apply. Bounds keep every sum of a change's entries far
// from int64 overflow (see maxEntries).
func (e Entry) validate() error {
	if !validID(e.ID) {
		return fmt.Errorf("entry id %q: want 1-64 characters of [0-9A-Za-z_-]", e.ID)
	}
	if len(e.Description) > maxDescription {
		return fmt.Errorf("entry %s: description longer than %d bytes", e.ID, maxDescription)
	}
	if e.Value < -money.MaxUSD || e.Value > money.MaxUSD {
		return fmt.Errorf("entry %s: value out of range", e.ID)
	}
	switch {
	case e.Type.isCash():
		if e.Symbol != CashSymbol {
			return fmt.Errorf("entry %s: %s must have symbol %s", e.ID, e.Type, CashSymbol)
		}
		if e.Amount <= 0 || e.Amount > int64(money.MaxUSD) {
			return fmt.Errorf("entry %s: %s amount must be in 1..%d cents", e.ID, e.Type, money.MaxUSD)
		}
		if e.Price != nil {
			return fmt.Errorf("entry %s: a cash entry has no price", e.ID)
		}
		if int64(e.Value) != e.Amount {
			return fmt.Errorf("entry %s: a cash entry's value must equal its amount", e.ID)
		}
	case e.Type == TypeBuy || e.Type == TypeSell || e.Type == TypeAdjustment:
		if !validSymbol(e.Symbol) {
			return fmt.Errorf("entry %s: %s needs a coin symbol, got %q", e.ID, e.Type, e.Symbol)
		}
		if e.Amount == 0 || e.Amount > int64(money.MaxQuantity) || e.Amount < -int64(money.MaxQuantity) {
			return fmt.Errorf("entry %s: amount out of range", e.ID)
		}
		if e.Type != TypeAdjustment && e.Amount < 0 {
			return fmt.Errorf("entry %s: a %s amount must be positive", e.ID, e.Type)
		}
		if e.Type != TypeAdjustment && (e.Price == nil || *e.Price <= 0 || e.Value < 0) {
			return fmt.Errorf("entry %s: a %s needs a positive price and a value >= 0", e.ID, e.Type)
		}
		if e.Price != nil && (*e.Price < 0 || *e.Price > money.MaxPrice) {
			return fmt.Errorf("entry %s: price out of range", e.ID)
		}
	default:
		return fmt.Errorf("entry %s: unknown type %q", e.ID, e.Type)
	}
	return nil
}

// validID: ids are map keys in the account (pending.<id>), so they must not contain "." or
// start with "$"; the allowed set is a safe subset that also covers ObjectID hex.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validSymbol: coin symbols are map keys too (holdings.<SYM>): 1-16 upper-case letters and
// digits, never the cash symbol.
func validSymbol(s string) bool {
	if s == "" || len(s) > 16 || s == CashSymbol {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// DerivedID returns a deterministic entry id for parts: 24 hex characters (the shape of every
// other id) of SHA-256 over the length-prefixed parts, so different part lists never collide by
// concatenation. Use it only for an entry whose change can be committed at most once by
// construction (e.g. inside the document insert that opens the account): see the package
// documentation on ids.
func DerivedID(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
