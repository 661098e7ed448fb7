// Package web is the HTTP platform shared by every CryptoVault function: the
// error envelope, JSON decoding and encoding, CORS, security headers, request
// ids, body limits, routing and the access log.
//
// The rules it enforces are the "Conventions (all endpoints)" of the API
// contract (shared/design/api.md). They live here, once, so that each Lambda
// function and the local server behave identically and no endpoint can forget
// one of them.
//
// A function is assembled as
//
//	rt := web.NewRouter(web.RouterOptions{Classifiers: classifiers})
//	rt.Handle("GET /api/status", status)
//	h := web.Wrap(rt, web.Options{Function: "health", AllowedOrigins: origins, Logger: logger})
//
// Handlers return errors instead of writing them; the Router turns a returned
// error into the envelope through WriteError, so a handler cannot leak an
// internal error message by accident.
//
// The package imports no database, secrets or AWS code: packages that know
// their own failures contribute a Classifier instead.
package web
