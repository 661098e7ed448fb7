package feed

import "strings"

// Coin is a supported coin: its ticker symbol (upper case, as the API and the trading pairs spell
// it), its CoinGecko id and its display name.
type Coin struct{ Symbol, ID, Name string }

// Coins is the set of supported coins, the set the trading pairs use, in the order every list of
// the API shows them (market capitalisation order at the time of writing).
var Coins = []Coin{
	{Symbol: "BTC", ID: "bitcoin", Name: "Bitcoin"},
	{Symbol: "ETH", ID: "ethereum", Name: "Ethereum"},
	{Symbol: "USDT", ID: "tether", Name: "Tether"},
	{Symbol: "BNB", ID: "binancecoin", Name: "BNB"},
	{Symbol: "SOL", ID: "solana", Name: "Solana"},
	{Symbol: "XRP", ID: "ripple", Name: "XRP"},
	{Symbol: "USDC", ID: "usd-coin", Name: "USDC"},
	{Symbol: "ADA", ID: "cardano", Name: "Cardano"},
	{Symbol: "DOGE", ID: "dogecoin", Name: "Dogecoin"},
	{Symbol: "TRX", ID: "tron", Name: "TRON"},
}

// CoinBySymbolOrID finds a supported coin by its symbol or its CoinGecko id, ignoring case ("btc",
// "BTC", "Bitcoin" → BTC): the API accepts both spellings in any case.
func CoinBySymbolOrID(s string) (Coin, bool) {
	for _, c := range Coins {
		if strings.EqualFold(c.Symbol, s) || strings.EqualFold(c.ID, s) {
			return c, true
		}
	}
	return Coin{}, false
}
