package devdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Options configures Start.
type Options struct {
	// Dir is the data directory for the SQLite files. It is created if
	// missing and reused as is, so data survives a restart with the same
	// Dir. "" means a new temporary directory that Close removes.
	Dir string

	// Addr is the proxy's listen address; "" means "127.0.0.1:0" (a free
	// loopback port, see Server.URI).
	Addr string

	// Logger receives devdb's own messages (engine lifecycle, refused or
	// broken connections); nil discards them. FerretDB's own logger always
	// discards: it logs whole documents at WARN level.
	Logger *slog.Logger
}

// Server is a running embedded engine with its serializing proxy in front.
// All methods are safe for concurrent use.
type Server struct {
	log     *slog.Logger
	dir     string
	tempDir bool // dir was created by Start and is removed by Close
	ln      net.Listener
	uri     string

	// cmdMu is the global command lock: it is held from forwarding a
	// request to the engine until its reply has been read back, across all
	// client connections, because FerretDB does not serialize
	// read-modify-write operations itself (concurrent $inc lose updates).
	// Lock order: cmdMu before mu.
	cmdMu sync.Mutex

	mu      sync.Mutex
	engine  *engine               // nil while stopped
	conns   map[net.Conn]struct{} // client and upstream connections, to drop them on StopEngine/Close
	closing chan struct{}         // closed when Close starts
	closed  bool
	wg      sync.WaitGroup // accept loop and connection goroutines

	closeOnce sync.Once
	closeErr  error

	faultMu sync.Mutex
	faults  []*faultRule

	countMu sync.Mutex
	counts  map[string]int

	connMu sync.Mutex
	conn   ConnStats
}

// engine is one run of FerretDB.
type engine struct {
	addr   string // FerretDB's private listen address; never handed out
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned and the backend is closed
}

// newMu serializes ferretdb.New, which writes package-level version state.
var newMu sync.Mutex

// discard is the logger handed to FerretDB and the default for devdb.
var discard = slog.New(slog.DiscardHandler)

// Start launches FerretDB (listening on a private 127.0.0.1 port of its own)
// and the proxy. ctx bounds the startup only; use Close to stop the server.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	s := &Server{
		log:     opts.Logger,
		conns:   make(map[net.Conn]struct{}),
		closing: make(chan struct{}),
		counts:  make(map[string]int),
	}
	if s.log == nil {
		s.log = discard
	}

	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "devdb-")
		if err != nil {
			return nil, fmt.Errorf("devdb: %w", err)
		}

		s.dir, s.tempDir = dir, true
	} else {
		dir, err := filepath.Abs(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("devdb: %w", err)
		}

		if err = os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("devdb: %w", err)
		}

		s.dir = dir
	}

	fail := func(err error) (*Server, error) {
		if s.tempDir {
			_ = os.RemoveAll(s.dir)
		}

		return nil, err
	}

	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}

	var lc net.ListenConfig

	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fail(fmt.Errorf("devdb: proxy listen: %w", err))
	}

	s.ln = ln

	if err = s.StartEngine(); err != nil {
		_ = ln.Close()
		return fail(err)
	}

	// directConnection=true: the driver must never follow hosts reported
	// by the engine (which would bypass the proxy) and needs no discovery
	// against a standalone anyway.
	s.uri = (&url.URL{
		Scheme:   "mongodb",
		Host:     ln.Addr().String(),
		Path:     "/",
		RawQuery: "directConnection=true",
	}).String()

	s.wg.Add(1)

	go s.acceptLoop()

	s.log.Info("devdb started", slog.String("uri", s.uri), slog.String("dir", s.dir))

	return s, nil
}

// URI returns the MongoDB connection string of the proxy — the only address
// clients get, so that every command goes through the serializing proxy.
func (s *Server) URI() string {
	return s.uri
}

// Dir returns the data directory in use (useful when Options.Dir was "").
func (s *Server) Dir() string {
	return s.dir
}

// Close stops the proxy and the engine, waits for all goroutines, and
// removes the data directory if Start created it. A command that is being
// executed completes first, and the engine closes its SQLite databases
// before Close returns, so data written before Close is durable.
// Close is idempotent; later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		s.mu.Unlock()

		err := s.ln.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}

		s.closeErr = errors.Join(err, s.StopEngine())
		s.wg.Wait()

		if s.tempDir {
			s.closeErr = errors.Join(s.closeErr, os.RemoveAll(s.dir))
		}

		s.log.Info("devdb stopped")
	})

	return s.closeErr
}

