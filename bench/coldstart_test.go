package bench

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/testkit/rie"
)

// helloName and helloPkg are the baseline: the smallest Go Lambda (aws-lambda-go and the
// standard library only), built with the same flags as every bootstrap.
const (
	helloName = "hello"
	helloPkg  = "./shared/testkit/rie/testdata/hello"
)

// Cold-start targets (issue 8).
const (
	maxAddedInit  = 25 * time.Millisecond
	maxBinarySize = 12 << 20
	maxZipSize    = 5 << 20
)

// firstEvents is the event of each function's first invoke: the request a cold instance most
// often serves first ({{ACCESS_TOKEN}} is a live user's token).
var firstEvents = map[string]string{
	"health":       "health-get-health.json",
	"auth":         "auth-me.json",
	"audit":        "audit-list.json",
	"prices":       "prices-scheduled.json",
	"market":       "market-list.json",
	"transactions": "transactions-list.json",
	"orders":       "orders-list.json",
	"portfolio":    "portfolio-get.json",
	"stream":       "stream-connect.json",
}

// fnUnderTest is one bootstrap (host architecture) and the event it is invoked with.
type fnUnderTest struct {
	name, bin string
	event     []byte
}

// buildBootstraps builds every catalog function and the hello baseline for the host, with the
// release flags (rie.BuildFunction), and loads each one's first event. The hello function comes
// first.
func buildBootstraps(t testing.TB, root, token string) []fnUnderTest {
	t.Helper()
	fns := []fnUnderTest{{name: helloName, bin: rie.BuildFunction(t, helloPkg), event: []byte(`{"hello":"cold start"}`)}}
	for _, e := range catalog.All {
		file, ok := firstEvents[e.Name]
		if !ok {
			t.Fatalf("no first event for function %s: add one to firstEvents", e.Name)
		}
		ev, err := os.ReadFile(filepath.Join(root, "events", file))
		if err != nil {
			t.Fatal(err)
		}
		ev = bytes.ReplaceAll(ev, []byte("{{ACCESS_TOKEN}}"), []byte(token))
		fns = append(fns, fnUnderTest{name: e.Name, bin: rie.BuildFunction(t, e.Package()), event: ev})
	}
	return fns
}

// coldSample is one cold start.
type coldSample struct {
	// init is the emulator's INIT REPORT: exec, Go runtime and package init, the function's init
	// (configuration, secrets, Mongo connection), until the runtime first asks for work.
	init time.Duration
	// first is the first invoke's round trip: process start (the emulator starts the process
	// on the first invoke), init and the first request.
	first time.Duration
	// cpu is the CPU time the function's process had used when the first response came back:
	// unlike the wall times, other processes on the machine do not stretch it.
	cpu time.Duration
}

// coldResult is every cold start of one function.
type coldResult struct {
	name    string
	samples []coldSample
}

func (c coldResult) medianInit() time.Duration {
	return median(c.samples, func(s coldSample) time.Duration { return s.init })
}

func (c coldResult) medianFirst() time.Duration {
	return median(c.samples, func(s coldSample) time.Duration { return s.first })
}

func (c coldResult) medianCPU() time.Duration {
	return median(c.samples, func(s coldSample) time.Duration { return s.cpu })
}

func median[S any](xs []S, f func(S) time.Duration) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = f(x)
	}
	slices.Sort(ds)
	if n := len(ds); n%2 == 0 {
		return (ds[n/2-1] + ds[n/2]) / 2
	}
	return ds[len(ds)/2]
}

// measureColdStarts runs rounds of cold starts, interleaved: each round starts every function
// once under a fresh emulator, in an order rotated by one per round, so that drift in the
// machine's load spreads over all functions alike. A first round warms the page cache and is
// not counted.
func measureColdStarts(t *testing.T, e *env, fns []fnUnderTest, rounds int) []coldResult {
	t.Helper()
	results := make([]coldResult, len(fns))
	for i, f := range fns {
		results[i].name = f.name
	}
	for round := 0; round <= rounds; round++ {
		for k := range fns {
			i := (k + round) % len(fns)
			f := fns[i]
			t.Run(fmt.Sprintf("cold/%d/%s", round, f.name), func(t *testing.T) {
				p := rie.Start(t, f.bin, e.lambdaEnv(t.TempDir()))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				res, err := p.Invoke(ctx, f.event)
				if err != nil {
					t.Fatal(err)
				}
				checkInvoke(t, f.name, res, p)
				cpu, err := processCPU(f.bin)
				if err != nil {
					t.Fatal(err)
				}
				inits := p.InitDurations()
				if len(inits) != 1 {
					t.Fatalf("%d inits, want 1:\n%s", len(inits), p.Logs())
				}
				if round > 0 {
					results[i].samples = append(results[i].samples, coldSample{init: inits[0], first: res.Duration, cpu: cpu})
				}
			})
		}
	}
	return results
}

