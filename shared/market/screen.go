package market

import (
	"math/bits"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
)

// Screening thresholds, in whole percent of the reference price.
const (
	// maxJumpPercent: a quote further than this from the stored price is held back instead of
	// applied, since one bad upstream tick would otherwise fill every resting order in its path.
	maxJumpPercent = 50
	// confirmPercent: a newer quote this close to a held one confirms the move, so a real crash
	// or rally is applied one upstream update later instead of being refused forever.
	confirmPercent = 5
)

// verdict is what a refresh does with one quote.
type verdict int

const (
	accept verdict = iota + 1 // store it (and clear any held quote)
	hold                      // keep the stored price, remember the quote in held
	reject                    // ignore it: not a usable price
)

func (v verdict) String() string {
	switch v {
	case accept:
		return "accept"
	case hold:
		return "hold"
	case reject:
		return "reject"
	}
	return "unknown"
}

// decision is a verdict with the reason logs show.
type decision struct {
	verdict verdict
	reason  string
}

// judge screens quote q against the stored document of its coin (nil when the coin has none).
// q.QuotedAt must be set (the caller fills a missing one with the run's time). It is pure: the
// rules are tested without a database.
//
// A held quote is confirmed only by a newer quote (quoted_at later than the held one's): the same
// upstream tick read twice — by two overlapping runs, or from CoinGecko, whose data changes about
// once a minute while we refresh every 10 s — is one observation, not a confirmation.
func judge(stored *priceDoc, q feed.Quote) decision {
	switch {
	case q.Price <= 0:
		return decision{reject, "price is not positive"}
	case q.Price > money.MaxPrice:
		return decision{reject, "price out of range"}
	case q.MarketCap < 0 || q.Volume24h < 0:
		return decision{reject, "negative market cap or volume"}
	case stored == nil || stored.Price <= 0:
		// Nothing to compare with: the first quote of a coin is taken as it is.
		return decision{accept, "first price"}
	case within(q.Price, stored.Price, maxJumpPercent):
		return decision{accept, "within range"}
	case stored.Held != nil && stored.Held.Price > 0 && q.QuotedAt.After(stored.Held.QuotedAt) &&
		within(q.Price, stored.Held.Price, confirmPercent):
		return decision{accept, "confirms held move"}
	}
	return decision{hold, "moved more than 50% from the stored price"}
}

// within reports whether p is within pct percent of ref (ref > 0): |p − ref| × 100 ≤ ref × pct,
// both sides computed in 128 bits so that no price up to MaxPrice can overflow, and no float.
func within(p, ref money.Price, pct uint64) bool {
	diff := uint64(p - ref) // both are in (0, MaxPrice], so the difference fits
	if p < ref {
		diff = uint64(ref - p)
	}
	lh, ll := bits.Mul64(diff, 100)
	rh, rl := bits.Mul64(uint64(ref), pct)
	return lh < rh || (lh == rh && ll <= rl)
}
