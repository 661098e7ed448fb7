package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// loadRequest is one kind of request of a load mix, with its share of the requests.
type loadRequest struct {
	name, path string
	weight     int
	auth       bool
}

// readMix is the read-heavy mix of a trading frontend: the market list on every page and its
// periodic refresh, then a coin, the portfolio, the order and transaction lists.
var readMix = []loadRequest{
	{name: "GET /api/crypto", path: "/api/crypto", weight: 6},
	{name: "GET /api/crypto/BTC", path: "/api/crypto/BTC", weight: 1},
	{name: "GET /api/portfolio", path: "/api/portfolio", weight: 1, auth: true},
	{name: "GET /api/orders", path: "/api/orders?limit=20", weight: 1, auth: true},
	{name: "GET /api/transactions", path: "/api/transactions?limit=20", weight: 1, auth: true},
}

// loadResult is a bounded load: a fixed number of workers, each sending one request at a time
// for a fixed duration (loopback, keep-alive), possibly in several slices (see add).
type loadResult struct {
	name     string
	workers  int
	duration time.Duration
	samples  []loadSample
	requests int
	errors   int // non-2xx answers and transport errors
	p50, p99 time.Duration
	perRoute map[string]time.Duration // p50 per route
	peakKB   int64                    // the server process's peak RSS, when it is a child process
}

type loadSample struct {
	route string
	d     time.Duration
	ok    bool
}

func (r loadResult) rps() float64 { return float64(r.requests) / r.duration.Seconds() }

// add merges another slice of the same load into r.
func (r *loadResult) add(o loadResult) {
	r.name, r.workers = o.name, o.workers
	r.duration += o.duration
	r.samples = append(r.samples, o.samples...)
	r.summarize()
}

func (r *loadResult) summarize() {
	r.requests, r.errors, r.perRoute = len(r.samples), 0, map[string]time.Duration{}
	byRoute := map[string][]time.Duration{}
	var ds []time.Duration
	for _, s := range r.samples {
		if !s.ok {
			r.errors++
		}
		ds = append(ds, s.d)
		byRoute[s.route] = append(byRoute[s.route], s.d)
	}
	r.p50, r.p99 = percentile(ds, 0.50), percentile(ds, 0.99)
	for k, v := range byRoute {
		r.perRoute[k] = percentile(v, 0.50)
	}
}

// runLoad sends mix to base with workers concurrent clients for d.
func runLoad(name, base, token string, mix []loadRequest, workers int, d time.Duration) loadResult {
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var plan []loadRequest
	for _, m := range mix {
		for range m.weight {
			plan = append(plan, m)
		}
	}
	var (
		mu  sync.Mutex
		all []loadSample
		wg  sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for w := range workers {
		wg.Go(func() {
			var mine []loadSample
			for i := w; time.Now().Before(deadline); i++ {
				m := plan[i%len(plan)]
				req, _ := http.NewRequest(http.MethodGet, base+m.path, nil)
				if m.auth {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				start := time.Now()
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode/100 == 2
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mine = append(mine, loadSample{m.name, time.Since(start), ok})
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r := loadResult{name: name, workers: workers, duration: d, samples: all}
	r.summarize()
	return r
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// localServer is `make run`'s binary, started on free ports with its own data folder.
type localServer struct {
	base string
	pid  int
}

// startLocal builds cmd/local and runs it with -throttle off on the price file; it is stopped
// (SIGTERM, as Ctrl-C) at cleanup.
func startLocal(t *testing.T, root, pricesFile string) *localServer {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "local")
	build := exec.Command("go", "build", "-o", bin, "./cmd/local")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/local: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := memDir(t)
	cmd := exec.Command(bin, "-addr", addr, "-data", filepath.Join(dir, "data"), "-throttle", "off",
		"-prices", "file:"+pricesFile, "-template", filepath.Join(root, "template.yaml"))
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "BCRYPT_COST=10"}
	// The banner and the log (one line per request) go to stderr; the scanner below drains it.
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "CryptoVault local API on "); ok {
				ready <- url
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case url := <-ready:
		return &localServer{base: url, pid: cmd.Process.Pid}
	case <-done:
		t.Fatal("cmd/local exited before it served")
	case <-time.After(60 * time.Second):
		t.Fatal("cmd/local did not start within 60 s")
	}
	return nil
}

// memDir is a temporary directory in memory (/dev/shm) where there is one, else on disk: the
// engine's files then do not wait for a disk that other work on a shared machine keeps busy.
func memDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "cryptovault-bench-"); err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// signupHTTP creates a user on the local server and returns its access token.
func signupHTTP(t *testing.T, base, email string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": "Sup3rSecret9-bench", "name": "Load User"})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/auth/signup", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Token-Delivery", "body")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Access string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("signup on the local server: %d %v", resp.StatusCode, err)
	}
	return out.Access
}

// bareServerEnv, when set in the environment of this test binary, makes it a bare HTTP server
// instead of running tests (see TestMain): it serves the file the variable names, as JSON, at
// every path, and prints its address.
const bareServerEnv = "CRYPTOVAULT_BENCH_BARE_SERVER"

// TestMain lets the test binary double as the throughput baseline: a bare net/http server in a
// process of its own, as the local server is.
func TestMain(m *testing.M) {
	if file := os.Getenv(bareServerEnv); file != "" {
		serveBare(file)
		return
	}
	os.Exit(m.Run())
}

// serveBare is the baseline server's main.
func serveBare(file string) {
	body, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=5")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 10 * time.Second}
	_ = srv.Serve(ln)
}

// bareServer starts the baseline server (this test binary, see TestMain) answering body, and
// stops it at cleanup.
func bareServer(t *testing.T, body []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), bareServerEnv+"="+file)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if err != nil || !ok {
		t.Fatalf("baseline server: %q %v", line, err)
	}
	return url
}

// measureThroughput runs the read-heavy mix and the market list alone against the local server,
// and the market list against a bare server answering the same bytes, each with workers clients
// for d in all after a warm-up.
func measureThroughput(t *testing.T, root, pricesFile string, workers int, d time.Duration) []loadResult {
	t.Helper()
	local := startLocal(t, root, pricesFile)
	token := signupHTTP(t, local.base, "load@example.com")
	// A few orders, so the lists are not empty.
	for i := range 3 {
		req, _ := http.NewRequest(http.MethodPost, local.base+"/api/orders",
			strings.NewReader(`{"trading_pair":"BTC/USDT","order_type":"market","side":"buy","amount":0.001}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("load-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("order on the local server: %d", resp.StatusCode)
		}
	}
	resp, err := http.Get(local.base + "/api/crypto")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	bare := bareServer(t, body)
	market := []loadRequest{readMix[0]}
	warm := min(2*time.Second, d/4)
	runLoad("warm-up", local.base, token, readMix, workers, warm)
	runLoad("warm-up", bare, "", market, workers, warm)
	// The three loads in interleaved slices, so that a change in what else the machine runs
	// falls on all three alike.
	const rounds = 4
	var mix, list, base loadResult
	for range rounds {
		base.add(runLoad("bare net/http server, same bytes", bare, "", market, workers, d/rounds))
		list.add(runLoad("local server, GET /api/crypto only", local.base, token, market, workers, d/rounds))
		mix.add(runLoad("local server, read-heavy mix", local.base, token, readMix, workers, d/rounds))
	}
	if st, err := procStatus(local.pid); err == nil {
		mix.peakKB, list.peakKB = st["VmHWM"], st["VmHWM"]
	}
	return []loadResult{mix, list, base}
}
