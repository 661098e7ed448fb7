package stream_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/market"
	"github.com/cryptovault/serverless/shared/market/feed"
	"github.com/cryptovault/serverless/shared/money"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/stream"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// refreshedAt is when the test prices were stored.
var refreshedAt = time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)

// testPrices is a price for every supported coin, as a refresh leaves them.
func testPrices() []market.Price {
	out := make([]market.Price, len(feed.Coins))
	for i, c := range feed.Coins {
		out[i] = market.Price{
			Symbol: c.Symbol, ID: c.ID, Name: c.Name, Source: "simulated",
			Price: money.Price(int64(i+1) * 123_456_789_012), Change24h: money.Percent(i*10 - 45),
			MarketCap: int64(i+1) * 10_000_000_000, Volume24h: int64(i+1) * 1_000_000_000,
			UpdatedAt: refreshedAt,
		}
	}
	return out
}

// staticPrices is a PriceSource of fixed prices.
type staticPrices []market.Price

func (s staticPrices) All(context.Context) ([]market.Price, error) { return s, nil }

// env is an embedded database with the platform's dependencies on it and the stream's indexes.
type env struct {
	*testenv.Env
	srv   *devdb.Server
	conns *stream.Connections
}

func newEnv(t testing.TB, vars map[string]string) *env {
	t.Helper()
	db := testenv.DB(t)
	e := &env{Env: testenv.NewDeps(t, testenv.Config(t, db.URI(), vars), app.Options{}), srv: db}
	e.conns = stream.NewConnections(e.Deps.Mongo.Database)
	ctx := testCtx(t)
	mdb, err := e.Deps.Mongo.Database(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := mongodb.EnsureIndexes(ctx, mdb, e.Deps.Logger, stream.Indexes()); err != nil {
		t.Fatal(err)
	}
	return e
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// doc reads a connection's document as stored; ok is false when there is none.
func (e *env) doc(t testing.TB, id string) (bson.M, bool) {
	t.Helper()
	db, err := e.Deps.Mongo.Database(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var m bson.M
	err = db.Collection(stream.ConnectionsCollection).FindOne(testCtx(t), bson.D{{Key: "_id", Value: id}}).Decode(&m)
	if err != nil {
		return nil, false
	}
	return m, true
}

// add stores a connection document directly (connections whose $connect is not under test).
func (e *env) add(t testing.TB, c stream.Connection) {
	t.Helper()
	if err := e.conns.Add(testCtx(t), c); err != nil {
		t.Fatal(err)
	}
}

// wsEvent is an API Gateway WebSocket event of the stage "dev" on the given domain.
func wsEvent(eventType, id, domain, body string) events.APIGatewayWebsocketProxyRequest {
	route := map[string]string{stream.EventConnect: "$connect", stream.EventDisconnect: "$disconnect"}[eventType]
	if route == "" {
		route = "$default"
	}
	return events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: route, EventType: eventType, ConnectionID: id, DomainName: domain, Stage: "dev",
			RequestID: "req-" + id, APIID: "abc123", MessageDirection: "IN",
		},
		Body: body,
	}
}

// priceMessage is a decoded initial_prices or price_update.
type priceMessage struct {
	Type      string           `json:"type"`
	Data      []map[string]any `json:"data"`
	Timestamp string           `json:"timestamp"`
}

func decodePrices(t testing.TB, raw []byte) priceMessage {
	t.Helper()
	var m priceMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a prices message: %v: %s", err, raw)
	}
	return m
}

func (m priceMessage) symbols() []string {
	var out []string
	for _, c := range m.Data {
		s, _ := c["symbol"].(string)
		out = append(out, s)
	}
	return out
}
