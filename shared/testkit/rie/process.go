package rie

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/testkit/logbuf"
)

// Defaults that Start applies unless env overrides them.
const (
	DefaultRegion       = "us-east-1" // the emulator hard-codes us-east-1 in the function ARN
	DefaultFunctionName = "cryptovault-test"
	// DefaultTimeout is in whole seconds, the only form the emulator
	// accepts. It is longer than Lambda's default of 3 s because the first
	// invoke's timeout also covers the lazy init, and CI has two cores.
	DefaultTimeout = 30
)

const (
	readyTimeout = 10 * time.Second // for the emulator to accept connections
	stopGrace    = 5 * time.Second  // after SIGTERM; the emulator itself allows 2 s for a reset
	// reportWait bounds how long Invoke waits for the REPORT line to reach
	// Logs. The emulator writes it just before the response, but it passes
	// through a pipe that another goroutine copies.
	reportWait = 2 * time.Second
)

// Result is the outcome of one invoke.
type Result struct {
	// RequestID is the request ID that Invoke sent; the emulator uses it in
	// its START, END and REPORT log lines.
	RequestID string
	// StatusCode is the emulator's HTTP status. It is 200 for a success, a
	// handled function error or a timeout. It is 502 when the runtime crashed
	// during the invoke: the body then says why (Runtime.ExitError, or the
	// panic that aws-lambda-go reported). It is also 502, with an empty body,
	// when the function failed its init; only Logs shows why.
	StatusCode int
	// Payload is the raw response body.
	Payload []byte
	// ErrorType and ErrorMessage are filled in when Payload has Lambda's
	// error shape {"errorType": ..., "errorMessage": ...}. The emulator does
	// not send Lambda's X-Amz-Function-Error header, so this is read from
	// the body, and a handler that returns such an object on success looks
	// the same.
	ErrorType    string
	ErrorMessage string
	// TimedOut is set when the function ran past AWS_LAMBDA_FUNCTION_TIMEOUT.
	// The emulator then answers 200 with the plain text "Task timed out after
	// N.00 seconds", which is also put in ErrorMessage.
	TimedOut bool
	// Duration is the wall time of the HTTP round trip. For the first
	// invoke, and for the first after a crash, it includes the init.
	Duration time.Duration
}

// IsError reports whether the invoke failed in any way the emulator shows.
func (r Result) IsError() bool {
	return r.StatusCode/100 != 2 || r.ErrorType != "" || r.ErrorMessage != "" || r.TimedOut
}

// Process is a running emulator with one function in it.
type Process struct {
	cmd     *exec.Cmd
	url     string
	client  *http.Client
	logs    *logBuffer
	done    chan struct{} // closed when the emulator has exited
	waitErr error         // cmd.Wait's result; read only after done is closed

	mu       sync.Mutex // serializes Invoke, because concurrent invokes crash the emulator
	poisoned error      // set (under mu) once an invoke is abandoned mid-flight

	stopOnce sync.Once
}

// Start runs the emulator around the bootstrap binary on a free loopback
// port and returns once it accepts connections. The function does not start
// until the first Invoke (see the package comment). t.Cleanup stops the
// emulator: SIGTERM first, SIGKILL after a bound.
//
// The emulator and the function get a minimal environment instead of the
// test's own. That way a developer's AWS profile, credentials or proxy
// settings cannot leak in and make the tests depend on the machine. The
// environment holds Lambda's PATH, LANG and TZ, then these defaults, then
// env (which overrides them):
//
//   - AWS_REGION and AWS_DEFAULT_REGION: DefaultRegion
//   - AWS_LAMBDA_FUNCTION_NAME: DefaultFunctionName
//   - AWS_LAMBDA_FUNCTION_TIMEOUT: DefaultTimeout
//   - AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN: fake
//     values. Lambda always sets these, and the functions read their
//     credentials from nothing else (shared/platform/awsconfig).
//   - AWS_EC2_METADATA_DISABLED=true: Lambda has no instance metadata
//     service; kept so that a binary that still linked the SDK's credential
//     chain could not reach for it from this machine.
func Start(t testing.TB, bootstrap string, env map[string]string) *Process {
	t.Helper()
	bootstrap, err := filepath.Abs(bootstrap)
	if err != nil {
		t.Fatalf("rie: %v", err)
	}
	if fi, err := os.Stat(bootstrap); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("rie: bootstrap %s is not a file (%v)", bootstrap, err)
	}
	environ, err := buildEnv(env)
	if err != nil {
		t.Fatalf("rie: %v", err)
	}
	emu := Emulator(t)

	// The free ports are picked and then released before the emulator binds
	// them, so another process can take one in between. The emulator then
	// exits at once, and Start tries again with new ports.
	var lastErr error
	for range 3 {
		p, err := start(emu, bootstrap, environ)
		if err != nil {
			lastErr = err
			continue
		}
		t.Cleanup(func() {
			if err := p.stop(stopGrace); err != nil {
				t.Errorf("rie: %v", err)
			}
			if t.Failed() {
				t.Logf("rie: emulator and function logs:\n%s", p.Logs())
			}
		})
		return p
	}
	t.Fatalf("rie: starting emulator: %v", lastErr)
	return nil
}

