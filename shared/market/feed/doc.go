// Package feed reads coin prices from the configured source (PRICE_FEED): CoinGecko, a seeded
// simulation, or a JSON file that tests rewrite to drive the market. The scheduled prices function
// asks a Feed for quotes and stores them; nothing on an API request path calls a Feed.
//
// Money stays exact here too: upstream JSON numbers are decoded as text (json.RawMessage) and
// converted digit by digit with money.ParseDecimalRounded, rounded half away from zero to 8
// decimals for prices, 2 for percentages and whole dollars for market caps and volumes. No float64
// ever holds a price, including the exponent forms CoinGecko sends for tiny values ("1.2e-05").
//
// A Feed never returns a zero or negative price. A quote whose figures are absurd (price ≤ 0, not
// a number, out of range) is dropped and logged as a warning on Options.Logger ("price feed: quote
// dropped", with the coin and the reason); the caller keeps the last good price of a coin that is
// missing from the result. An error means no quote at all could be read this time.
//
// # CoinGecko
//
// One GET {base}/coins/markets?vs_currency=usd&ids=<the 10 ids>&price_change_percentage=24h per
// Quotes call, and GET {base}/coins/{id}/market_chart?vs_currency=usd&days=N per History call.
// The optional API key goes in the x-cg-demo-api-key header, never into a URL, a log or an error.
// Each attempt has its own timeout; 429, 5xx and network errors are retried (3 attempts at most)
// with exponential backoff, honouring Retry-After (capped, and never past the context's deadline);
// other statuses fail at once. Redirects to another host are refused and bodies are size-limited.
//
// # Simulated
//
// A deterministic random walk in integer arithmetic: the same Options.Seed and the same previous
// quotes give the same next quotes, so tests can pin exact values. See simulated.go.
//
// # File (PRICE_FEED=file:PATH)
//
// The file is re-read on every Quotes and History call, so a test moves the market by rewriting it
// (write a temporary file and rename it over PATH: a reader racing a plain rewrite may see half a
// file, which is an error, after which the caller simply keeps its last prices). A relative PATH
// is relative to the process's working directory. Format:
//
//	{
//	  "quotes": [
//	    {"symbol": "BTC", "price": "65000.12", "change_24h": "2.5",
//	     "market_cap": 1283550000000, "volume_24h": 45000000000},
//	    {"symbol": "ethereum", "price": 3500.5, "last_updated": "2026-11-28T09:15:00Z"}
//	  ],
//	  "history": {
//	    "BTC": [[1795856400, "64000"], [1795860000, 64100.5]]
//	  }
//	}
//
// Fields:
//
//   - quotes[].symbol: a supported coin's symbol or CoinGecko id, any case. Unknown coins are
//     skipped with a warning; a coin listed twice keeps its first entry.
//   - quotes[].price (required): USD per coin, a JSON number or a numeric string, parsed exactly
//     and rounded to 8 decimals. A missing, zero, negative or malformed price drops that quote
//     with a warning.
//   - change_24h (percent number, rounded to 2 decimals), market_cap and volume_24h (whole USD,
//     rounded), image (URL) and last_updated (RFC 3339; default: the time of the read, which lets
//     a test make a price stale) are optional.
//   - history (optional): per symbol or id, [unix_seconds, price] pairs in any order; History
//     returns those of the last `days` days, oldest first.
//
// Unknown fields are an error, so that a misspelt "prcie" fails loudly instead of dropping the
// quote. A missing or unreadable file, malformed JSON or a file over 2 MiB is an error.
package feed
