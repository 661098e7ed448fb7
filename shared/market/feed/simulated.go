package feed

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cryptovault/serverless/shared/money"
)

// The simulated market: every refresh moves each coin by a small random step from its previous
// price, in integer arithmetic (parts per million of the price). Randomness comes from a PCG
// generator seeded with Options.Seed and a fingerprint of the previous prices, so the walk is
// reproducible (tests pin values) while still moving: each step's input differs from the last.

// simCoin is a coin's simulation parameters.
type simCoin struct {
	start  money.Price // default price when there is no previous quote
	supply int64       // circulating supply in whole coins: market cap = price × supply
	// stepPPM is the largest move of one step (one refresh, one 5-minute history point), in
	// parts per million of the price: steps are uniform in ±stepPPM.
	stepPPM int64
	// volumePPM is the 24 h volume as parts per million of the market cap.
	volumePPM int64
	// stable pegs the price to 1.00 within ±stableBandPPM.
	stable bool
}

// simCoins holds realistic magnitudes (late 2020s) for every coin of Coins.
var simCoins = map[string]simCoin{
	"BTC":  {start: 6_500_000_000_000, supply: 19_800_000, stepPPM: 1_000, volumePPM: 35_000},
	"ETH":  {start: 350_000_000_000, supply: 120_400_000, stepPPM: 1_500, volumePPM: 45_000},
	"USDT": {start: 100_000_000, supply: 110_000_000_000, stepPPM: 100, volumePPM: 500_000, stable: true},
	"BNB":  {start: 60_000_000_000, supply: 146_000_000, stepPPM: 1_500, volumePPM: 20_000},
	"SOL":  {start: 15_000_000_000, supply: 465_000_000, stepPPM: 2_500, volumePPM: 40_000},
	"XRP":  {start: 60_000_000, supply: 56_000_000_000, stepPPM: 2_000, volumePPM: 35_000},
	"USDC": {start: 100_000_000, supply: 33_000_000_000, stepPPM: 100, volumePPM: 200_000, stable: true},
	"ADA":  {start: 45_000_000, supply: 35_700_000_000, stepPPM: 2_000, volumePPM: 30_000},
	"DOGE": {start: 15_000_000, supply: 145_000_000_000, stepPPM: 2_500, volumePPM: 50_000},
	"TRX":  {start: 12_000_000, supply: 87_000_000_000, stepPPM: 1_500, volumePPM: 30_000},
}

const (
	ppm = 1_000_000
	// maxSimChange bounds the simulated 24 h change: ±8 % in hundredths of a percent.
	maxSimChange = 800
	// stableBandPPM keeps a stablecoin within ±0.2 % of 1.00.
	stableBandPPM = 2_000
	// openDrift slides the implied 24 h-ago price toward the current one by 1/openDrift per step,
	// so the 24 h change decays like a moving window instead of accumulating forever.
	openDrift = 720
	// hourlyStepFactor scales a coin's step for hourly history points: about √12 times a
	// 5-minute step, as a random walk's spread grows with the square root of time.
	hourlyStepFactor = 35 // tenths
	// historyStep and historyHourly are the spacing of synthesized history: 5 minutes within the
	// last day (288 points), hourly beyond (at most 8736 more for a year), ≤ ~9k points in all.
	historyStep   = 5 * time.Minute
	historyHourly = time.Hour
)

var oneDollar = money.Price(100_000_000)

// simulated is the "simulated" feed. It remembers the last prices it produced, so a history
// synthesized afterwards ends where the live prices are.
type simulated struct {
	seed int64
	now  func() time.Time

	mu   sync.Mutex
	last map[string]money.Price
}

func newSimulated(opts Options) *simulated {
	return &simulated{seed: opts.Seed, now: opts.Now, last: make(map[string]money.Price)}
}

// Name reports SourceSimulated.
func (s *simulated) Name() string { return SourceSimulated }

// Quotes moves every coin one step from previous (or from its default price) and returns all ten.
func (s *simulated) Quotes(_ context.Context, previous map[string]Quote) ([]Quote, error) {
	rng := rand.New(rand.NewPCG(uint64(s.seed), fingerprint(previous)))
	now := s.now().UTC()
	out := make([]Quote, 0, len(Coins))
	for _, coin := range Coins {
		p := simCoins[coin.Symbol]
		price, change := p.start, money.Percent(0)
		if prev, ok := previous[coin.Symbol]; ok && prev.Price > 0 {
			price, change = prev.Price, prev.Change24h
		}
		price, change = p.step(rng, price, change)
		marketCap, _ := mulDivRound(int64(price), p.supply, 100_000_000)
		// Volume wobbles ±10 % around its share of the market cap.
		share := p.volumePPM * (900 + rng.Int64N(201)) / 1000
		volume, _ := mulDivRound(marketCap, share, ppm)
		out = append(out, Quote{
			Symbol: coin.Symbol, ID: coin.ID, Name: coin.Name,
			Price: price, Change24h: change,
			MarketCap: min(marketCap, MaxWholeUSD), Volume24h: min(volume, MaxWholeUSD),
			QuotedAt: now,
		})
	}
	s.mu.Lock()
	for _, q := range out {
		s.last[q.Symbol] = q.Price
	}
	s.mu.Unlock()
	return out, nil
}

