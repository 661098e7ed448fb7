package market

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/web"
)

// publicMaxAge lets browsers and intermediaries reuse market data briefly: it is public, the
// same for everyone, and refreshed at most every few seconds anyway.
const publicMaxAge = 5 * time.Second

// Routes registers the market routes (public: no guard).
func (s *Store) Routes(rt *web.Router) {
	rt.Handle("GET /api/crypto", s.list)
	rt.Handle("GET /api/crypto/{symbol}", s.get)
	rt.Handle("GET /api/crypto/{symbol}/history", s.history)
}

// frontendCoin is an element of data[]: the frontend's field names, display strings for the
// figures it sorts as text.
type frontendCoin struct {
	Symbol    string        `json:"symbol"`
	Name      string        `json:"name"`
	Price     money.Price   `json:"price"`
	Change24h money.Percent `json:"change24h"`
	MarketCap string        `json:"marketCap"`
	Volume24h string        `json:"volume24h"`
}

// coin is the cryptocurrency object: numbers for the USD figures.
type coin struct {
	ID          string        `json:"id"`
	Symbol      string        `json:"symbol"`
	Name        string        `json:"name"`
	Price       money.Price   `json:"price"`
	MarketCap   int64         `json:"market_cap"`
	Volume24h   int64         `json:"volume_24h"`
	Change24h   money.Percent `json:"change_24h"`
	LastUpdated string        `json:"last_updated"`
	Image       string        `json:"image"`
}

func toCoin(p Price) coin {
	return coin{
		ID: p.ID, Symbol: p.Symbol, Name: p.Name, Price: p.Price, MarketCap: p.MarketCap, Volume24h: p.Volume24h,
		Change24h: p.Change24h, LastUpdated: rfc3339(p.UpdatedAt), Image: p.Image,
	}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// billions formats whole dollars as "$1283.55B": every coin in one unit, because the frontend
// sorts these strings by stripping "$ B T G ," and comparing the numbers.
func billions(usd int64) string {
	if usd < 0 {
		usd = 0
	}
	hundredths := (usd + 5_000_000) / 10_000_000 // to 0.01 B, half up
	return fmt.Sprintf("$%d.%02dB", hundredths/100, hundredths%100)
}

type listResponse struct {
	Data             []frontendCoin `json:"data"`
	Cryptocurrencies []coin         `json:"cryptocurrencies"`
	UpdatedAt        *string        `json:"updatedAt"`
	Source           string         `json:"source"`
}

func (s *Store) list(w http.ResponseWriter, r *http.Request) error {
	prices, err := s.All(r.Context())
	if err != nil {
		return err
	}
	resp := listResponse{Data: []frontendCoin{}, Cryptocurrencies: []coin{}}
	var newest time.Time
	for _, p := range prices {
		resp.Data = append(resp.Data, frontendCoin{
			Symbol: p.Symbol, Name: p.Name, Price: p.Price, Change24h: p.Change24h,
			MarketCap: billions(p.MarketCap), Volume24h: billions(p.Volume24h),
		})
		resp.Cryptocurrencies = append(resp.Cryptocurrencies, toCoin(p))
		if p.UpdatedAt.After(newest) {
			newest, resp.Source = p.UpdatedAt, p.Source
		}
	}
	if !newest.IsZero() {
		ts := rfc3339(newest)
		resp.UpdatedAt = &ts
	}
	web.MarkPublic(w, publicMaxAge)
	web.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func errUnknownCoin() *web.Error {
	return web.NewError(http.StatusNotFound, web.CodeNotFound, "Unknown cryptocurrency")
}

func (s *Store) get(w http.ResponseWriter, r *http.Request) error {
	p, err := s.Get(r.Context(), r.PathValue("symbol"))
	if errors.Is(err, ErrUnknownCoin) || errors.Is(err, ErrNoPrice) {
		return errUnknownCoin()
	}
	if err != nil {
		return err
	}
	web.MarkPublic(w, publicMaxAge)
	web.WriteJSON(w, http.StatusOK, map[string]coin{"cryptocurrency": toCoin(p)})
	return nil
}

type point struct {
	Timestamp int64       `json:"timestamp"`
	Price     money.Price `json:"price"`
}

func (s *Store) history(w http.ResponseWriter, r *http.Request) error {
	q := web.NewQuery(r)
	days := q.Int("days", 7, 1, 365)
	if err := q.Err(); err != nil {
		return err
	}
	c, ok := feed.CoinBySymbolOrID(r.PathValue("symbol"))
	if !ok {
		return errUnknownCoin()
	}
	points, err := s.History(r.Context(), c.Symbol, days)
	if err != nil {
		return err
	}
	out := make([]point, len(points))
	for i, p := range points {
		out[i] = point{Timestamp: p.Time.Unix(), Price: p.Price}
	}
	web.MarkPublic(w, publicMaxAge)
	web.WriteJSON(w, http.StatusOK, map[string]any{"symbol": c.Symbol, "days": days, "prices": out})
	return nil
}
