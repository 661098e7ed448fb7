// Package rie runs CryptoVault's Lambda functions under the AWS Lambda
// Runtime Interface Emulator (RIE) for the "Lambda fidelity" tests. It is a
// test-only helper: Lambda code must never import it.
//
// A test builds a function the way the deploy does (BuildFunction), starts
// the emulator around it (Start), and invokes it over the emulator's HTTP API
// (Process.Invoke):
//
//	bin := rie.BuildFunction(t, "./functions/health")
//	p := rie.Start(t, bin, map[string]string{"TABLE": "x"})
//	res, err := p.Invoke(ctx, []byte(`{}`))
//
// What the emulator does, read from its source at EmulatorVersion
// (internal/lambda/rie and internal/lambda/rapid) and checked on this
// machine:
//
//   - Init is lazy. The emulator does not start the bootstrap until the first
//     invoke, so the first Invoke's wall time covers process start, Go
//     runtime and package init, and the first handler call.
//   - The "Init Duration" in the first REPORT line is not the function's
//     init. It times only the call that queues the init (about 0.1 ms). The
//     real figure is the emulator's log line "INIT REPORT(durationMs: X)",
//     measured from INIT START until the runtime first asks for work. That
//     matches Lambda's Init Duration, and InitDurations parses it.
//   - A handled error comes back as HTTP 200 with {"errorType",
//     "errorMessage"}, without Lambda's X-Amz-Function-Error header. A crash
//     during an invoke comes back as 502 with the reason in the body. A
//     failed init comes back as 502 with an empty body. A timeout comes back
//     as 200 with the plain text "Task timed out after N.00 seconds".
//   - After a crash (the process exits, or aws-lambda-go exits after a
//     panic) or a timeout, the next invoke starts the function again and
//     logs a new INIT REPORT.
//   - One invoke at a time. Two concurrent invokes crash the emulator, which
//     keeps its init state in an unlocked global, so Invoke holds a mutex.
//   - On SIGTERM the emulator resets the sandbox and exits 0. The function is
//     sent SIGKILL, not SIGTERM, because no extension is registered. That is
//     also what Lambda does for a function without extensions, so these
//     tests cannot exercise a function's SIGTERM handler.
//   - The emulator passes its whole environment on to the function, and
//     reads AWS_LAMBDA_FUNCTION_TIMEOUT (whole seconds; anything else makes
//     it panic on the first invoke), AWS_LAMBDA_FUNCTION_NAME,
//     AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default
//     3008), the AWS_* credentials, LOG_LEVEL, and AWS_LAMBDA_MAX_CONCURRENCY,
//     which switches it to a different (managed-instances) mode.
//   - It looks for extensions in the host's /opt/extensions and starts any it
//     finds.
package rie

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// EmulatorVersion is the emulator module version that the harness installs.
// It is pinned here instead of read from go.mod because no package imports
// the emulator, so `go mod tidy` may drop it from go.mod.
const EmulatorVersion = "v0.0.0-20261030222936-bef5c4ba774d"

const emulatorPkg = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// emulatorMu stops parallel tests in one test binary from installing the
// emulator twice. Separate test binaries are kept safe by the rename in
// installEmulator.
var emulatorMu sync.Mutex

// Emulator returns the path of the aws-lambda-rie binary, installing it on
// first use with `go install pkg@EmulatorVersion`. That needs only the Go
// toolchain and the module proxy, and leaves go.mod alone. The binary is
// cached under os.UserCacheDir()/cryptovault/rie/<version>/ so that later
// test runs skip the build (about 15 s).
func Emulator(t testing.TB) string {
	t.Helper()
	emulatorMu.Lock()
	defer emulatorMu.Unlock()
	base, err := os.UserCacheDir()
	if err != nil {
		// No HOME or XDG_CACHE_HOME: a cache shared by this machine's runs is
		// still better than building again for each test.
		base = os.TempDir()
	}
	bin, err := installEmulator(filepath.Join(base, "cryptovault", "rie", EmulatorVersion))
	if err != nil {
		t.Fatalf("rie: %v", err)
	}
	return bin
}

// installEmulator makes sure dir/aws-lambda-rie exists. To stay safe when
// several test binaries install at the same time, each one installs into
// its own temporary directory and then renames the binary into place. The
// rename is atomic, so no reader ever sees a half-written file, and if two
// installs race, both results are equally good.
func installEmulator(dir string) (string, error) {
	bin := filepath.Join(dir, "aws-lambda-rie")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(dir, ".install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	cmd := exec.Command("go", "install", "-trimpath", "-ldflags=-s -w", emulatorPkg+"@"+EmulatorVersion)
	// The command runs in tmp, outside any module, and with GOWORK=off, so
	// neither the project's go.mod nor a go.work can change what it builds.
	// GOFLAGS is set to a non-empty value because Go treats an empty one as
	// unset; that keeps a -mod=... meant for the project from breaking
	// pkg@version. The build targets the host, like the bootstraps.
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(),
		"GOBIN="+tmp, "GOWORK=off", "GOFLAGS=-buildvcs=false",
		"CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("installing emulator: go install %s@%s: %v\n%s", emulatorPkg, EmulatorVersion, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "aws-lambda-rie"), bin); err != nil {
		return "", fmt.Errorf("installing emulator: %v", err)
	}
	return bin, nil
}

// BuildFunction builds the main package pkg, given relative to the module
// root (for example "./functions/health"), into t.TempDir()/bootstrap. It
// uses the release flags (CGO_ENABLED=0, -tags lambda.norpc, -trimpath,
// -ldflags=-s -w) so that the tests run the same code and the same init as
// Lambda does. The build is for the host GOOS/GOARCH, not Lambda's arm64,
// because the emulator runs the binary natively and this machine cannot
// emulate arm64.
func BuildFunction(t testing.TB, pkg string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("rie: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rie: building %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// moduleRoot asks the go command for the main module of the test's working
// directory (the package directory under `go test`), so that package paths
// mean the same thing whichever package's tests call BuildFunction.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("working directory is not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}
