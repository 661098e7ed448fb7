package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cryptovault/serverless/shared/testkit/logbuf"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startMakeRun runs `make run ARGS=...` from the repository root, as a developer does, in its own
// process group so the test can press Ctrl-C on all of it.
func startMakeRun(t *testing.T, addr, data, mongoAddr string) (*exec.Cmd, *logbuf.Buffer) {
	t.Helper()
	cmd := exec.Command("make", "--no-print-directory", "-C", "../..", "run",
		fmt.Sprintf("ARGS=-addr %s -data %s -mongo-addr %s", addr, data, mongoAddr))
	out := &logbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("make run: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return cmd, out
}

func waitHealthy(t *testing.T, url string, out *logbuf.Buffer, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /health 200 within %v (last error %v)\n%s", timeout, err, out.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// interrupt presses Ctrl-C (SIGINT to the process group) and waits for a clean stop.
func interrupt(t *testing.T, cmd *exec.Cmd, out *logbuf.Buffer) {
	t.Helper()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done: // make reports the interrupt in its exit status; the server's own log says how it stopped
	case <-time.After(30 * time.Second):
		t.Fatalf("not stopped 30s after Ctrl-C\n%s", out.String())
	}
	if !strings.Contains(out.String(), "msg=stopped") {
		t.Fatalf("server did not stop cleanly:\n%s", out.String())
	}
}

// TestMakeRun: `make run` comes up, answers /health 200, stops on Ctrl-C, and keeps its data
// (database and JWT key) across a restart.
func TestMakeRun(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is required (README: the two commands are make run and make test)")
	}
	data := filepath.Join(t.TempDir(), "data")
	addr, mongoAddr := freeAddr(t), freeAddr(t)
	url := "http://" + addr

	cmd, out := startMakeRun(t, addr, data, mongoAddr)
	waitHealthy(t, url, out, 3*time.Minute) // the first build of the engine is slow on a cold cache
	if !strings.Contains(out.String(), "CryptoVault local API on "+url) {
		t.Errorf("start banner missing:\n%s", out.String())
	}
	key1, err := os.ReadFile(filepath.Join(data, "jwt-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + mongoAddr + "/?directConnection=true"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Database("cryptovault").Collection("keep").InsertOne(ctx, bson.D{{Key: "_id", Value: "marker"}}); err != nil {
		t.Fatal(err)
	}
	_ = client.Disconnect(ctx)
	frontendSession(t, url)
	interrupt(t, cmd, out)

	cmd, out = startMakeRun(t, addr, data, mongoAddr)
	waitHealthy(t, url, out, time.Minute)
	key2, err := os.ReadFile(filepath.Join(data, "jwt-key.json"))
	if err != nil || !bytes.Equal(key1, key2) {
		t.Errorf("JWT key changed across a restart (err %v)", err)
	}
	client, err = mongo.Connect(options.Client().ApplyURI("mongodb://" + mongoAddr + "/?directConnection=true"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := client.Database("cryptovault").Collection("keep").CountDocuments(ctx, bson.D{{Key: "_id", Value: "marker"}})
	_ = client.Disconnect(ctx)
	if err != nil || n != 1 {
		t.Errorf("data lost across a restart: count %d, err %v", n, err)
	}
	interrupt(t, cmd, out)
}

// TestShutdownFinishesInFlight: a request in flight when the signal arrives still gets its
// answer, and run returns cleanly afterwards.
func TestShutdownFinishesInFlight(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &logbuf.Buffer{}
	f := flags{addr: addr, data: t.TempDir(), template: "../../template.yaml", mongoAddr: "127.0.0.1:0"}
	done := make(chan error, 1)
	go func() { done <- run(ctx, f, func(string) string { return "" }, out) }()
	url := "http://" + addr
	waitHealthy(t, url, out, time.Minute)

	// Start a POST whose body arrives slowly: the request is in flight while we shut down.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"client":"slow"}`
	fmt.Fprintf(conn, "POST /api/status HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body[:5])
	time.Sleep(200 * time.Millisecond)

	cancel() // SIGTERM
	time.Sleep(200 * time.Millisecond)
	if _, err := io.WriteString(conn, body[5:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), "Status check received") {
		t.Errorf("in-flight request: %d %s", resp.StatusCode, raw)
	}
	conn.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Error("still serving after shutdown")
	}
}

// TestResetWipesData: -reset starts from an empty data folder (a new JWT key, no old files).
func TestResetWipesData(t *testing.T) {
	data := t.TempDir()
	stale := filepath.Join(data, "stale-file")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &logbuf.Buffer{}
	f := flags{addr: addr, data: data, reset: true, template: "../../template.yaml", mongoAddr: "127.0.0.1:0"}
	go func() { done <- run(ctx, f, func(string) string { return "" }, out) }()
	waitHealthy(t, "http://"+addr, out, time.Minute)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale file survived -reset: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "jwt-key.json")); err != nil {
		t.Errorf("no new JWT key after -reset: %v", err)
	}
}

// TestRunRefusesBadConfig: the local server reports configuration problems before starting.
func TestRunRefusesBadConfig(t *testing.T) {
	env := map[string]string{"CORS_ORIGINS": "*"}
	f := flags{addr: freeAddr(t), data: t.TempDir(), template: "../../template.yaml"}
	err := run(context.Background(), f, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CORS_ORIGINS") {
		t.Fatalf("run with CORS_ORIGINS=*: %v", err)
	}
}

// frontendSession plays the React frontend against the running server: a browser with a cookie
// jar, credentials included, no tokens handled by the page.
func frontendSession(t *testing.T, url string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://localhost:3000")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("%s %s: no CORS headers for the frontend origin", method, path)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, raw)
		}
		return m
	}
	// The anonymous page load: 401s, never a 500.
	call("GET", "/api/auth/me", "", 401)
	call("POST", "/api/auth/refresh", "", 401)
	call("GET", "/api/auth/me", "", 401)

	creds := `{"email":"grace@example.com","password":"Cobol1959Rocks","name":"Grace Hopper"}`
	call("POST", "/api/auth/signup", creds, 201)
	if me := call("GET", "/api/auth/me", "", 200); me["user"].(map[string]any)["email"] != "grace@example.com" {
		t.Errorf("me = %v", me)
	}
	call("POST", "/api/auth/refresh", "", 200)
	call("POST", "/api/auth/logout", "", 200)
	call("GET", "/api/auth/me", "", 401)
	call("POST", "/api/auth/login", `{"email":"grace@example.com","password":"Cobol1959Rocks"}`, 200)
	call("GET", "/api/auth/me", "", 200)
	if logs := call("GET", "/api/audit-logs?action=login", "", 200); logs["total"].(float64) < 1 {
		t.Errorf("audit logs = %v", logs)
	}

	// The Trade page: market data, a market buy with its exact body, then the Dashboard and the
	// history page read the result.
	if market := call("GET", "/api/crypto", "", 200); len(market["data"].([]any)) != 10 {
		t.Errorf("market data = %v", market)
	}
	order := call("POST", "/api/orders", `{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.05,"price":65000}`, 201)
	if o := order["order"].(map[string]any); o["status"] != "filled" || o["amount"] != 0.05 || o["price"] != nil {
		t.Errorf("order = %v", o)
	}
	pf := call("GET", "/api/portfolio", "", 200)["portfolio"].(map[string]any)
	holdings := pf["holdings"].([]any)
	if len(holdings) != 1 {
		t.Fatalf("portfolio = %v", pf)
	}
	h := holdings[0].(map[string]any)
	for _, k := range []string{"amount", "value", "allocation", "change", "price", "available"} {
		if _, ok := h[k].(float64); !ok {
			t.Errorf("holding %s = %#v, want a number", k, h[k])
		}
	}
	if _, ok := pf["totalBalance"].(float64); !ok || h["symbol"] != "BTC" || h["amount"] != 0.05 {
		t.Errorf("portfolio = %v", pf)
	}
	txs := call("GET", "/api/transactions?limit=50&offset=0", "", 200)["transactions"].([]any)
	var buys int
	for _, tx := range txs {
		m := tx.(map[string]any)
		if m["createdAt"] == nil || m["created_at"] == nil {
			t.Errorf("transaction without createdAt: %v", m)
		}
		if m["type"] == "buy" {
			buys++
		}
	}
	if buys != 1 {
		t.Errorf("transactions = %v, want one buy", txs)
	}
}