// StopEngine shuts the engine down while the proxy keeps listening, to
// simulate a database outage. It waits for a command in progress to finish,
// drops every client connection, and stops the engine. Until StartEngine,
// new connections are accepted and closed at once (the upstream cannot be
// dialed), so clients see network errors, not hangs.
// Stopping a stopped engine is a no-op.
func (s *Server) StopEngine() error {
	s.cmdMu.Lock()
	defer s.cmdMu.Unlock()

	s.mu.Lock()
	e := s.engine
	s.engine = nil
	conns := s.conns
	s.conns = make(map[net.Conn]struct{})
	s.mu.Unlock()

	// Closing the upstream connections lets FerretDB stop at once instead
	// of granting them a grace period.
	for c := range conns {
		_ = c.Close()
	}

	if e == nil {
		return nil
	}

	e.cancel()
	<-e.done

	s.log.Info("devdb engine stopped")

	return nil
}

// StartEngine (re)starts the engine on the same data directory. The engine
// gets a new private port; the proxy dials whatever the current one is, so
// clients reconnect through the same URI. Starting a running engine is a
// no-op; starting after Close is an error.
func (s *Server) StartEngine() error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.closed {
		return errors.New("devdb: server is closed")
	}

	if s.engine != nil {
		return nil
	}

	newMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Logger:    discard,
		Handler:   "sqlite",
		SQLiteURL: (&url.URL{Scheme: "file", Path: s.dir + "/", OmitHost: true}).String(),
	})
	newMu.Unlock()

	if err != nil {
		return fmt.Errorf("devdb: start engine: %w", err)
	}

	// ferretdb.New has already bound the listener, so the address is known
	// without waiting for Run.
	u, err := url.Parse(f.MongoDBURI())
	if err != nil {
		return fmt.Errorf("devdb: engine URI: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	e := &engine{addr: u.Host, cancel: cancel, done: make(chan struct{})}

	go func() {
		defer close(e.done)

		_ = f.Run(ctx) // returns only after cancel; always nil
	}()

	s.engine = e
	s.log.Info("devdb engine started", slog.String("engine", e.addr))

	return nil
}

// dialUpstream connects to the running engine and registers both ends of
// the pair so that StopEngine and Close can drop them. It fails while the
// engine is stopped or the server is closing.
func (s *Server) dialUpstream(client net.Conn) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	// Dialing under mu keeps StopEngine from missing a connection that is
	// being set up; it is a loopback dial, so it is quick.
	if s.closed {
		return nil, errors.New("devdb: server is closed")
	}

	if s.engine == nil {
		return nil, errors.New("devdb: engine is stopped")
	}

	up, err := net.DialTimeout("tcp", s.engine.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}

	s.conns[client] = struct{}{}
	s.conns[up] = struct{}{}

	return up, nil
}

// forget unregisters connections that the caller is closing.
func (s *Server) forget(conns ...net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()

	for _, c := range conns {
		delete(s.conns, c)
	}
}

// CommandCounts returns how many commands, by lower-cased command name (the
// first key of the command document), the proxy has forwarded to the
// engine since Start, handshakes included; callers filter what they need.
// Commands answered or dropped by a Fault are not counted. The map is a
// copy.
func (s *Server) CommandCounts() map[string]int {
	s.countMu.Lock()
	defer s.countMu.Unlock()

	m := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}

	return m
}

// ConnStats counts the client connections the proxy has accepted: what a
// MongoDB server reports as its current connections, to check a connection
// budget against.
type ConnStats struct {
	// Open is how many client connections are open now.
	Open int
	// Peak is the most that were open at once since Start or the last
	// ResetConnPeak.
	Peak int
	// Accepted is how many were accepted since Start.
	Accepted int
}

// ConnStats returns the proxy's connection counts.
func (s *Server) ConnStats() ConnStats {
	s.connMu.Lock()
	defer s.connMu.Unlock()

	return s.conn
}

// ResetConnPeak lowers Peak to the connections open now, so that a
// measurement's peak is its own and not that of the setup before it.
func (s *Server) ResetConnPeak() {
	s.connMu.Lock()
	defer s.connMu.Unlock()

	s.conn.Peak = s.conn.Open
}

// connOpened and connClosed bracket the life of one client connection.
func (s *Server) connOpened() {
	s.connMu.Lock()
	defer s.connMu.Unlock()

	s.conn.Open++
	s.conn.Accepted++
	s.conn.Peak = max(s.conn.Peak, s.conn.Open)
}

func (s *Server) connClosed() {
	s.connMu.Lock()
	defer s.connMu.Unlock()

	s.conn.Open--
}
