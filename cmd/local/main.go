// Command local is the local API server: every function of template.yaml on one port, on the
// embedded database, for frontend developers and for trying the API without AWS.
//
// Each HTTP request is turned into the API Gateway (REST, payload v1) event the stage would send
// and handed to that function's Lambda handler in-process, so the code path is the one that runs
// in AWS. Scheduled functions run on their template schedules.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/cryptovault/serverless/shared/devdb"
	"github.com/cryptovault/serverless/shared/platform/app"
	"github.com/cryptovault/serverless/shared/platform/config"
	"github.com/cryptovault/serverless/shared/samtemplate"
)

// flags are the command line.
type flags struct {
	addr      string
	data      string
	reset     bool
	template  string
	mongoAddr string
	prices    string
	// throttleOff disables the throttling table (-throttle off, for load tests); the zero
	// value is on, as the default.
	throttleOff bool
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8001", "listen address of the API")
	fs.StringVar(&f.data, "data", ".local", "data folder (database, JWT key, mail outbox); kept across restarts")
	fs.BoolVar(&f.reset, "reset", false, "wipe the data folder before starting")
	fs.StringVar(&f.template, "template", "template.yaml", "SAM template whose routes and schedules are served")
	fs.StringVar(&f.mongoAddr, "mongo-addr", "127.0.0.1:0", "listen address of the embedded database (for mongosh or tests)")
	fs.StringVar(&f.prices, "prices", "", "price feed: simulated, coingecko or file:PATH (default: PRICE_FEED, else simulated)")
	throttle := fs.String("throttle", "on", "enforce the template's throttling table at its parameter defaults, 429 RATE_LIMITED over it: on or off (for load tests)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch *throttle {
	case "on":
	case "off":
		f.throttleOff = true
	default:
		err := fmt.Errorf("-throttle %q: want on or off", *throttle)
		fmt.Fprintln(stderr, err)
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return f, nil
}

func main() {
	f, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// run serves until ctx is cancelled (Ctrl-C, SIGTERM), then shuts down in order: stop accepting,
// let in-flight requests finish, stop the schedules, close the clients, close the engine.
func run(ctx context.Context, f flags, getenv func(string) string, out io.Writer) error {
	if f.prices != "" {
		envFeed := getenv
		getenv = func(k string) string {
			if k == "PRICE_FEED" {
				return f.prices
			}
			return envFeed(k)
		}
	}
	cfg, err := config.Load(config.Local, getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: cfg.LogLevel}))

	if f.reset {
		if err := os.RemoveAll(f.data); err != nil {
			return fmt.Errorf("reset data folder: %w", err)
		}
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	if cfg.JWTSecret == "" && cfg.JWTSecretARN == "" {
		if cfg.JWTSecret, err = localJWTSecret(filepath.Join(f.data, "jwt-key.json")); err != nil {
			return err
		}
	}

	var db *devdb.Server
	if cfg.MongoURI == "" && cfg.MongoSecretARN == "" {
		db, err = devdb.Start(ctx, devdb.Options{Dir: filepath.Join(f.data, "db"), Addr: f.mongoAddr, Logger: log})
		if err != nil {
			return fmt.Errorf("start embedded database: %w", err)
		}
		defer func() {
			if err := db.Close(); err != nil {
				log.Error("embedded database close", "error", err.Error())
			}
		}()
		cfg.MongoURI = db.URI()
	}

	tpl, err := samtemplate.Load(f.template)
	if err != nil {
		return fmt.Errorf("read template: %w", err)
	}
	initCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	deps, err := app.New(initCtx, cfg, app.Options{Logger: log, MetricsOut: io.Discard, OutboxDir: filepath.Join(f.data, "outbox")})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := deps.Close(closeCtx); err != nil {
			log.Error("close clients", "error", err.Error())
		}
	}()

	gw, err := newGateway(tpl, deps, log)
	if err != nil {
		return err
	}
	if !f.throttleOff {
		table, err := tpl.Throttles()
		if err != nil {
			return fmt.Errorf("read throttling table: %w", err)
		}
		gw.throttle = newThrottler(table, deps, time.Now)
	}
	indexCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	for _, m := range gw.functions {
		app.EnsureIndexes(indexCtx, deps, m.fn.Indexes)
	}
	cancel()

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer mountStream(ctx, gw, deps, ln.Addr().String())() // the price stream at /ws/prices (ws.go); its sockets close before the database
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	schedCtx, stopSchedules := context.WithCancel(ctx)
	schedulesDone := gw.runSchedules(schedCtx)

	dbAddr := "external (MONGODB_URI)"
	if db != nil {
		dbAddr = db.URI()
	}
	fmt.Fprintf(out, "CryptoVault local API on http://%s\n  data folder: %s\n  database:    %s\n  mail outbox: %s\n  prices:      %s\n  CORS:        %v\n",
		ln.Addr(), f.data, dbAddr, filepath.Join(f.data, "outbox"), cfg.PriceFeed, cfg.CORSOrigins)
	if f.throttleOff {
		fmt.Fprintln(out, "  throttling:  off")
	} else {
		fmt.Fprintln(out, "  throttling:  on (template.yaml MethodSettings at the parameter defaults)")
	}

	select {
	case err := <-serveErr:
		stopSchedules()
		<-schedulesDone
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	stopSchedules()
	<-schedulesDone
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
