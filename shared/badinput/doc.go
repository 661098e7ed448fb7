// Package badinput holds the bad-input table of the API (issue 7, "Hardening"): one test that
// drives every route of template.yaml, built from the catalog on one embedded database, with
// wrong types, missing and extra fields, Mongo operator injection, huge strings, deep nesting,
// invalid UTF-8, control characters, hostile path parameters, bad query parameters, wrong
// content types and wrong methods, and checks that each is refused with the documented 4xx and
// the error envelope, never a 5xx, and that a refused request changes nothing in the database.
//
// The package has no code of its own: everything is in its tests.
package badinput
