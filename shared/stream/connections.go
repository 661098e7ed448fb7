package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/platform/mongodb"
)

// ConnectionsCollection holds one document per open WebSocket connection.
const ConnectionsCollection = "ws_connections"

// MaxConnectionAge is API Gateway's maximum WebSocket connection duration: it closes every
// connection after 2 hours, so a document older than that is a connection whose $disconnect was
// lost.
const MaxConnectionAge = 2 * time.Hour

// maxConnectionIDLen bounds a connection id: API Gateway's are 16 characters.
const maxConnectionIDLen = 128

// ErrNoConnection: no live document has that connection id.
var ErrNoConnection = errors.New("stream: connection not registered")

// Connection is a document of ws_connections.
type Connection struct {
	ID          string    `bson:"_id"`
	ConnectedAt time.Time `bson:"connected_at"`
	ExpiresAt   time.Time `bson:"expires_at"`
	// Endpoint is the management endpoint that reaches the connection (https://{domain}/{stage}).
	Endpoint string `bson:"endpoint"`
	// Symbols narrows the updates to these coins, in feed.Coins order; empty: every coin.
	Symbols []string `bson:"symbols"`
}

// Connections reads and writes ws_connections. It is safe for concurrent use.
type Connections struct {
	db func(ctx context.Context) (*mongo.Database, error)
}

// NewConnections returns the store on the database db returns (mongodb.Client.Database). It does
// no I/O.
func NewConnections(db func(ctx context.Context) (*mongo.Database, error)) *Connections {
	return &Connections{db: db}
}

// Indexes lists what the queries need: live documents are scanned by expires_at, which is also
// the TTL that removes documents of connections whose $disconnect never ran (one second after
// expires_at: the index type cannot say zero; queries check expiry themselves).
func Indexes() []mongodb.Index {
	return []mongodb.Index{{
		Collection: ConnectionsCollection, Name: "expires_at", Keys: bson.D{{Key: "expires_at", Value: 1}},
		ExpireAfter: time.Second,
	}}
}

func (c *Connections) coll(ctx context.Context) (*mongo.Collection, error) {
	db, err := c.db(ctx)
	if err != nil {
		return nil, err
	}
	return db.Collection(ConnectionsCollection), nil
}

// Add stores conn, replacing a document with the same id (a retried $connect is not an error).
func (c *Connections) Add(ctx context.Context, conn Connection) error {
	coll, err := c.coll(ctx)
	if err != nil {
		return err
	}
	if conn.Symbols == nil {
		conn.Symbols = []string{}
	}
	_, err = coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: conn.ID}}, conn, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("stream: store connection: %w", err)
	}
	return nil
}

// Remove deletes the connection's document; a missing one is not an error.
func (c *Connections) Remove(ctx context.Context, id string) error {
	coll, err := c.coll(ctx)
	if err != nil {
		return err
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("stream: remove connection: %w", err)
	}
	return nil
}

// RemoveMany deletes the documents of ids with one command per thousand ids.
func (c *Connections) RemoveMany(ctx context.Context, ids []string) error {
	coll, err := c.coll(ctx)
	if err != nil {
		return err
	}
	for len(ids) > 0 {
		n := min(len(ids), 1000)
		if _, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids[:n]}}}}); err != nil {
			return fmt.Errorf("stream: remove gone connections: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

// Get returns the live document of id, or ErrNoConnection.
func (c *Connections) Get(ctx context.Context, id string, now time.Time) (Connection, error) {
	coll, err := c.coll(ctx)
	if err != nil {
		return Connection{}, err
	}
	var conn Connection
	err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}}).Decode(&conn)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Connection{}, ErrNoConnection
	}
	if err != nil {
		return Connection{}, fmt.Errorf("stream: read connection: %w", err)
	}
	return conn, nil
}

// Subscribe sets the symbols of a live connection; ErrNoConnection when there is none.
func (c *Connections) Subscribe(ctx context.Context, id string, symbols []string, now time.Time) error {
	coll, err := c.coll(ctx)
	if err != nil {
		return err
	}
	res, err := coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "symbols", Value: symbols}}}})
	if err != nil {
		return fmt.Errorf("stream: update subscription: %w", err)
	}
	if res.MatchedCount == 0 {
		return ErrNoConnection
	}
	return nil
}

// scanBatch is the cursor's batch size: 10,000 connections are 10 round trips, and a batch of
// these small documents is about 100 KB.
const scanBatch = 1000

// Live calls fn with every connection not expired at now, until fn returns false or ctx ends. The
// documents come from one cursor, so memory stays at one batch whatever the number of connections.
func (c *Connections) Live(ctx context.Context, now time.Time, fn func(Connection) bool) error {
	coll, err := c.coll(ctx)
	if err != nil {
		return err
	}
	cur, err := coll.Find(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}},
		options.Find().SetBatchSize(scanBatch))
	if err != nil {
		return fmt.Errorf("stream: read connections: %w", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		var conn Connection
		if err := cur.Decode(&conn); err != nil {
			return fmt.Errorf("stream: decode connection: %w", err)
		}
		if !fn(conn) {
			return nil
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("stream: read connections: %w", err)
	}
	return nil
}

// validConnectionID accepts what API Gateway and the local server issue: 1-128 visible ASCII
// characters. It keeps other input out of queries, URLs and logs.
func validConnectionID(id string) bool {
	if id == "" || len(id) > maxConnectionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}
