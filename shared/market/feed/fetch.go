package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTP limits for CoinGecko. The prices function runs every few seconds with its own deadline, so
// a slow upstream must fail fast and leave the stored prices as they are rather than pile up.
const (
	// maxAttempts bounds the tries of one request (the first one included).
	maxAttempts = 3
	// attemptTimeout bounds one attempt, body included.
	attemptTimeout = 5 * time.Second
	// baseBackoff is the wait after the first failure; it doubles after each further one.
	baseBackoff = 500 * time.Millisecond
	// maxRetryWait caps a wait, whatever Retry-After asks for: a longer pause is better spent by
	// the next scheduled refresh than by this one.
	maxRetryWait = 10 * time.Second
	// maxBodyBytes bounds a response: the markets answer is ~10 KB and a year of market_chart
	// ~30 KB, so anything near 2 MiB is not what we asked for.
	maxBodyBytes = 2 << 20
	// maxRedirects bounds same-host redirects.
	maxRedirects = 3
	// apiKeyHeader carries the CoinGecko demo API key; a header, never a query parameter, so the
	// key stays out of every URL that an error or a log line might show.
	apiKeyHeader = "x-cg-demo-api-key"
)

var (
	errRedirect = errors.New("redirect to another host or scheme refused")
	errTooLarge = fmt.Errorf("response larger than %d bytes", maxBodyBytes)
)

// fetcher sends GET requests to one base URL with the retry policy above.
type fetcher struct {
	client *http.Client
	base   string // scheme://host/path without a trailing slash
	apiKey func(ctx context.Context) (string, error)
	now    func() time.Time
	// sleep waits d or until ctx is done; tests replace it to observe the waits without waiting.
	sleep func(ctx context.Context, d time.Duration) error
	log   *slog.Logger
}

// newFetcher copies the caller's client (never modifying it) and sets a redirect policy that stays
// on the base URL's scheme and host: a redirect elsewhere would carry the API key header to a
// host we did not choose.
func newFetcher(opts Options, base string) *fetcher {
	c := &http.Client{}
	if opts.HTTPClient != nil {
		*c = *opts.HTTPClient
	}
	c.CheckRedirect = sameHostRedirects
	return &fetcher{client: c, base: base, apiKey: opts.APIKey, now: opts.Now, sleep: sleepCtx, log: opts.Logger}
}

func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if req.URL.Scheme != via[0].URL.Scheme || req.URL.Host != via[0].URL.Host {
		return errRedirect
	}
	return nil
}

// get returns the body of a 2xx answer to GET base+path?query. Errors wrap ErrUnavailable or
// ErrMalformed and name the path, never the key or a response body.
func (f *fetcher) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	key := f.key(ctx)
	u := f.base + path + "?" + query.Encode()
	var (
		lastErr error
		attempt int
	)
	for attempt = 1; ; attempt++ {
		body, wait, retry, err := f.attempt(ctx, u, key)
		if err == nil {
			return body, nil
		}
		lastErr = err
		if !retry || attempt == maxAttempts || ctx.Err() != nil {
			break
		}
		// Exponential backoff, or longer if the server asks for it with Retry-After.
		wait = min(max(wait, baseBackoff<<(attempt-1)), maxRetryWait)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			lastErr = fmt.Errorf("%w; no retry: waiting %s would pass the deadline", err, wait)
			break
		}
		f.log.Warn("price feed: retrying", slog.String("source", SourceCoinGecko), slog.String("path", path),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
		if err := f.sleep(ctx, wait); err != nil {
			lastErr = fmt.Errorf("%w; gave up waiting to retry: %w", lastErr, err)
			break
		}
	}
	return nil, fmt.Errorf("coingecko: GET %s (%d attempts): %w", path, attempt, lastErr)
}

// key returns the API key, or "" when none is configured or it cannot be read: the public API
// answers without a key (with a lower rate limit), and a price refresh at a lower rate limit is
// better than none. The reason is logged; secrets errors never contain the value.
func (f *fetcher) key(ctx context.Context) string {
	if f.apiKey == nil {
		return ""
	}
	k, err := f.apiKey(ctx)
	if err != nil {
		f.log.Warn("price feed: CoinGecko API key unavailable; calling without it",
			slog.String("error", err.Error()))
		return ""
	}
	return strings.TrimSpace(k)
}

// attempt sends one request. It reports the wait the server asked for (Retry-After) and whether
// the failure is worth retrying: 429, 5xx and network errors are, other statuses, refused
// redirects and oversized bodies are not (another try gets the same answer).
func (f *fetcher) attempt(ctx context.Context, u, key string) (body []byte, wait time.Duration, retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "cryptovault-price-feed")
	if key != "" {
		req.Header.Set(apiKeyHeader, key)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		// The *url.Error names the URL, which holds no secret (the key is a header).
		return nil, 0, !errors.Is(err, errRedirect), fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()

	switch code := resp.StatusCode; {
	case code/100 == 2:
		body, err := readLimited(resp.Body)
		if errors.Is(err, errTooLarge) {
			return nil, 0, false, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		if err != nil {
			return nil, 0, true, fmt.Errorf("%w: reading the body: %w", ErrUnavailable, err)
		}
		return body, 0, false, nil
	case code == http.StatusTooManyRequests || code/100 == 5:
		drain(resp.Body)
		return nil, retryAfter(resp.Header.Get("Retry-After"), f.now()), true, statusError(code)
	default:
		drain(resp.Body)
		return nil, 0, false, statusError(code)
	}
}

// statusError describes a non-2xx answer by its status only: an error body may echo the request.
func statusError(code int) error {
	return fmt.Errorf("%w: status %d %s", ErrUnavailable, code, http.StatusText(code))
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date, as a wait from now. An
// absent, malformed or past value gives 0 (the backoff applies); the cap applies later.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, int64(maxRetryWait/time.Second)+1)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// readLimited reads a body of at most maxBodyBytes.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBodyBytes {
		return nil, errTooLarge
	}
	return b, nil
}

// drain reads a little of an unwanted body so the connection can be reused, without letting a
// huge error page cost time.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }

// sleepCtx waits d, or less if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
