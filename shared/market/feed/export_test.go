package feed

import (
	"context"
	"time"
)

// SetSleep replaces how a CoinGecko feed waits before a retry, so that tests observe the waits
// (Retry-After, backoff) without spending them.
func SetSleep(f Feed, sleep func(ctx context.Context, d time.Duration) error) {
	f.(*coinGecko).http.sleep = sleep
}

// SimSupply exposes a coin's simulated circulating supply, to check market caps.
func SimSupply(symbol string) int64 { return simCoins[symbol].supply }
