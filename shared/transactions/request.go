package transactions

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// Limits of POST /api/transactions.
const (
	// MaxDeposit is the largest deposit of one request (api.md: 1,000,000 USD).
	MaxDeposit money.USD = 100_000_000
	// MaxDescription is the longest description, in characters after trimming.
	MaxDescription = 200
	// maxDescriptionBytes is the ledger's own bound on an entry's description (UTF-8 bytes).
	// 200 characters of up to 4 bytes can exceed it; such a text is refused here with a 422
	// instead of failing in the ledger with a 500.
	maxDescriptionBytes = 500
)

// Descriptions of movements booked without one.
const (
	depositDescription    = ledger.DepositDescription
	withdrawalDescription = "Withdrawal"
)

// createRequest is the body of POST /api/transactions. Amount stays raw so that it is parsed by
// the money package from its JSON text (never through float64) and its error names the field.
type createRequest struct {
	Type        *string         `json:"type"`
	Amount      json.RawMessage `json:"amount"`
	Symbol      *string         `json:"symbol"`
	Description *string         `json:"description"`
}

// movement is a validated cash movement.
type movement struct {
	Type        ledger.EntryType
	Amount      money.USD
	Description string
}

// parseMovement decodes and validates the request, naming every bad field in one 422.
func parseMovement(r *http.Request) (movement, error) {
	var req createRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return movement{}, err
	}
	var f web.Fields
	var m movement

	switch {
	case req.Type == nil:
		f.Add("type", "is required")
	case *req.Type == string(ledger.TypeDeposit) || *req.Type == string(ledger.TypeWithdrawal):
		m.Type = ledger.EntryType(*req.Type)
	default:
		f.Add("type", "must be one of deposit, withdrawal")
	}

	if req.Symbol != nil && !strings.EqualFold(*req.Symbol, ledger.CashSymbol) {
		f.Add("symbol", "must be USD")
	}

	raw := bytes.TrimSpace(req.Amount)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		f.Add("amount", "is required")
	} else if err := m.Amount.UnmarshalJSON(raw); err != nil {
		f.Add("amount", money.FieldError(err))
	} else if err := m.Amount.CheckPositive(); err != nil {
		f.Add("amount", money.FieldError(err))
	} else if m.Type == ledger.TypeDeposit && m.Amount > MaxDeposit {
		f.Add("amount", "must be at most "+MaxDeposit.String()+" for a deposit")
	}

	if req.Description != nil {
		d := strings.TrimSpace(*req.Description)
		switch {
		case utf8.RuneCountInString(d) > MaxDescription:
			f.Add("description", fmt.Sprintf("must be at most %d characters", MaxDescription))
		case len(d) > maxDescriptionBytes:
			f.Add("description", fmt.Sprintf("must be at most %d bytes of UTF-8", maxDescriptionBytes))
		case strings.IndexFunc(d, unicode.IsControl) >= 0:
			// Control characters (newlines, escapes) have no place in a one-line label that
			// clients display and export to CSV.
			f.Add("description", "must not contain control characters")
		default:
			m.Description = d
		}
	}
	if err := f.Err(); err != nil {
		return movement{}, err
	}
	if m.Description == "" {
		m.Description = withdrawalDescription
		if m.Type == ledger.TypeDeposit {
			m.Description = depositDescription
		}
	}
	return m, nil
}

// fingerprint is the canonical form of a parsed movement for the idempotency store: requests
// that parse to the same movement ("0.5", 0.50, an omitted or "usd" symbol, a padded
// description) have the same fingerprint.
func (m movement) fingerprint() string {
	b, _ := json.Marshal(struct {
		Type        string `json:"type"`
		Cents       int64  `json:"cents"`
		Symbol      string `json:"symbol"`
		Description string `json:"description"`
	}{string(m.Type), int64(m.Amount), ledger.CashSymbol, m.Description})
	return string(b)
}
