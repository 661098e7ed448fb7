// Package pricefile writes the file the file price feed reads (PRICE_FEED=file:PATH; the format is
// in shared/market/feed/doc.go), the way tests drive the market: each write replaces the whole file
// by renaming a temporary one over it, because a refresh racing a plain rewrite may read half a
// file. Test-only: never linked into a Lambda binary.
package pricefile

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"
)

// Write replaces the file at path with a quote per coin of prices (symbol → price, as the feed
// parses it: "65000.12"), failing the test if it cannot.
func Write(t testing.TB, path string, prices map[string]string) {
	t.Helper()
	type quote struct {
		Symbol string `json:"symbol"`
		Price  string `json:"price"`
	}
	quotes := []quote{}
	for _, sym := range slices.Sorted(maps.Keys(prices)) {
		quotes = append(quotes, quote{sym, prices[sym]})
	}
	b, err := json.Marshal(quotes)
	if err != nil {
		t.Fatal(err)
	}
	WriteQuotes(t, path, string(b))
}

// WriteQuotes replaces the file at path with quotes, the JSON array of the file's quote objects,
// for a market that needs more than prices (24 h changes, coins named by id, numbers).
func WriteQuotes(t testing.TB, path, quotes string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(`{"quotes": `+quotes+`}`), 0o600); err != nil {
		t.Fatalf("write the price file: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatalf("replace the price file: %v", err)
	}
}
