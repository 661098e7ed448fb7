package devdb

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// startServer starts a Server closed at the end of the test.
func startServer(t *testing.T, opts Options) *Server {
	t.Helper()

	s, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}

	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	return s
}

// connect returns a driver client for uri, disconnected at the end of the
// test. Server selection is short so that an unreachable engine shows up as
// an error quickly instead of a 30 s hang.
func connect(t *testing.T, uri string, modify ...func(*options.ClientOptions)) *mongo.Client {
	t.Helper()

	o := options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(5 * time.Second).
		SetHeartbeatInterval(500 * time.Millisecond)
	for _, m := range modify {
		m(o)
	}

	c, err := mongo.Connect(o)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		_ = c.Disconnect(ctx)
	})

	return c
}

// testCtx bounds a test's database calls so that a proxy bug fails the test
// instead of hanging it.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)

	return ctx
}

// clients returns n independent clients: each has its own pool, so the
// proxy sees many connections competing for the command lock.
func clients(t *testing.T, s *Server, n int) []*mongo.Client {
	cs := make([]*mongo.Client, n)
	for i := range cs {
		cs[i] = connect(t, s.URI())
	}

	return cs
}

func TestURI(t *testing.T) {
	s := startServer(t, Options{})

	if !strings.HasPrefix(s.URI(), "mongodb://127.0.0.1:") || !strings.Contains(s.URI(), "directConnection=true") {
		t.Fatalf("URI = %q", s.URI())
	}

	if strings.Contains(s.URI(), s.engine.addr) {
		t.Fatalf("URI %q exposes the engine address %s", s.URI(), s.engine.addr)
	}

	if err := connect(t, s.URI()).Ping(testCtx(t), nil); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestConcurrentIncrements(t *testing.T) {
	const perClient = 50

	s := startServer(t, Options{})
	ctx := testCtx(t)
	cs := clients(t, s, 4)

	if _, err := cs[0].Database("test").Collection("counters").InsertOne(ctx, bson.D{{Key: "_id", Value: "c"}, {Key: "n", Value: 0}}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, len(cs)*perClient)

	for _, c := range cs {
		coll := c.Database("test").Collection("counters")
		for range perClient {
			wg.Go(func() {
				_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "c"}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}})
				if err != nil {
					errs <- err
				}
			})
		}
	}

	wg.Wait()
	close(errs)

	for err := range errs {
		t.Fatalf("UpdateOne: %v", err)
	}

	var doc struct{ N int }
	if err := cs[0].Database("test").Collection("counters").FindOne(ctx, bson.D{{Key: "_id", Value: "c"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}

	if want := len(cs) * perClient; doc.N != want {
		t.Fatalf("n = %d, want %d (lost updates)", doc.N, want)
	}
}

func TestConcurrentConditionalDebits(t *testing.T) {
	const (
		start     = 5000
		debit     = 100
		perClient = 50
	)

	s := startServer(t, Options{})
	ctx := testCtx(t)
	cs := clients(t, s, 4)

	if _, err := cs[0].Database("test").Collection("accounts").InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "balance", Value: start}}); err != nil {
		t.Fatal(err)
	}

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded int
		firstErr  error
	)

	for _, c := range cs {
		coll := c.Database("test").Collection("accounts")
		for range perClient {
			wg.Go(func() {
				res, err := coll.UpdateOne(ctx,
					bson.D{{Key: "_id", Value: "a"}, {Key: "balance", Value: bson.D{{Key: "$gte", Value: debit}}}},
					bson.D{{Key: "$inc", Value: bson.D{{Key: "balance", Value: -debit}}}})

				mu.Lock()
				defer mu.Unlock()

				switch {
				case err != nil:
					firstErr = cmp.Or(firstErr, err)
				case res.ModifiedCount == 1:
					succeeded++
				}
			})
		}
	}

	wg.Wait()

	if firstErr != nil {
		t.Fatalf("UpdateOne: %v", firstErr)
	}

	var doc struct{ Balance int }
	if err := cs[0].Database("test").Collection("accounts").FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}

	if succeeded != start/debit || doc.Balance != 0 {
		t.Fatalf("%d debits succeeded, balance %d; want %d and 0", succeeded, doc.Balance, start/debit)
	}
}

