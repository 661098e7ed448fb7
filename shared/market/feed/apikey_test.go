package feed_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/platform/secrets"
	"github.com/cryptovault/serverless/shared/testkit/smfake"
)

const testKey = "CG-t0p-s3cret-KEY-4242"

func staticKey(k string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return k, nil }
}

// The key travels in its header only, and no error or log line of any failure mode shows it.
func TestCoinGeckoAPIKeyNeverLeaks(t *testing.T) {
	fixture := readFixture(t, "markets.json")
	tests := []struct {
		name    string
		replies []reply
		closed  bool // the server is gone: a transport error
		wantErr bool
	}{
		{name: "success", replies: []reply{ok(fixture)}},
		{name: "401", replies: []reply{{status: 401, body: `{"error":"bad key ` + testKey + `"}`}}, wantErr: true},
		{name: "500 three times", replies: []reply{{status: 500, body: testKey}}, wantErr: true},
		{name: "429 then success", replies: []reply{{status: 429, header: map[string]string{"Retry-After": "1"}}, ok(fixture)}},
		{name: "malformed", replies: []reply{ok(`{"echo": "` + testKey + `"`)}, wantErr: true},
		{name: "dropped quote", replies: []reply{ok(patchMarkets(t, "bitcoin", "current_price", `"`+testKey+`"`))}},
		{name: "transport error", replies: []reply{ok(fixture)}, closed: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := testLogger()
			u := startUpstream(t, tt.replies...)
			f := newCoinGecko(t, u, &sleeps{}, feed.Options{APIKey: staticKey(" " + testKey + "\n"), Logger: log})
			if tt.closed {
				u.srv.Close()
			}
			_, err := f.Quotes(context.Background(), nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("the error shows the key: %v", err)
			}
			if strings.Contains(buf.String(), testKey) {
				t.Errorf("the log shows the key:\n%s", buf)
			}
			for _, r := range u.received() {
				if got := r.Header.Get("x-cg-demo-api-key"); got != testKey {
					t.Errorf("key header %q, want the trimmed key", got)
				}
				if strings.Contains(r.URL.String(), testKey) {
					t.Errorf("the key is in the URL")
				}
			}
		})
	}
}

// A key that is not a valid header value fails in the transport, whose error leaves the value out.
func TestCoinGeckoInvalidKeyNeverLeaks(t *testing.T) {
	log, buf := testLogger()
	u := startUpstream(t, ok(`[]`))
	bad := "CG-first-half\nsecond-half-" + testKey
	f := newCoinGecko(t, u, &sleeps{}, feed.Options{APIKey: staticKey(bad), Logger: log})
	_, err := f.Quotes(context.Background(), nil)
	if !errors.Is(err, feed.ErrUnavailable) {
		t.Fatalf("error = %v", err)
	}
	for _, part := range []string{"first-half", "second-half", testKey} {
		if strings.Contains(err.Error(), part) || strings.Contains(buf.String(), part) {
			t.Errorf("the key shows: %v\n%s", err, buf)
		}
	}
	if len(u.received()) != 0 {
		t.Errorf("a request with a broken header went out")
	}
}

// A key that cannot be read does not stop the refresh: the public API answers without one.
func TestCoinGeckoAPIKeyUnavailable(t *testing.T) {
	log, buf := testLogger()
	u := startUpstream(t, ok(readFixture(t, "markets.json")))
	failing := func(context.Context) (string, error) { return "", errors.New("secrets unavailable: timeout") }
	f := newCoinGecko(t, u, &sleeps{}, feed.Options{APIKey: failing, Logger: log})
	if quotes, err := f.Quotes(context.Background(), nil); err != nil || len(quotes) != 10 {
		t.Fatalf("Quotes = %d, %v", len(quotes), err)
	}
	if h := u.received()[0].Header.Get("x-cg-demo-api-key"); h != "" {
		t.Errorf("header %q sent without a key", h)
	}
	if !strings.Contains(buf.String(), "API key unavailable") {
		t.Errorf("no warning:\n%s", buf)
	}
}

// APIKeyFromSecret against a local Secrets Manager endpoint, through the real SDK client and the
// secrets cache the functions use.
func TestAPIKeyFromSecret(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		wantKey string // "" when no header is expected
		warn    bool
	}{
		{name: "plain text, whitespace trimmed", value: "  " + testKey + "\n", wantKey: testKey},
		{name: "console key/value JSON", value: `{"COINGECKO_API_KEY": "` + testKey + `"}`, wantKey: testKey},
		{name: "JSON with two fields", value: `{"a": "` + testKey + `", "b": "x"}`, warn: true},
		{name: "JSON with a number", value: `{"a": 5}`, warn: true},
		{name: "broken JSON", value: `{"a": "` + testKey, warn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sm := smfake.Start(t)
			sm.Put("cryptovault/coingecko", tt.value)
			cache := secrets.NewCache(sm.Client(t), secrets.CacheOptions{})

			u := startUpstream(t, ok(`[]`))
			log, buf := testLogger()
			f := newCoinGecko(t, u, &sleeps{}, feed.Options{
				Logger: log, APIKey: feed.APIKeyFromSecret(cache, "cryptovault/coingecko"),
			})
			if _, err := f.Quotes(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			got := u.received()[0].Header.Get("x-cg-demo-api-key")
			if got != tt.wantKey {
				t.Errorf("header %q, want %q", got, tt.wantKey)
			}
			if tt.warn != strings.Contains(buf.String(), "API key unavailable") {
				t.Errorf("warning %v, want %v:\n%s", !tt.warn, tt.warn, buf)
			}
			if strings.Contains(buf.String(), testKey) {
				t.Errorf("the log shows the secret:\n%s", buf)
			}
		})
	}

	if feed.APIKeyFromSecret(nil, "") != nil {
		t.Error("no secret id must mean no key function")
	}
}

// The secret cannot be read at all: the request goes out without a key, and the log names the
// secret and the failure.
func TestAPIKeyFromSecretUnavailable(t *testing.T) {
	sm := smfake.Start(t)
	sm.SetFailure("AccessDeniedException", 400)
	cache := secrets.NewCache(sm.Client(t), secrets.CacheOptions{})
	u := startUpstream(t, ok(`[]`))
	log, buf := testLogger()
	f := newCoinGecko(t, u, &sleeps{}, feed.Options{Logger: log, APIKey: feed.APIKeyFromSecret(cache, "cg")})
	if _, err := f.Quotes(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if u.received()[0].Header.Get("x-cg-demo-api-key") != "" || !strings.Contains(buf.String(), "AccessDenied") {
		t.Errorf("header sent or no warning:\n%s", buf)
	}
}