func buildEnv(env map[string]string) ([]string, error) {
	m := map[string]string{
		// Lambda's values for the provided.al2023 runtime.
		"PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG": "en_US.UTF-8",
		"TZ":   ":UTC",

		"AWS_REGION":                  DefaultRegion,
		"AWS_DEFAULT_REGION":          DefaultRegion,
		"AWS_LAMBDA_FUNCTION_NAME":    DefaultFunctionName,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(DefaultTimeout),
		"AWS_ACCESS_KEY_ID":           "AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY":       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN":           "rie-test-session-token",
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for k, v := range env {
		m[k] = v
	}
	// Check this here: a bad value would only make the emulator panic on the
	// first invoke.
	if _, err := strconv.ParseInt(m["AWS_LAMBDA_FUNCTION_TIMEOUT"], 10, 64); err != nil {
		return nil, fmt.Errorf("AWS_LAMBDA_FUNCTION_TIMEOUT must be whole seconds, got %q", m["AWS_LAMBDA_FUNCTION_TIMEOUT"])
	}
	if _, ok := m["AWS_LAMBDA_MAX_CONCURRENCY"]; ok {
		return nil, errors.New("AWS_LAMBDA_MAX_CONCURRENCY switches the emulator to its managed-instances mode, which this harness does not support")
	}
	environ := make([]string, 0, len(m))
	for k, v := range m {
		environ = append(environ, k+"="+v)
	}
	return environ, nil
}

func start(emu, bootstrap string, environ []string) (*Process, error) {
	invokeAddr, apiAddr, err := freeAddrs()
	if err != nil {
		return nil, err
	}
	// --runtime-api-address matters. The Runtime API (the one the function
	// polls) defaults to 127.0.0.1:9001, so two emulators, for example from
	// test binaries of two packages, would collide. Port 0 does not work:
	// the emulator passes the address to the function before it binds it.
	// --log-level info keeps the INIT REPORT lines even when env sets
	// LOG_LEVEL for the function, since the emulator reads LOG_LEVEL too.
	cmd := exec.Command(emu,
		"--log-level", "info",
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", apiAddr,
		bootstrap)
	// The emulator gives the function its own working directory, so this
	// makes the bootstrap's directory its cwd, as /var/task is on Lambda.
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = environ
	logs := &logBuffer{}
	// One writer for both streams: exec then uses a single pipe, so the
	// emulator's lines and the function's keep their order.
	cmd.Stdout, cmd.Stderr = logs, logs
	// If the function outlives a killed emulator, it still holds the pipe
	// open. Without this bound, Wait would block on it.
	cmd.WaitDelay = time.Second
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{
		cmd:    cmd,
		url:    "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		client: &http.Client{Transport: &http.Transport{Proxy: nil}},
		logs:   logs,
		done:   make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(invokeAddr, apiAddr); err != nil {
		_ = p.stop(stopGrace)
		return nil, fmt.Errorf("%v; logs:\n%s", err, logs)
	}
	return p, nil
}

// freeAddrs returns two distinct free loopback addresses. Both listeners
// stay open until both ports are known, so the two cannot be the same.
func freeAddrs() (string, string, error) {
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	defer a.Close()
	b, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	defer b.Close()
	return a.Addr().String(), b.Addr().String(), nil
}

// waitReady polls until the invoke API and the Runtime API both accept
// connections. The emulator binds the Runtime API in a goroutine, and a
// failure there (a port taken) makes it exit, so both are checked.
func (p *Process) waitReady(addrs ...string) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("emulator exited during startup: %v", p.waitErr)
		default:
		}
		ready := true
		for _, a := range addrs {
			c, err := net.DialTimeout("tcp", a, 100*time.Millisecond)
			if err != nil {
				ready = false
				break
			}
			c.Close()
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("emulator not accepting connections on %v after %v", addrs, readyTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Invoke sends event to the function and returns its response. Invokes are
// serialized. Function errors, crashes and timeouts come back as a Result
// (see Result.IsError). The error is for transport failures only. After a
// transport failure, including ctx being cancelled mid-invoke, the Process
// refuses further invokes. The emulator may still be running the abandoned
// invoke, and a second one would run concurrently and crash it.
func (p *Process) Invoke(ctx context.Context, event []byte) (Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.poisoned != nil {
		return Result{}, p.poisoned
	}
	select {
	case <-p.done:
		return Result{}, fmt.Errorf("rie: emulator has exited (%v)", p.waitErr)
	default:
	}

	id := newRequestID()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(event))
	if err != nil {
		return Result{}, err
	}
	// A known request ID lets Invoke find this invoke's REPORT line.
	req.Header.Set("X-Amzn-RequestId", id)
	req.Header.Set("Content-Type", "application/json")

	began := time.Now()
	resp, err := p.client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		p.poisoned = fmt.Errorf("rie: an earlier invoke was abandoned (%v); start a new Process", err)
		return Result{}, fmt.Errorf("rie: invoke: %w", err)
	}
	res := Result{RequestID: id, StatusCode: resp.StatusCode, Payload: body, Duration: time.Since(began)}
	res.parseError()

	// The emulator logs its last line about an invoke before it responds,
	// and the function's own lines come before that line. Waiting for it
	// makes Logs and InitDurations complete for every invoke that has
	// returned. That line is REPORT on the 200 paths, and "Invoke failed
	// ... InvokeID=<id>" on the 502 paths, which write no REPORT.
	marker := "REPORT RequestId: " + id
	if res.StatusCode != http.StatusOK {
		marker = "InvokeID=" + id
	}
	p.logs.waitFor(marker, reportWait)
	return res, nil
}

func (r *Result) parseError() {
	if msg, ok := strings.CutPrefix(string(r.Payload), "Task timed out after"); ok {
		r.TimedOut = true
		r.ErrorMessage = "Task timed out after" + msg
		return
	}
	var shape struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(r.Payload, &shape) == nil {
		r.ErrorType, r.ErrorMessage = shape.ErrorType, shape.ErrorMessage
	}
}

// newRequestID returns a random UUID, the form Lambda's request IDs take.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Logs returns everything that the emulator and the function have written
// to stdout and stderr so far, interleaved in the order written.
func (p *Process) Logs() string { return p.logs.String() }

var (
	initStartRE  = regexp.MustCompile(`INIT START\(`)
	initDoneRE   = regexp.MustCompile(`INIT RTDONE\(status: (\w+)\)`)
	initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
)

// InitDurations returns the duration of each successful init of the
// function so far: one for the cold start, and one more after each crash or
// timeout. They are parsed from the emulator's "INIT REPORT(durationMs: X)"
// lines. Each is measured from INIT START until the runtime first asks for
// work, that is, exec, Go runtime start, package init and lambda.Start,
// which is the init Lambda reports.
//
// An init counts only when its "INIT RTDONE(status: success)" line came
// before its REPORT. When init fails, the emulator also logs a placeholder
// init of about 0.03 ms, without starting the process again, on the next
// invoke. Neither belongs in a comparison of cold starts. The REPORT line's
// "Init Duration" is not used: in this emulator it is not the function's
// init (see the package comment).
func (p *Process) InitDurations() []time.Duration {
	var ds []time.Duration
	status := ""
	// Line by line, because the function's own output may come between the
	// emulator's lines.
	for _, line := range strings.Split(p.Logs(), "\n") {
		switch {
		case initStartRE.MatchString(line):
			status = ""
		case initDoneRE.MatchString(line):
			status = initDoneRE.FindStringSubmatch(line)[1]
		case initReportRE.MatchString(line):
			ms, err := strconv.ParseFloat(initReportRE.FindStringSubmatch(line)[1], 64)
			if err == nil && status == "success" {
				ds = append(ds, time.Duration(ms*float64(time.Millisecond)))
			}
			status = ""
		}
	}
	return ds
}

// stop ends the emulator. It sends SIGTERM, which makes the emulator SIGKILL
// the function and exit, and waits up to grace. If the emulator is still
// running after that, stop SIGKILLs the function's process group and then
// the emulator. The function is in a process group of its own, so killing
// the emulator alone would leave it running. Only the first call does any
// work or returns an error.
func (p *Process) stop(grace time.Duration) error {
	var err error
	p.stopOnce.Do(func() { err = p.terminate(grace) })
	return err
}

func (p *Process) terminate(grace time.Duration) error {
	defer p.client.CloseIdleConnections()
	select {
	case <-p.done:
		return fmt.Errorf("emulator exited before cleanup (%v)", p.waitErr)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.waitErr != nil {
			return fmt.Errorf("emulator exit after SIGTERM: %v", p.waitErr)
		}
		return nil
	case <-time.After(grace):
	}
	// The children are listed while the emulator is still their parent, so
	// only its own children are killed.
	for _, pid := range childPIDs(p.cmd.Process.Pid) {
		killGroup(pid)
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return fmt.Errorf("emulator did not exit within %v of SIGTERM and was killed", grace)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("emulator (pid %d) did not exit after SIGKILL", p.cmd.Process.Pid)
	}
}

// logBuffer collects the emulator's output while it runs.
type logBuffer struct{ logbuf.Buffer }

// waitFor polls until the logs contain s or timeout passes.
func (b *logBuffer) waitFor(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(b.String(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}