func TestConcurrentSequence(t *testing.T) {
	const n = 50

	s := startServer(t, Options{})
	ctx := testCtx(t)
	cs := clients(t, s, 2)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = make(map[int]bool)
		errs []error
	)

	for i := range n {
		coll := cs[i%len(cs)].Database("test").Collection("seq")

		wg.Go(func() {
			var doc struct{ N int }

			err := coll.FindOneAndUpdate(ctx,
				bson.D{{Key: "_id", Value: "invoice"}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}},
				options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
			).Decode(&doc)

			mu.Lock()
			defer mu.Unlock()

			if err != nil {
				errs = append(errs, err)
				return
			}

			if seen[doc.N] {
				errs = append(errs, errors.New("duplicate sequence value"))
			}

			seen[doc.N] = true
		})
	}

	wg.Wait()

	if len(errs) > 0 {
		t.Fatalf("%d errors, first: %v", len(errs), errs[0])
	}

	for i := 1; i <= n; i++ {
		if !seen[i] {
			t.Fatalf("value %d never returned; got %v", i, seen)
		}
	}
}

func TestUnacknowledgedWrite(t *testing.T) {
	s := startServer(t, Options{})
	ctx := testCtx(t)

	// One connection, so the w:0 insert and the commands after it share it:
	// a reply leaked to the client would be read as the next command's.
	c := connect(t, s.URI(), func(o *options.ClientOptions) { o.SetMaxPoolSize(1) })
	db := c.Database("test")
	w0 := db.Collection("w0", options.Collection().SetWriteConcern(writeconcern.Unacknowledged()))

	for i := range 3 {
		res, err := w0.InsertOne(ctx, bson.D{{Key: "_id", Value: i}})
		if err != nil {
			t.Fatalf("w:0 InsertOne: %v", err)
		}

		if res.Acknowledged {
			t.Fatal("w:0 insert reported as acknowledged")
		}

		if err = db.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
			t.Fatalf("ping after w:0 insert: %v", err)
		}
	}

	n, err := db.Collection("w0").CountDocuments(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}

	if n != 3 {
		t.Fatalf("%d documents arrived, want 3", n)
	}
}

// TestUnacknowledgedWriteRaw checks on the wire that the engine's reply to a
// moreToCome request never reaches the client.
func TestUnacknowledgedWriteRaw(t *testing.T) {
	s := startServer(t, Options{})

	conn, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))

	insert := opMsgBytes(t, 1, msgMoreToCome, bson.D{
		{Key: "insert", Value: "raw"},
		{Key: "documents", Value: bson.A{bson.D{{Key: "_id", Value: 1}}}},
		{Key: "$db", Value: "test"},
	})
	ping := opMsgBytes(t, 2, 0, bson.D{{Key: "ping", Value: 1}, {Key: "$db", Value: "admin"}})

	if _, err = conn.Write(append(insert, ping...)); err != nil {
		t.Fatal(err)
	}

	reply, err := readMessage(conn)
	if err != nil {
		t.Fatal(err)
	}

	if to := binary.LittleEndian.Uint32(reply[8:]); to != 2 {
		t.Fatalf("first reply answers request %d, want 2 (the ping)", to)
	}

	// Nothing else may follow.
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))

	if extra, err := readMessage(conn); err == nil {
		t.Fatalf("unexpected extra reply to request %d", binary.LittleEndian.Uint32(extra[8:]))
	}
}

