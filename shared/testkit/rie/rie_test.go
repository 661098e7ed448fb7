package rie

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const helloPkg = "./shared/testkit/rie/testdata/hello"

func invoke(t *testing.T, p *Process, event string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := p.Invoke(ctx, []byte(event))
	if err != nil {
		t.Fatalf("Invoke(%s): %v", event, err)
	}
	return res
}

// TestHello builds the hello function once and runs the harness checks
// against it as subtests. Each subtest gets an emulator of its own.
func TestHello(t *testing.T) {
	hello := BuildFunction(t, helloPkg)

	t.Run("SequentialInvokesEcho", func(t *testing.T) {
		p := Start(t, hello, map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "hello-under-test"})
		for i, ev := range []string{`{"n":0}`, `{"n":1,"s":"two"}`, `"three"`} {
			res := invoke(t, p, ev)
			if res.StatusCode != 200 || res.IsError() {
				t.Fatalf("invoke %d: status %d, error %q/%q, payload %s", i, res.StatusCode, res.ErrorType, res.ErrorMessage, res.Payload)
			}
			var out struct {
				Echo     json.RawMessage `json:"echo"`
				Function string          `json:"function"`
			}
			if err := json.Unmarshal(res.Payload, &out); err != nil {
				t.Fatalf("invoke %d: payload %s: %v", i, res.Payload, err)
			}
			if !bytes.Equal(out.Echo, []byte(ev)) {
				t.Errorf("invoke %d: echo = %s, want %s", i, out.Echo, ev)
			}
			// Checks that env reaches the function and overrides the defaults.
			if out.Function != "hello-under-test" {
				t.Errorf("invoke %d: function = %q, want hello-under-test", i, out.Function)
			}
			if !strings.Contains(p.Logs(), "REPORT RequestId: "+res.RequestID) {
				t.Errorf("invoke %d: no REPORT line for request %s", i, res.RequestID)
			}
		}

		logs := p.Logs()
		if n := strings.Count(logs, "hello: invoke event="); n != 3 {
			t.Errorf("function log lines = %d, want 3; logs:\n%s", n, logs)
		}
		if n := strings.Count(logs, "REPORT RequestId: "); n != 3 {
			t.Errorf("REPORT lines = %d, want 3", n)
		}
		inits := p.InitDurations()
		if len(inits) != 1 {
			t.Fatalf("InitDurations = %v, want exactly one (a single cold start); logs:\n%s", inits, logs)
		}
		if inits[0] <= 0 || inits[0] > 10*time.Second {
			t.Errorf("init duration %v out of range", inits[0])
		}
		t.Logf("hello init duration: %v", inits[0])
	})

	t.Run("FunctionError", func(t *testing.T) {
		p := Start(t, hello, nil)
		res := invoke(t, p, `{"fail":true}`)
		if res.StatusCode != 200 || !res.IsError() {
			t.Fatalf("status %d, IsError %v, payload %s", res.StatusCode, res.IsError(), res.Payload)
		}
		if res.ErrorType != "errorString" || res.ErrorMessage != "hello: failure requested by event" {
			t.Errorf("error = %q/%q, want errorString/hello: failure requested by event", res.ErrorType, res.ErrorMessage)
		}
		// A handled error keeps the same runtime: no second init.
		if res := invoke(t, p, `{}`); res.IsError() {
			t.Errorf("invoke after handled error: %d %s", res.StatusCode, res.Payload)
		}
		if n := len(p.InitDurations()); n != 1 {
			t.Errorf("InitDurations has %d entries, want 1", n)
		}
		if !strings.Contains(p.Logs(), "hello: failure requested by event") {
			t.Errorf("the function's error is not in the logs")
		}
	})

	t.Run("CrashThenReinit", func(t *testing.T) {
		p := Start(t, hello, nil)
		res := invoke(t, p, `{"exit":3}`)
		if res.StatusCode != 502 || res.ErrorType != "Runtime.ExitError" || !strings.Contains(res.ErrorMessage, "exit status 3") {
			t.Fatalf("crash: status %d, error %q/%q", res.StatusCode, res.ErrorType, res.ErrorMessage)
		}
		if res := invoke(t, p, `{"after":"crash"}`); res.IsError() {
			t.Fatalf("invoke after crash: %d %s", res.StatusCode, res.Payload)
		}
		// The crash makes the emulator start the function again: a second init.
		if n := len(p.InitDurations()); n != 2 {
			t.Errorf("InitDurations has %d entries, want 2; logs:\n%s", n, p.Logs())
		}
	})

	t.Run("InitFailure", func(t *testing.T) {
		p := Start(t, hello, map[string]string{"HELLO_INIT_EXIT": "1"})
		res := invoke(t, p, `{}`)
		if res.StatusCode != 502 || len(res.Payload) != 0 || !res.IsError() {
			t.Errorf("init failure: status %d, payload %q", res.StatusCode, res.Payload)
		}
		if !strings.Contains(p.Logs(), "hello: init failure requested") {
			t.Errorf("the function's init output is not in the logs:\n%s", p.Logs())
		}
		// Failed inits, and the placeholder init after them, are not counted.
		if ds := p.InitDurations(); len(ds) != 0 {
			t.Errorf("InitDurations = %v, want none", ds)
		}
	})

	t.Run("CleanupStopsProcesses", func(t *testing.T) {
		var p *Process
		var pids []int
		t.Run("run", func(t *testing.T) {
			p = Start(t, hello, nil)
			invoke(t, p, `{}`) // the function runs only once it is invoked
			emu := p.cmd.Process.Pid
			children := childPIDs(emu)
			if len(children) != 1 {
				t.Fatalf("emulator children = %v, want the one function process", children)
			}
			pids = append(children, emu)
		})
		// The subtest's Cleanup has run now.
		for _, pid := range pids {
			if processAlive(pid) {
				t.Errorf("process %d still running after Cleanup", pid)
			}
		}
		if p != nil && !strings.Contains(p.Logs(), "Received signal signal=terminated") {
			t.Errorf("the emulator did not log a SIGTERM shutdown; logs:\n%s", p.Logs())
		}
	})

	t.Run("ForcedStopKillsFunction", func(t *testing.T) {
		p := Start(t, hello, nil)
		invoke(t, p, `{}`)
		emu := p.cmd.Process.Pid
		children := childPIDs(emu)
		if len(children) != 1 {
			t.Fatalf("emulator children = %v, want one", children)
		}
		// A stopped emulator cannot act on SIGTERM, so stop has to fall back
		// to SIGKILL and kill the function itself.
		if err := syscall.Kill(emu, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		err := p.stop(200 * time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "was killed") {
			t.Errorf("stop() = %v, want a report that the emulator was killed", err)
		}
		for _, pid := range append(children, emu) {
			if processAlive(pid) {
				t.Errorf("process %d still running after forced stop", pid)
			}
		}
	})
}

// TestEmulatorInstall checks the shared cache, and that two installs racing
// into an empty cache directory both succeed and leave one binary and no
// temporary files.
func TestEmulatorInstall(t *testing.T) {
	bin := Emulator(t)
	if again := Emulator(t); again != bin {
		t.Errorf("Emulator() = %s, then %s", bin, again)
	}
	if !strings.Contains(filepath.ToSlash(bin), "/cryptovault/rie/"+EmulatorVersion+"/") {
		t.Errorf("emulator %s is not in the versioned cache directory", bin)
	}

	dir := t.TempDir()
	var wg sync.WaitGroup
	paths := make([]string, 2)
	errs := make([]error, 2)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths[i], errs[i] = installEmulator(dir)
		}()
	}
	wg.Wait()
	for i := range paths {
		if errs[i] != nil {
			t.Fatalf("install %d: %v", i, errs[i])
		}
		if paths[i] != filepath.Join(dir, "aws-lambda-rie") {
			t.Errorf("install %d: path %s", i, paths[i])
		}
	}
	fi, err := os.Stat(paths[0])
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("installed binary: %v, mode %v", err, fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("install dir holds %v, want only aws-lambda-rie", names)
	}
}
