// Package devdb runs an embedded MongoDB-wire database for the local server
// (cmd/local) and for tests, where no MongoDB server can be installed.
//
// The engine is FerretDB v1 with its SQLite backend, running in-process on a
// private loopback port. Clients never see that port: they get the address
// of a small proxy (Server.URI) that forwards one wire command at a time
// across all client connections. FerretDB does not serialize
// read-modify-write operations (concurrent $inc lose updates, concurrent
// conditional debits overspend), so the global lock is what gives
// single-document updates MongoDB's atomicity here. Commands from different
// clients still interleave freely between each other, as on a real server;
// the price is that one slow command holds up all others.
//
// The proxy also hides FerretDB's wire quirks from the driver (it answers
// w:0 writes, which the driver does not read) and can inject faults (Fault,
// StopEngine) for reliability tests.
//
// Production code (the Lambda binaries) must not import this package.
package devdb