// step moves price by a random step and updates the 24 h change consistently: the change implies
// the price 24 h ago (open), the new change is measured against that open after it slid a little
// toward the present. A step that would take the change beyond ±8 % goes the other way (a
// bounded walk), and a stablecoin bounces off the edges of its band the same way.
func (p simCoin) step(rng *rand.Rand, price money.Price, change money.Percent) (money.Price, money.Percent) {
	change = min(max(change, -maxSimChange), maxSimChange)
	if p.stable {
		price = clampStable(price)
	}
	open, _ := mulDivRound(int64(price), 10_000, 10_000+int64(change))
	d := rng.Int64N(2*p.stepPPM+1) - p.stepPPM
	next, nextChange := p.move(price, open, d)
	if abs(nextChange) > maxSimChange || (p.stable && clampStable(next) != next) {
		next, nextChange = p.move(price, open, -d)
	}
	if p.stable {
		next = clampStable(next)
	}
	return next, money.Percent(min(max(nextChange, -maxSimChange), maxSimChange))
}

// move applies d ppm to price and returns the new price and its 24 h change against open, after
// open slid 1/openDrift of the way toward the new price. The price never drops below one unit.
func (p simCoin) move(price money.Price, open, d int64) (money.Price, int64) {
	next, ok := mulDivRound(int64(price), ppm+d, ppm)
	if !ok {
		next = int64(price)
	}
	next = min(max(next, 1), int64(money.MaxPrice))
	open += (next - open) / openDrift
	if open <= 0 {
		open = next
	}
	return money.Price(next), changeHundredths(next, open)
}

// clampStable keeps a stablecoin price within ±0.2 % of 1.00.
func clampStable(price money.Price) money.Price {
	band := oneDollar * stableBandPPM / ppm
	return min(max(price, oneDollar-band), oneDollar+band)
}

// History synthesizes days of points ending now at the coin's current simulated price (the last
// one Quotes produced, or the default price): a walk backwards, every 5 minutes over the last day
// and hourly before that. It is deterministic for a given seed, coin, days, end price and time.
func (s *simulated) History(_ context.Context, coin Coin, days int) ([]Point, error) {
	coin, err := checkHistoryArgs(coin, days)
	if err != nil {
		return nil, err
	}
	p := simCoins[coin.Symbol]
	s.mu.Lock()
	price, ok := s.last[coin.Symbol]
	s.mu.Unlock()
	if !ok {
		price = p.start
	}
	now := s.now().UTC().Truncate(historyStep)
	h := fnv.New64a()
	h.Write([]byte(coin.ID))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(days)))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(price)))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(now.Unix())))
	rng := rand.New(rand.NewPCG(uint64(s.seed), h.Sum64()))

	dayStart := now.Add(-24 * time.Hour)
	start := now.Add(-time.Duration(days) * 24 * time.Hour)
	points := []Point{{Time: now, Price: price}}
	for t := now; t.After(start); {
		stepPPM, gap := p.stepPPM, historyStep
		if !t.After(dayStart) {
			stepPPM, gap = p.stepPPM*hourlyStepFactor/10, historyHourly
		}
		t = t.Add(-gap)
		d := rng.Int64N(2*stepPPM+1) - stepPPM
		next, ok := mulDivRound(int64(price), ppm+d, ppm)
		if !ok {
			next = int64(price)
		}
		price = money.Price(max(next, 1))
		if p.stable {
			price = clampStable(price)
		}
		points = append(points, Point{Time: t, Price: price})
	}
	// Built newest first; the contract is oldest first.
	for i, j := 0, len(points)-1; i < j; i, j = i+1, j-1 {
		points[i], points[j] = points[j], points[i]
	}
	return points, nil
}

// fingerprint hashes the inputs of a step (each coin's previous price and change, in Coins order)
// into the second PCG seed word: the same previous quotes give the same walk.
func fingerprint(previous map[string]Quote) uint64 {
	h := fnv.New64a()
	var buf []byte
	for _, coin := range Coins {
		q := previous[coin.Symbol]
		buf = binary.BigEndian.AppendUint64(buf[:0], uint64(q.Price))
		buf = binary.BigEndian.AppendUint64(buf, uint64(q.Change24h))
		h.Write(buf)
	}
	return h.Sum64()
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
