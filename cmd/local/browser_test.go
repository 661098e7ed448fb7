package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cryptovault/serverless/shared/testkit/logbuf"
)

// chromiumNames are the executables tried, in order (Debian's package installs `chromium`).
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// findChromium returns the browser to drive, or "" when none is installed. CHROMIUM overrides.
func findChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		if p, err := exec.LookPath(p); err == nil {
			return p
		}
		return ""
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// step is one fetch of the test page, as the page reports it.
type step struct {
	Method    string         `json:"method"`
	Path      string         `json:"path"`
	Status    int            `json:"status"`
	RequestID string         `json:"requestId"`
	Body      map[string]any `json:"body"`
	Error     string         `json:"error"`
	Cookie    *string        `json:"cookie"`
}

// servePage serves testdata/browser on a loopback port of its own: one origin.
func servePage(t *testing.T) (port string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(filepath.Join("testdata", "browser"))), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port
}

// TestBrowserCrossOrigin drives headless Chromium against the local server, as the React
// frontend uses it: a page from another origin of the same site (http://localhost:<page port>,
// on the CORS allowlist) calls the API (http://localhost:<api port>) with credentials: 'include'
// and JSON on every request — sign up, /me, a market order, the portfolio, log out, /me → 401 —
// with the session in HttpOnly cookies the page never sees. A page from an origin outside the
// allowlist (http://127.0.0.1:<other port>) gets nothing: the browser refuses it every answer
// (a TypeError in the page) and never sends its signup. On failure, screenshots of both pages are
// saved under the test's temporary folder (or $BROWSER_SCREENSHOTS, which outlives it) and their
// paths logged.
func TestBrowserCrossOrigin(t *testing.T) {
	chromium := findChromium()
	if chromium == "" {
		msg := "BROWSER TEST NOT RUN: no Chromium (tried " + strings.Join(chromiumNames, ", ") + " and $CHROMIUM); " +
			"install it with `apt-get install chromium` (.ci/run does) to test CORS and cookies in a real browser"
		t.Log(msg)
		fmt.Fprintln(os.Stderr, "*** "+msg+" ***")
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run the browser test: .ci/run installs Chromium")
		}
		t.Skip(msg)
	}

	// The API: run() in-process, with the allowed page origin as its CORS allowlist.
	pagePort, otherPort := servePage(t), servePage(t)
	allowed := "http://localhost:" + pagePort
	apiAddr := freeAddr(t)
	_, apiPort, _ := net.SplitHostPort(apiAddr)
	api := "http://localhost:" + apiPort
	prices := filepath.Join(t.TempDir(), "prices.json")
	if err := os.WriteFile(prices, []byte(`{"quotes":[{"symbol":"BTC","price":"65000.12"},{"symbol":"ETH","price":"3500"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CORS_ORIGINS": allowed, "BCRYPT_COST": "10"}
	out := &logbuf.Buffer{}
	f := flags{addr: apiAddr, data: t.TempDir(), template: "../../template.yaml", mongoAddr: "127.0.0.1:0", prices: "file:" + prices, throttleOff: true}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, f, func(k string) string { return env[k] }, out) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("local server did not stop")
		}
	})
	waitHealthy(t, "http://"+apiAddr, out, 2*time.Minute)
	waitFor(t, "the first price refresh", 2*time.Minute, func() bool {
		resp, err := http.Get("http://" + apiAddr + "/api/crypto/BTC")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// The browser: one headless Chromium with a fresh profile, one tab per origin.
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
	)
	t.Cleanup(cancelAlloc) // cleanups run last in first out: screenshots, tabs, browser, process
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // starts Chromium (no timeout on this first call)
		t.Fatalf("start %s: %v", chromium, err)
	}

	shots := os.Getenv("BROWSER_SCREENSHOTS") // a folder that outlives the test; default: its temporary one
	if shots == "" {
		shots = t.TempDir()
	}
	open := func(name, origin string) (context.Context, *consoleLog) {
		tab, cancel := chromedp.NewContext(browser)
		t.Cleanup(cancel)
		console := &consoleLog{}
		if err := chromedp.Listen(tab, console.record); err != nil {
			t.Fatal(err)
		}
		pageURL := origin + "/app.html?api=" + url.QueryEscape(api)
		nav, cancelNav := context.WithTimeout(tab, 30*time.Second)
		defer cancelNav()
		if err := chromedp.Do(nav, chromedp.Navigate(pageURL), chromedp.WaitReady(chromedp.ID("log"))); err != nil {
			screenshot(t, tab, shots, name)
			t.Fatalf("load %s: %v", pageURL, err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				screenshot(t, tab, shots, name)
				t.Logf("%s page console:\n%s", name, console.String())
			}
		})
		return tab, console
	}
	runFlow := func(tab context.Context, expr string) []step {
		t.Helper()
		evalCtx, cancel := context.WithTimeout(tab, 60*time.Second)
		defer cancel()
		raw, err := chromedp.Run(evalCtx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		var steps []step
		if err := json.Unmarshal([]byte(raw), &steps); err != nil {
			t.Fatalf("%s returned %q: %v", expr, raw, err)
		}
		return steps
	}

	// The frontend's session from the allowed origin.
	tab, _ := open("allowed-origin", allowed)
	const email, password = "browser@example.com", "Chromium9Headless"
	steps := runFlow(tab, fmt.Sprintf("frontendFlow(%q, %q)", email, password))
	want := []struct {
		path   string
		status int
	}{
		{"/api/auth/signup", 201}, {"document.cookie", 0}, {"/api/auth/me", 200}, {"/api/orders", 201},
		{"/api/portfolio", 200}, {"/api/auth/logout", 200}, {"/api/auth/me", 401},
	}
	if len(steps) != len(want) {
		t.Fatalf("frontend flow: %d steps, want %d: %+v", len(steps), len(want), steps)
	}
	for i, w := range want {
		s := steps[i]
		if s.Path != w.path || s.Status != w.status || s.Error != "" {
			t.Errorf("step %d %s %s: status %d error %q, want %d", i, s.Method, s.Path, s.Status, s.Error, w.status)
		}
		if w.status != 0 && s.RequestID == "" {
			t.Errorf("step %d %s: X-Request-Id not readable by the page (not exposed)", i, s.Path)
		}
	}
	if c := steps[1].Cookie; c == nil || strings.Contains(*c, "access_token") || strings.Contains(*c, "refresh_token") {
		t.Errorf("document.cookie = %v: the tokens must be HttpOnly", c)
	}
	if u, _ := steps[2].Body["user"].(map[string]any); u == nil || u["email"] != email {
		t.Errorf("/me with the cookie: %v", steps[2].Body)
	}
	if o, _ := steps[3].Body["order"].(map[string]any); o == nil || o["status"] != "filled" || o["symbol"] != "BTC" {
		t.Errorf("market order: %v", steps[3].Body)
	}
	pf, _ := steps[4].Body["portfolio"].(map[string]any)
	if h, _ := pf["holdings"].([]any); len(h) != 1 {
		t.Errorf("portfolio after the order: %v", steps[4].Body)
	}
	if steps[6].Body["code"] != "UNAUTHENTICATED" {
		t.Errorf("/me after logout: %v", steps[6].Body)
	}

	// A page from an origin outside the allowlist: every answer is withheld from it, and the
	// signup (a JSON POST, so preflighted) is never sent.
	other, console := open("disallowed-origin", "http://127.0.0.1:"+otherPort)
	blocked := runFlow(other, fmt.Sprintf("blockedFlow(%q, %q)", "blocked@example.com", password))
	if len(blocked) != 2 {
		t.Fatalf("blocked flow: %+v", blocked)
	}
	for _, s := range blocked {
		if !strings.HasPrefix(s.Error, "TypeError") || s.Status != 0 || s.Body != nil {
			t.Errorf("%s %s from a disallowed origin: status %d body %v error %q, want a TypeError and nothing readable", s.Method, s.Path, s.Status, s.Body, s.Error)
		}
	}
	waitFor(t, "the browser's CORS error in the console", 10*time.Second, func() bool {
		return strings.Contains(console.String(), "CORS policy")
	})
	// The server never created the blocked user: the address is still free.
	resp, err := http.Post("http://"+apiAddr+"/api/auth/signup", "application/json",
		strings.NewReader(fmt.Sprintf(`{"email":"blocked@example.com","password":%q,"name":"Check"}`, password)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("the blocked page's signup reached the server: a later signup of its address is %d", resp.StatusCode)
	}
	t.Logf("allowed origin %s: %d requests as the frontend makes them; disallowed origin: %d requests refused by the browser", allowed, len(want)-1, len(blocked))
}

// consoleLog keeps what the page and the browser logged (CORS refusals are browser log entries).
type consoleLog struct {
	mu    sync.Mutex
	lines []string
}

func (c *consoleLog) record(ev any) {
	var line string
	switch e := ev.(type) {
	case *log.EventEntryAdded:
		line = fmt.Sprintf("[%s %s] %s %s", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			parts = append(parts, string(a.Value))
		}
		line = fmt.Sprintf("[console %s] %s", e.Type, strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		line = fmt.Sprintf("[exception] %s", e.ExceptionDetails.Text)
	default:
		return
	}
	c.mu.Lock()
	c.lines = append(c.lines, line)
	c.mu.Unlock()
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// screenshot saves the tab's page as PNG under dir and logs the path.
func screenshot(t *testing.T, tab context.Context, dir, name string) {
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot of %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Logf("screenshot of %s: %v", name, err)
		return
	}
	t.Logf("screenshot of the %s page: %s", name, path)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
