package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/lambdahttp"
	"github.com/cryptovault/serverless/shared/platform/obs"
)

// handlerBench is the market function's warm instance, configured as in Lambda (JSON access log
// at info level, written to a discarding writer instead of stdout), and the GET /api/crypto event
// API Gateway sends it.
type handlerBench struct {
	fn    *lambdahttp.Function
	event []byte
	ctx   context.Context
	// body and header are what the full path answers: the bare handler returns the same bytes.
	body   string
	header map[string]string
}

func newHandlerBench(tb testing.TB, e *env) *handlerBench {
	tb.Helper()
	e.refreshPrices(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := app.New(ctx, e.config(tb, nil), app.Options{
		Logger: obs.NewLogger(io.Discard, slog.LevelInfo, slog.String("function", "market")), MetricsOut: io.Discard,
		SecretsAPI: e.sm.Client(tb),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close(context.Background()) })
	// market.NewMarketFunction, with a price cache that outlives the benchmark: every request is
	// the cached read, none the cache's periodic refill.
	store := market.NewStore(d.Mongo.Database, market.StoreOptions{MaxAge: d.Config.PriceMaxAge, CacheTTL: time.Hour})
	rt := d.Router()
	store.Routes(rt)
	fn := &lambdahttp.Function{Name: market.MarketName, HTTP: d.HTTP(market.MarketName, rt), Routes: rt.Routes(), Logger: d.Logger}
	ev, err := os.ReadFile(filepath.Join("..", "events", "market-list.json"))
	if err != nil {
		tb.Fatal(err)
	}
	h := &handlerBench{fn: fn, event: ev,
		ctx: lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"})}
	out, err := fn.Handle(h.ctx, ev) // fills the price cache
	if err != nil {
		tb.Fatal(err)
	}
	resp := out.(events.APIGatewayProxyResponse)
	if resp.StatusCode != 200 {
		tb.Fatalf("GET /api/crypto: %d %s", resp.StatusCode, resp.Body)
	}
	h.body = resp.Body
	h.header = map[string]string{"Content-Type": "application/json; charset=utf-8"}
	return h
}

// full is what the Lambda runtime does for one invoke of the market function: the event's
// JSON, the adapter (event → http.Request), the middleware (request id, CORS, security headers,
// access log), the router, the handler answering from the instance's price cache, the proxy
// response, and its JSON.
func (h *handlerBench) full(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		out, err := h.fn.Handle(h.ctx, h.event)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

// bare is the least a Lambda behind API Gateway can do for the same answer: decode the event
// into events.APIGatewayProxyRequest and return the same body, encoded.
func (h *handlerBench) bare(b *testing.B) {
	b.ReportAllocs()
	handler := func(_ context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.HTTPMethod != "GET" {
			return events.APIGatewayProxyResponse{StatusCode: 405}, nil
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Headers: h.header, Body: h.body}, nil
	}
	for b.Loop() {
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(h.event, &ev); err != nil {
			b.Fatal(err)
		}
		out, err := handler(h.ctx, ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

// interleaved runs the full and bare benchmarks in turns, pairs times, and returns the
// median run of each (by ns/op): a burst of other work on the machine then hits both alike.
func (h *handlerBench) interleaved(pairs int) (full, bare testing.BenchmarkResult) {
	var fs, bs []testing.BenchmarkResult
	for range pairs {
		fs = append(fs, testing.Benchmark(h.full))
		bs = append(bs, testing.Benchmark(h.bare))
	}
	mid := func(rs []testing.BenchmarkResult) testing.BenchmarkResult {
		slices.SortFunc(rs, func(a, b testing.BenchmarkResult) int { return cmp.Compare(a.NsPerOp(), b.NsPerOp()) })
		return rs[len(rs)/2]
	}
	return mid(fs), mid(bs)
}

// BenchmarkHandler compares the full in-process path of a cached read (GET /api/crypto on a
// warm market instance) with a bare API Gateway handler returning the same bytes.
func BenchmarkHandler(b *testing.B) {
	h := newHandlerBench(b, newEnv(b))
	b.Run("full", h.full)
	b.Run("bare", h.bare)
}
