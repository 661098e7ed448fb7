// Package market owns the stored prices of CryptoVault: the price store that every function reads
// (with a per-instance cache), the refresh pipeline that the scheduled prices function runs against
// the configured feed (package feed), and the price history.
//
// # Shapes
//
// prices: one document per coin, _id = symbol: {_id, id, name, image, price (int64 1e-8 USD),
// change_24h (int64 hundredths of a percent), market_cap, volume_24h (int64 whole USD), source,
// quoted_at (the upstream's time), updated_at (the refresh that stored it), held (optional: a quote
// held back, see below), version}. version grows by one with every write: it is what makes each
// write conditional on the state the refresh decided from (see Overlapping runs).
//
// price_history: one document per coin per UTC day, _id = "SYMBOL:YYYY-MM-DD": {_id, symbol, day,
// points: {"HHMM": price, ...}, compacted}. points is a map keyed by minute of day, so appending is
// an idempotent $set of one key: two overlapping refreshes write the same key, and the local engine
// has no working $push with $slice. A day whose last minute is more than 24 h old is compacted to
// the last point of each hour (compacted: true); days older than 400 days are deleted, which keeps
// at least 365 days.
//
// # Refresh (Refresher.Refresh, one run of the scheduled prices function)
//
//  1. Read the stored prices and ask the feed for quotes, passing the stored ones as previous. A
//     feed error changes nothing: the run logs it, emits PriceFeedErrors and returns a Result with
//     FeedError set and a nil error (an upstream outage is not a failure of the function; the
//     PriceAgeSeconds metric and its alarm catch a long one).
//  2. Screen each quote (screen.go): a non-positive or malformed price is rejected; a move of more
//     than 50 % from the stored price is held back in held; a newer quote within 5 % of a held
//     one confirms the move and is accepted (a real crash or rally is not refused forever); a
//     quote within 50 % of the stored price is accepted and clears held. A coin's first quote is
//     accepted. Coins the feed did not quote keep their price.
//  3. Write each accepted or held quote with one conditional single-document update (an insert for
//     a coin's first price), the coins in parallel; updated_at = the run's time.
//  4. Append each stored price to today's history bucket: one unordered bulk write of upserts that
//     $set points.HHMM.
//  5. Call AfterRefresh (the order matcher) with the current prices when at least one price
//     changed. It runs before housekeeping so that fills never wait for a backfill.
//  6. Housekeeping, at most once per UTC day per instance: backfill coins without any history
//     before today from feed.History, compact old buckets, delete buckets older than 400 days.
//     Then emit the metrics (PricesStored, PriceQuotesHeld, PriceQuotesRejected,
//     PriceFeedErrors, PriceAgeSeconds).
//
// # Overlapping runs
//
// Two runs may overlap (a slow run and the next schedule, or the local server and a test). Every
// price write is filtered on the version the run read, so a run that decided from an outdated
// document changes nothing for that coin (Result.Superseded) and does not append its point either:
// the winner's price and the winner's history point stand. History points are $set by minute, so
// writing the same minute twice leaves one point.
//
// # Reads
//
// Store.All, Get, Fresh and Age are served from a per-instance snapshot of the prices collection,
// refreshed at most every CacheTTL with one find shared by all concurrent callers: a read costs +1
// round trip only when the cache is cold. History reads the buckets of the requested days with one
// find, and returns minute points for the last 24 h and hourly points beyond, whether or not
// compaction has run yet. Its answers are cached the same way, by coin and days, with the same TTL
// and single flight, and at most a few ranges per coin are kept (the least recently used answer
// makes room). Neither cache is invalidated by a refresh: each serves what it read for at most
// CacheTTL, and a failed read is never cached.
package market
