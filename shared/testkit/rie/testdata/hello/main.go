// Command hello is the smallest useful Lambda function. It is the fixture
// the rie harness tests run, and the cold-start baseline that the fidelity
// benchmarks compare CryptoVault's functions against. It imports only
// aws-lambda-go and the standard library, so its init cost is the least any
// of our functions can pay.
//
// Behaviour, chosen so that the tests can reach each response shape the
// emulator produces:
//   - by default it echoes the event as {"echo": <event>, "function": <name>};
//   - {"fail": true} returns a handled error, which comes back as Lambda's
//     {"errorType", "errorMessage"} payload;
//   - {"exit": N} exits the process with status N before it responds, like a
//     crash, so the emulator reports Runtime.ExitError and starts the
//     function again (a second init) on the next invoke;
//   - with HELLO_INIT_EXIT set in its environment, it exits during init, as
//     a function with missing configuration does.
//
// Each invoke writes one line to stdout, so the tests can check that the
// function's logs pass through the emulator.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// errRequested is returned for {"fail":true}. Lambda reports the Go type name
// of the error as errorType: "errorString" for an error from errors.New.
var errRequested = errors.New("hello: failure requested by event")

func handle(ctx context.Context, ev json.RawMessage) (map[string]any, error) {
	var probe struct {
		Fail bool `json:"fail"`
		Exit *int `json:"exit"`
	}
	// A non-object event such as a string or number is echoed too, so a
	// decoding error is not a failure here.
	_ = json.Unmarshal(ev, &probe)
	fmt.Printf("hello: invoke event=%s\n", ev)
	if probe.Exit != nil {
		os.Exit(*probe.Exit)
	}
	if probe.Fail {
		return nil, errRequested
	}
	return map[string]any{
		"echo":     ev,
		"function": os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
	}, nil
}

func main() {
	if os.Getenv("HELLO_INIT_EXIT") != "" {
		fmt.Fprintln(os.Stderr, "hello: init failure requested")
		os.Exit(1)
	}
	lambda.Start(handle)
}