// TestCompressedRefused checks that an OP_COMPRESSED message closes the
// connection instead of reaching the engine.
func TestCompressedRefused(t *testing.T) {
	s := startServer(t, Options{})

	conn, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))

	msg := make([]byte, headerLen+9)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.LittleEndian.PutUint32(msg[4:], 1)
	binary.LittleEndian.PutUint32(msg[12:], opCompressed)

	if _, err = conn.Write(msg); err != nil {
		t.Fatal(err)
	}

	if _, err = readMessage(conn); !errors.Is(err, io.EOF) {
		t.Fatalf("read after OP_COMPRESSED: %v, want EOF", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := testCtx(t)

	s1, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}

	c1 := connect(t, s1.URI())
	if _, err = c1.Database("test").Collection("keep").InsertOne(ctx, bson.D{{Key: "_id", Value: "x"}, {Key: "v", Value: 42}}); err != nil {
		t.Fatal(err)
	}

	if err = s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	if err = s1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s2 := startServer(t, Options{Dir: dir})

	var doc struct{ V int }
	if err = connect(t, s2.URI()).Database("test").Collection("keep").FindOne(ctx, bson.D{{Key: "_id", Value: "x"}}).Decode(&doc); err != nil {
		t.Fatalf("FindOne after restart: %v", err)
	}

	if doc.V != 42 {
		t.Fatalf("v = %d, want 42", doc.V)
	}
}

func TestStopStartEngine(t *testing.T) {
	s := startServer(t, Options{})
	ctx := testCtx(t)
	c := connect(t, s.URI(), func(o *options.ClientOptions) { o.SetServerSelectionTimeout(time.Second) })
	coll := c.Database("test").Collection("outage")

	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "before"}}); err != nil {
		t.Fatal(err)
	}

	if err := s.StopEngine(); err != nil {
		t.Fatalf("StopEngine: %v", err)
	}

	if err := s.StopEngine(); err != nil {
		t.Fatalf("second StopEngine: %v", err)
	}

	// The first call hits a dropped pooled connection (and the driver's
	// read retry then server selection), the second one server selection
	// against an unreachable engine: both must fail, and fast.
	for i := range 2 {
		start := time.Now()

		if err := coll.FindOne(ctx, bson.D{}).Err(); err == nil {
			t.Fatalf("call %d succeeded while the engine is stopped", i)
		}

		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("call %d took %v to fail", i, d)
		}
	}

	if err := s.StartEngine(); err != nil {
		t.Fatalf("StartEngine: %v", err)
	}

	var (
		doc bson.M
		err error
	)

	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: "before"}}).Decode(&doc); err == nil {
			break
		}

		time.Sleep(100 * time.Millisecond)
	}

	if err != nil {
		t.Fatalf("client did not recover after StartEngine: %v", err)
	}
}

func TestFaultDelay(t *testing.T) {
	const delay = 500 * time.Millisecond

	s := startServer(t, Options{})
	ctx := testCtx(t)
	c := connect(t, s.URI())
	coll := c.Database("test").Collection("delay")

	if err := c.Ping(ctx, nil); err != nil {
		t.Fatal(err)
	}

	s.Inject(Fault{Command: "FIND", Delay: delay, Times: 1})

	done := make(chan time.Duration)

	go func() {
		start := time.Now()
		_ = coll.FindOne(ctx, bson.D{}).Err()
		done <- time.Since(start)
	}()

	// While the find waits, other commands must still be served: the delay
	// is spent outside the global lock.
	time.Sleep(100 * time.Millisecond)

	start := time.Now()
	if err := c.Ping(ctx, nil); err != nil {
		t.Fatal(err)
	}

	if d := time.Since(start); d >= delay/2 {
		t.Errorf("ping took %v during a delayed find", d)
	}

	if d := <-done; d < delay {
		t.Fatalf("delayed find took %v, want >= %v", d, delay)
	}

	// Times: 1 is used up.
	start = time.Now()
	_ = coll.FindOne(ctx, bson.D{}).Err()

	if d := time.Since(start); d >= delay {
		t.Fatalf("second find took %v, fault should be used up", d)
	}
}

func TestFaultFail(t *testing.T) {
	s := startServer(t, Options{})
	ctx := testCtx(t)
	c := connect(t, s.URI(), func(o *options.ClientOptions) { o.SetRetryReads(false) })
	coll := c.Database("test").Collection("fail")

	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}

	before := s.CommandCounts()["find"]

	s.Inject(Fault{Command: "find", Fail: true, Times: 2})

	for i := range 2 {
		err := coll.FindOne(ctx, bson.D{}).Err()
		if !mongo.IsNetworkError(err) {
			t.Fatalf("find %d: %v, want a network error", i, err)
		}
	}

	if err := coll.FindOne(ctx, bson.D{}).Err(); err != nil {
		t.Fatalf("find after the fault is used up: %v", err)
	}

	if got := s.CommandCounts()["find"] - before; got != 1 {
		t.Fatalf("%d finds forwarded, want 1 (failed ones never reach the engine)", got)
	}
}

