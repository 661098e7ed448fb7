// Package hardening holds the cross-function adversarial and fault-injection tests (issue 7): every
// function of template.yaml built from the catalog on one embedded database, requests sent through
// the real API Gateway event translation and Lambda adapter, and attacks or faults applied from
// outside — crafted tokens, foreign origins, cross-site form posts, another user's ids, the engine
// stopped mid-burst, Secrets Manager down, the price feed gone, a deadline shorter than a query.
//
// The package has no code of its own: only its tests, which `make test` runs.
package hardening