// checkInvoke fails the test unless the invoke succeeded with a 2xx response (or a scheduled
// run's {"status":"ok"}).
func checkInvoke(t testing.TB, name string, res rie.Result, p *rie.Process) {
	t.Helper()
	if res.IsError() {
		t.Fatalf("%s: invoke failed: %d %s %s\n%s", name, res.StatusCode, res.ErrorType, res.ErrorMessage, p.Logs())
	}
	var out struct {
		StatusCode int `json:"statusCode"`
	}
	if json.Unmarshal(res.Payload, &out) == nil && out.StatusCode >= 300 {
		t.Fatalf("%s: HTTP %d: %s", name, out.StatusCode, res.Payload)
	}
}

// memResult is the memory of one warm instance after invokes sequential invokes (a Lambda
// instance serves one request at a time, so this is the load one instance sees).
type memResult struct {
	name     string
	invokes  int
	peakKB   int64 // VmHWM: the peak resident set, what Lambda's "Max Memory Used" reports
	rssKB    int64 // VmRSS after the last invoke
	memoryMB int   // the template's MemorySize for the function (0 for the baseline)
}

// measureMemory invokes each function invokes times under one emulator and reads the function
// process's peak and current resident set from /proc.
func measureMemory(t *testing.T, e *env, fns []fnUnderTest, invokes int) []memResult {
	t.Helper()
	var out []memResult
	for _, f := range fns {
		t.Run("memory/"+f.name, func(t *testing.T) {
			p := rie.Start(t, f.bin, e.lambdaEnv(t.TempDir()))
			for range invokes {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := p.Invoke(ctx, f.event)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				checkInvoke(t, f.name, res, p)
			}
			pid, err := pidOf(f.bin)
			if err != nil {
				t.Fatal(err)
			}
			st, err := procStatus(pid)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, memResult{name: f.name, invokes: invokes, peakKB: st["VmHWM"], rssKB: st["VmRSS"]})
		})
	}
	return out
}

// pidOf finds the running process whose executable is bin.
func pidOf(bin string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", d.Name(), "exe")); err == nil && exe == bin {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no process runs %s", bin)
}

// processCPU is the CPU time used so far by the threads of the process running bin, summed from
// the scheduler's nanosecond counters (/proc/<pid>/task/<tid>/schedstat).
func processCPU(bin string) (time.Duration, error) {
	pid, err := pidOf(bin)
	if err != nil {
		return 0, err
	}
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "schedstat"))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no schedstat for pid %d (%v)", pid, err)
	}
	var total time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", f, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// loadAverage is the machine's 1-minute load average (/proc/loadavg), for the report's record
// of how busy the machine was.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// procStatus reads the kB figures of /proc/<pid>/status.
func procStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if n, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, sc.Err()
}

// sizeResult is one arm64 bootstrap and its deployment zip.
type sizeResult struct {
	name      string
	binary    int64
	zip       int64
	fromBuild bool // read from build/<name>/bootstrap (make build), else built here
}

// measureSizes reads every function's arm64 bootstrap from build/ (make build), building any
// that is missing with the same flags, and the hello baseline, and zips each as Lambda's
// deployment package (archive/zip, default compression).
func measureSizes(t testing.TB, root string) []sizeResult {
	t.Helper()
	out := []sizeResult{armSize(t, root, helloName, helloPkg)}
	for _, e := range catalog.All {
		out = append(out, armSize(t, root, e.Name, e.Package()))
	}
	return out
}

func armSize(t testing.TB, root, name, pkg string) sizeResult {
	t.Helper()
	r := sizeResult{name: name}
	bin := filepath.Join(root, "build", name, "bootstrap")
	if _, err := os.Stat(bin); err == nil && name != helloName {
		r.fromBuild = true
	} else {
		bin = filepath.Join(t.TempDir(), "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s for arm64: %v\n%s", pkg, err, out)
		}
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	r.binary = fi.Size()
	r.zip, err = zipSize(bin)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// zipSize is the size of a deployment zip holding bin as an executable "bootstrap".
func zipSize(bin string) (int64, error) {
	f, err := os.Open(bin)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h, err := zip.FileInfoHeader(fi)
	if err != nil {
		return 0, err
	}
	h.Name, h.Method = "bootstrap", zip.Deflate
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}