func TestFaultAnyCommandSparesHandshake(t *testing.T) {
	s := startServer(t, Options{})
	ctx := testCtx(t)

	s.Inject(Fault{Fail: true, Times: 1})

	// A fresh client must still connect (hello is spared); its first real
	// command takes the fault.
	c := connect(t, s.URI())
	if err := c.Ping(ctx, nil); !mongo.IsNetworkError(err) {
		t.Fatalf("first ping: %v, want a network error", err)
	}

	if err := c.Ping(ctx, nil); err != nil {
		t.Fatalf("second ping: %v", err)
	}
}

func TestFaultErrorCode(t *testing.T) {
	s := startServer(t, Options{})
	ctx := testCtx(t)
	coll := connect(t, s.URI()).Database("test").Collection("errcode")

	s.Inject(Fault{Command: "insert", ErrorCode: 2, ErrorMessage: "boom", Times: 1})

	_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}})

	var ce mongo.CommandError
	if !errors.As(err, &ce) || ce.Code != 2 || ce.Message != "boom" {
		t.Fatalf("InsertOne: %#v, want command error 2 boom", err)
	}

	if _, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatalf("InsertOne after fault: %v", err)
	}

	s.Inject(Fault{Command: "count", ErrorCode: 2})
	s.ClearFaults()

	if n, err := coll.CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
		t.Fatalf("CountDocuments after ClearFaults: %d, %v", n, err)
	}
}

func TestCommandCounts(t *testing.T) {
	s := startServer(t, Options{})
	ctx := testCtx(t)
	coll := connect(t, s.URI()).Database("test").Collection("counts")

	for i := range 3 {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: 0}}, bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 1}}}}); err != nil {
		t.Fatal(err)
	}

	counts := s.CommandCounts()
	if counts["insert"] != 3 || counts["update"] != 1 {
		t.Fatalf("counts = %v, want insert 3 and update 1", counts)
	}

	if counts["hello"]+counts["ismaster"] == 0 {
		t.Fatalf("counts = %v, want handshakes counted too", counts)
	}

	counts["insert"] = 100 // a copy: must not affect the server

	if s.CommandCounts()["insert"] != 3 {
		t.Fatal("CommandCounts returned the live map")
	}
}

func TestDuplicateKey(t *testing.T) {
	s := startServer(t, Options{})
	ctx := testCtx(t)
	coll := connect(t, s.URI()).Database("test").Collection("users")

	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err = coll.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}}); err != nil {
		t.Fatal(err)
	}

	_, err = coll.InsertOne(ctx, bson.D{{Key: "email", Value: "a@example.com"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second insert: %v, want a duplicate key error", err)
	}
}

func TestClosedServer(t *testing.T) {
	s, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}

	dir := s.Dir()

	if err = s.Close(); err != nil {
		t.Fatal(err)
	}

	if err = s.StartEngine(); err == nil {
		t.Fatal("StartEngine after Close succeeded")
	}

	if _, err = net.DialTimeout("tcp", s.ln.Addr().String(), time.Second); err == nil {
		t.Fatal("proxy still listening after Close")
	}

	if _, err = os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary dir still there after Close: %v", err)
	}
}

// opMsgBytes encodes an OP_MSG with a single body section.
func opMsgBytes(t *testing.T, requestID int32, flags uint32, doc bson.D) []byte {
	t.Helper()

	b, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}

	msg := make([]byte, headerLen+5, headerLen+5+len(b))
	binary.LittleEndian.PutUint32(msg[4:], uint32(requestID))
	binary.LittleEndian.PutUint32(msg[12:], opMsg)
	binary.LittleEndian.PutUint32(msg[16:], flags)
	msg = append(msg, b...)
	binary.LittleEndian.PutUint32(msg[0:], uint32(len(msg)))

	return msg
}
