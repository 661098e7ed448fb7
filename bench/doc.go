// Package bench measures what a CryptoVault user and operator pay for, against the targets of
// architecture.md and issue 8, and writes bench/REPORT.md with its charts:
//
//   - cold start of every function's bootstrap under the Lambda Runtime Interface Emulator, against
//     a hello-world Lambda built with the same flags, and the arm64 bootstrap and zip sizes;
//   - Mongo commands and Secrets Manager calls per endpoint on a warm instance (the budget test,
//     TestRoundTripBudgets, runs in `make test`);
//   - the in-process handler path against a bare API Gateway handler;
//   - bcrypt and login latency per cost on one core, and the auth function's memory size;
//   - throughput of the local server on the embedded database, and a warm function's memory;
//   - Mongo connections of 50 function instances at once, against the README's connection
//     arithmetic (TestConnectionsUnderLoad runs in `make test` with shorter loads).
//
// `make bench` runs TestReport with -report; without that flag the budget and connection tests run. Every
// figure is reported as a ratio against a baseline measured in the same run, because absolute
// times on a shared machine are noise. The code lives in _test files: it drives the emulator
// harness (shared/testkit/rie), which needs a testing.TB, and it must never be linked into a
// Lambda binary.
package bench
