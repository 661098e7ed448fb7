package pricefile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/testkit/pricefile"
)

// The file feed reads what Write and WriteQuotes write, and each write replaces the last.
func TestFeedReadsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	f, err := feed.New(context.Background(), "file:"+path, feed.Options{Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		write func()
		want  string // symbol=price change, in the feed's order
	}{
		{"prices", func() { pricefile.Write(t, path, map[string]string{"SOL": "150.5", "BTC": "65000.12"}) },
			"[BTC=65000.12 0 SOL=150.5 0]"},
		{"a rewrite replaces the file", func() { pricefile.Write(t, path, map[string]string{"ETH": "3500"}) },
			"[ETH=3500 0]"},
		{"no coin", func() { pricefile.Write(t, path, nil) }, "[]"},
		{"quotes", func() {
			pricefile.WriteQuotes(t, path, `[{"symbol": "ethereum", "price": 3500.5, "change_24h": -1.25}, {"symbol": "DOGE", "price": "0.15123456"}]`)
		}, "[ETH=3500.5 -1.25 DOGE=0.15123456 0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.write()
			quotes, err := f.Quotes(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, q := range quotes {
				got = append(got, fmt.Sprintf("%s=%s %s", q.Symbol, q.Price, q.Change24h))
			}
			if s := fmt.Sprint(got); s != tt.want {
				t.Errorf("feed read %s, want %s", s, tt.want)
			}
			if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
				t.Errorf("the temporary file is left behind: %v", err)
			}
		})
	}
}
