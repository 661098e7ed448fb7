package transactions

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// entryTypes are the values of the type filter, in the contract's order.
var entryTypes = []string{
	string(ledger.TypeDeposit), string(ledger.TypeWithdrawal), string(ledger.TypeBuy),
	string(ledger.TypeSell), string(ledger.TypeFee), string(ledger.TypeAdjustment),
}

// coins are the supported coins (api.md, market): the symbols a coin entry can have.
// TODO(market): take this list from the market package once it exports its coin list.
var coins = []string{"BTC", "ETH", "USDT", "BNB", "SOL", "XRP", "USDC", "ADA", "DOGE", "TRX"}

type listResponse struct {
	Transactions []transactionView `json:"transactions"`
	Total        int64             `json:"total"`
	Limit        int               `json:"limit"`
	Offset       int               `json:"offset"`
}

// list is GET /api/transactions?limit=&offset=&type=&symbol=: the caller's entries, newest first.
func (s *service) list(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	q := web.NewQuery(r)
	page := q.Page()
	typ := q.String("type", "", entryTypes...)
	symbol := strings.ToUpper(q.String("symbol", ""))
	if symbol != "" && symbol != ledger.CashSymbol && !slices.Contains(coins, symbol) {
		q.Add("symbol", "must be USD or a supported coin symbol")
	}
	if err := q.Err(); err != nil {
		return err
	}
	entries, total, err := s.ledger.Entries(r.Context(), userID, ledger.EntryQuery{
		Type: ledger.EntryType(typ), Symbol: symbol, Limit: int64(page.Limit), Offset: int64(page.Offset),
	})
	if err != nil {
		return ledger.Answer(err)
	}
	web.WriteJSON(w, http.StatusOK, listResponse{Transactions: views(entries), Total: total, Limit: page.Limit, Offset: page.Offset})
	return nil
}

// get is GET /api/transactions/{id}. A malformed id is 404 without a query.
func (s *service) get(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !validEntryID(id) {
		return notFound()
	}
	e, ok, err := s.entry(r.Context(), userID, id)
	if errors.Is(err, ledger.ErrNoAccount) {
		return notFound()
	}
	if err != nil {
		return err
	}
	if !ok {
		return notFound()
	}
	web.WriteJSON(w, http.StatusOK, map[string]transactionView{"transaction": view(e)})
	return nil
}

// validEntryID is the ledger's id alphabet (1-64 of [0-9A-Za-z_-]): ObjectID hex, DerivedID and
// any caller-chosen id all fit, and nothing else can be an entry.
func validEntryID(id string) bool {
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

type statsView struct {
	TotalDeposits    money.USD `json:"total_deposits"`
	TotalWithdrawals money.USD `json:"total_withdrawals"`
	TotalTrades      int64     `json:"total_trades"`
	TotalFees        money.USD `json:"total_fees"`
	NetDeposits      money.USD `json:"net_deposits"`
	NetBalance       money.USD `json:"net_balance"`
}

// statsTypes are the entry types the stats read: sums of deposits, withdrawals and fees, and the
// count of buys and sells. Adjustments are not in them, so an adjustment still pending does not
// send the read down its slow path.
var statsTypes = []ledger.EntryType{ledger.TypeDeposit, ledger.TypeWithdrawal, ledger.TypeFee, ledger.TypeBuy, ledger.TypeSell}

// stats is GET /api/transactions/stats/overview. The sums and the trade count must include every
// committed change, pending or not: ledger.ReadSettled reads the account (the cash balance, its
// pending entries and clean stamp) beside them, and runs them again after a flush only when an
// entry may have been missed. One round trip of latency in the common case.
func (s *service) stats(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	var (
		sums   map[ledger.EntryType]int64
		trades int64
	)
	acc, err := s.ledger.ReadSettled(r.Context(), userID, statsTypes, func(ctx context.Context) error {
		var (
			wg               sync.WaitGroup
			sumErr, tradeErr error
		)
		wg.Go(func() {
			sums, sumErr = s.sumByType(ctx, userID, ledger.TypeDeposit, ledger.TypeWithdrawal, ledger.TypeFee)
		})
		trades, tradeErr = s.countTypes(ctx, userID, ledger.TypeBuy, ledger.TypeSell)
		wg.Wait()
		return errors.Join(sumErr, tradeErr)
	})
	if err != nil {
		return ledger.Answer(err)
	}
	deposits, withdrawals := money.USD(sums[ledger.TypeDeposit]), money.USD(sums[ledger.TypeWithdrawal])
	net, err := deposits.Sub(withdrawals)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]statsView{"stats": {
		TotalDeposits: deposits, TotalWithdrawals: withdrawals, TotalTrades: trades,
		TotalFees: money.USD(sums[ledger.TypeFee]), NetDeposits: net, NetBalance: acc.Cash,
	}})
	return nil
}
