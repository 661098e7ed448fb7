package portfolio

import (
	"context"
	"net/http"
	"sync"

	"github.com/cryptovault/serverless/shared/ledger"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// getPortfolio is GET /api/portfolio: the caller's valued portfolio. A caller without an account
// gets an empty one (see the package documentation).
func (s *Service) getPortfolio(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	acc, prices, err := s.load(ctx, userID)
	if isNoAccount(err) {
		s.log.WarnContext(ctx, "portfolio of a user without an account; answering an empty portfolio",
			"request_id", web.RequestIDFrom(ctx), "user_id", userID)
		acc, err = ledger.Account{UserID: userID}, nil
	}
	if err != nil {
		return err
	}
	v, err := valuate(acc, prices, s.now())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, portfolioResponse{Portfolio: v})
	return nil
}

// getHolding is GET /api/portfolio/holding/{symbol}: one holding, valued within the whole
// portfolio (its allocation is a share of the total). An unsupported coin is 404 without a query.
func (s *Service) getHolding(w http.ResponseWriter, r *http.Request) error {
	userID, err := callerID(r)
	if err != nil {
		return err
	}
	coin, ok := supportedCoin(r.PathValue("symbol"))
	if !ok {
		return holdingNotFound()
	}
	acc, prices, err := s.load(r.Context(), userID)
	if isNoAccount(err) {
		return holdingNotFound()
	}
	if err != nil {
		return err
	}
	v, err := valuate(acc, prices, s.now())
	if err != nil {
		return err
	}
	h, ok := v.holding(coin.Symbol)
	if !ok {
		return holdingNotFound()
	}
	web.WriteJSON(w, http.StatusOK, holdingResponse{Holding: h})
	return nil
}

// load reads the caller's account and the prices side by side: one round trip of latency (the
// prices come from the per-instance cache, a find only when it is cold). The account read flushes
// pending ledger entries when there are any. An error of the prices wins over the account's, so
// that a database outage is never mistaken for a missing account.
func (s *Service) load(ctx context.Context, userID string) (ledger.Account, []market.Price, error) {
	var (
		wg       sync.WaitGroup
		prices   []market.Price
		priceErr error
	)
	wg.Go(func() { prices, priceErr = s.prices.All(ctx) })
	acc, err := s.ledger.Account(ctx, userID)
	wg.Wait()
	if priceErr != nil {
		return ledger.Account{}, nil, priceErr
	}
	return acc, prices, err
}
