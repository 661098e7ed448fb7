package badinput_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptovault/serverless/shared/platform/web"
	"github.com/cryptovault/serverless/shared/samtemplate"
	"github.com/cryptovault/serverless/shared/testkit/testenv"
)

// tcase is one request of the table and its acceptable answers.
type tcase struct {
	route samtemplate.Route
	group string // what kind of bad input, for the counts
	name  string
	// method and target (escaped path and query) of the request; the route's by default.
	method, target string
	// rawPath, when set, is an unescaped path that no URL can carry (a NUL byte): it is sent
	// through the event translation without the OpenAPI check (see raw).
	rawPath string
	// noSpec sends the target with raw too: an answer openapi.yaml does not list for the
	// operation although api.md states it for every route (413 on a GET).
	noSpec bool
	// header is set over the frontend's JSON header (and the user's token unless the route is
	// public); a nil value removes the header.
	header http.Header
	body   string
	want   outcome
	// prep, when set, completes the case just before it is sent (fresh tokens).
	prep func(t *testing.T, h *harness, c *tcase)
}

// TestBadInput sends every route of template.yaml the bad-input table and checks each answer:
// never a 5xx; the documented status; for an error the envelope (error = detail, an UPPER_SNAKE
// code, request_id) with the field a 422 names, Allow on a 405, and nothing of the input quoted
// back; and for a refused request, no document inserted, changed or deleted in any collection
// (except the failure count and audit entry of a refused login or password check).
func TestBadInput(t *testing.T) {
	start := time.Now()
	h := newHarness(t)
	all := specs()
	var cases []tcase
	for _, r := range h.routes {
		s, ok := all[r.String()]
		if !ok {
			t.Errorf("route %s has no spec in the bad-input table: add one", r)
			continue
		}
		delete(all, r.String())
		cases = append(cases, h.routeCases(r, s)...)
	}
	for k := range all {
		t.Errorf("spec %s names no route of template.yaml", k)
	}
	cases = append(cases, h.tokenDeliveryCases()...)

	perRoute := map[string]int{}
	perGroup := map[string]int{}
	refusals := 0 // cases whose every acceptable answer is a 4xx
	for i := range cases {
		c := cases[i]
		perRoute[c.route.String()]++
		perGroup[c.group]++
		if !slices.ContainsFunc(c.want, func(e expect) bool { return e.status < 400 }) {
			refusals++
		}
		t.Run(c.route.String()+"/"+c.group+"/"+c.name, func(t *testing.T) { h.check(t, c) })
	}
	t.Logf("bad-input table: %d requests over %d routes (%d must be refused) in %v; per route and per kind of input:",
		len(cases), len(perRoute), refusals, time.Since(start).Round(time.Millisecond))
	for _, r := range slices.Sorted(maps.Keys(perRoute)) {
		t.Logf("  %-45s %4d", r, perRoute[r])
	}
	for _, g := range slices.Sorted(maps.Keys(perGroup)) {
		t.Logf("  %-45s %4d", g, perGroup[g])
	}
}

// routeCases generates the table's cases of one route.
func (h *harness) routeCases(r samtemplate.Route, s spec) []tcase {
	var out []tcase
	add := func(group, name string, c tcase) {
		c.route, c.group, c.name = r, group, name
		if c.method == "" {
			c.method = r.Method
		}
		if c.target == "" && c.rawPath == "" {
			c.target = h.samplePath(r, s, nil)
		}
		if s.noAuth {
			if c.header == nil {
				c.header = http.Header{}
			}
			if _, set := c.header["Authorization"]; !set {
				c.header["Authorization"] = nil
			}
		}
		out = append(out, c)
	}
	validBody := ""
	if s.body != nil {
		validBody = jsonString(s.body(h))
	}
	bodyOf := func() string {
		if s.body == nil {
			return ""
		}
		return jsonString(s.body(h))
	}

	// The valid request: the table's reference answer.
	if s.base != nil {
		add("valid", "valid request", tcase{body: bodyOf(), want: s.base})
	}

	// Wrong methods on the route's path (each path once, with its first route).
	if first := h.firstRouteOf(r.Path); first == r {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if !h.pathHasMethod(r.Path, m) {
				add("wrong method", m, tcase{method: m, want: methodNotAllowed})
			}
		}
	}

	// Bodies over the limit: every route refuses them before anything runs.
	// (openapi.yaml lists 413 only where there is a request body: GETs skip the OpenAPI check.)
	add("too large", "1 MB body", tcase{body: `{"x":"` + strings.Repeat("A", 1<<20) + `"}`, want: tooLarge, noSpec: r.Method == http.MethodGet})
	if s.body != nil {
		add("too large", "64 KiB + 1", tcase{body: `{"x":"` + strings.Repeat("A", web.MaxBodyBytes-7) + `"}`, want: tooLarge})
	}

	// Content types: a state-changing method takes application/json only (the CSRF defence).
	if r.Method != http.MethodGet {
		ct := func(name, contentType, body string) {
			add("content type", name, tcase{header: http.Header{"Content-Type": {contentType}}, body: body, want: unsupportedMedia})
		}
		ct("text/plain", "text/plain", validBody)
		ct("text/plain charset", "text/plain;charset=UTF-8", validBody)
		ct("text/plain empty body", "text/plain", "")
		ct("form", "application/x-www-form-urlencoded", "email=a%40b.c&password=x&amount=1")
		ct("form empty body", "application/x-www-form-urlencoded", "")
		ct("multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n")
		ct("xml", "application/xml", "<a/>")
		ct("json-patch", "application/json-patch+json", validBody)
		ct("jsonx", "application/jsonx", validBody)
		ct("bare json", "json", validBody)
		ct("list", "application/json, text/plain", validBody)
		ct("malformed parameter", "application/json; charset", validBody)
		add("content type", "none with a body", tcase{header: http.Header{"Content-Type": nil}, body: `{}`, want: unsupportedMedia})
		add("content type", "two", tcase{header: http.Header{"Content-Type": {"application/json", "text/plain"}}, body: validBody, want: unsupportedMedia})
	}

	if s.body != nil {
		h.bodyCases(s, add)
	}
	if r.Method == http.MethodGet {
		h.queryCases(r, s, add)
	}
	for name := range s.params {
		for _, p := range hostileParams {
			c := tcase{want: notFound}
			if p.raw {
				c.rawPath, c.want = h.samplePathRaw(r, s, map[string]string{name: p.value}), unrepresentable
			} else {
				c.target = h.samplePath(r, s, map[string]string{name: p.value})
			}
			add("path parameter", name+" "+p.name, c)
		}
	}
	if s.tokenDelivery {
		for _, v := range []string{"bogus", "body,cookie", "none"} {
			add("header", "X-Token-Delivery "+v, tcase{header: http.Header{"X-Token-Delivery": {v}}, body: bodyOf(), want: invalid("X-Token-Delivery")})
		}
	}
	if s.idempotent {
		for _, k := range []struct{ name, value string }{
			{"empty", ""}, {"129 characters", strings.Repeat("k", 129)}, {"control character", "key\x01"},
			{"DEL", "key\x7f"}, {"non-ASCII", "ключ"},
		} {
			add("header", "Idempotency-Key "+k.name, tcase{header: http.Header{"Idempotency-Key": {k.value}}, body: bodyOf(), want: invalid("Idempotency-Key")})
		}
		add("header", "Idempotency-Key twice", tcase{header: http.Header{"Idempotency-Key": {"a", "b"}}, body: bodyOf(), want: invalid("Idempotency-Key")})
	}
	return out
}

// bodyCases are the JSON body cases of a route that reads one.
func (h *harness) bodyCases(s spec, add func(group, name string, c tcase)) {
	// with returns a valid body whose field f is the JSON text v (absent when v is "").
	with := func(f, v string) string {
		m := map[string]json.RawMessage{}
		for k, val := range s.body(h) {
			m[k] = json.RawMessage(jsonString(val))
		}
		if v == "" {
			delete(m, f)
		} else {
			m[f] = json.RawMessage(v)
		}
		return jsonString(m)
	}
	empty := s.empty
	if empty == nil {
		empty = s.base
	}

	// Syntax: 400 INVALID_JSON.
	valid := jsonString(s.body(h))
	for _, b := range []namedJSON{
		{"unterminated", `{`},
		{"missing value", `{"a":}`},
		{"trailing garbage", valid + `x`},
		{"two values", valid + ` {}`},
		{"single quotes", `{'a':1}`},
		{"trailing comma", `{"a":1,}`},
		{"comment", `{/*` + marker + `*/}`},
		{"NaN", `{"amount":NaN}`},
		{"Infinity", `{"amount":Infinity}`},
		{"-Infinity", `{"amount":-Infinity}`},
		{"byte order mark", "\ufeff" + valid},
		{"NUL byte", "\x00"},
		{"NUL after value", valid + "\x00"},
		{"raw control character in a string", `{"a":"x` + "\x01" + `y"}`},
		{"raw newline in a string", `{"a":"x` + "\n" + `y"}`},
		{"bad escape", `{"a":"\x"}`},
		{"short unicode escape", `{"a":"\u12"}`},
		{"10k unclosed [", strings.Repeat("[", 10000)},
		{"10k unclosed {", strings.Repeat(`{"a":`, 10000)},
		{"10k nested arrays in a field", `{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`},
		{"UTF-16", "{\x00\"\x00a\x00\"\x00:\x001\x00}\x00"},
	} {
		add("invalid JSON", b.name, tcase{body: b.json, want: invalidJSON})
	}
	for _, b := range []namedJSON{
		{"0xff", "{\"a\":\"\xff\"}"},
		{"in a key", "{\"\xfe\":1}"},
		{"overlong slash", "{\"a\":\"\xc0\xaf\"}"},
		{"encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}"},
		{"truncated sequence", "{\"a\":\"\xe2\x82\"}"},
		{"Latin-1", "{\"a\":\"caf\xe9\"}"},
	} {
		add("invalid UTF-8", b.name, tcase{body: b.json, want: invalidJSON})
	}
	// Not an object: 422 on "body".
	for _, b := range []string{`[]`, `[{}]`, `null`, `"x"`, `1`, `true`} {
		add("not an object", b, tcase{body: b, want: invalid("body")})
	}
	add("empty", "empty body", tcase{body: "", want: empty})
	add("empty", "whitespace body", tcase{body: " \r\n\t", want: empty})
	add("empty", "empty object", tcase{body: "{}", want: empty})

	// Unknown fields are ignored, Mongo-looking keys included: the valid answer.
	extra := func(name, fields string) {
		v := jsonString(s.body(h))
		add("extra fields", name, tcase{body: v[:len(v)-1] + "," + fields + "}", want: s.base})
	}
	extra("unknown", `"unknown":1,"other":{"a":[1,2]}`)
	extra("$-prefixed", `"$where":"sleep(1000)","$set":{"email_verified":true},"$inc":{"cash":1000000}`)
	extra("dotted", `"a.b":1,"totp.enabled":false,"holdings.BTC":"1000"`)
	extra("operator values", `"role":{"$ne":null},"admin":{"$gt":""}`)
	extra("prototype", `"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}}`)
	extra("60 KB unknown", `"padding":"`+strings.Repeat("p", 60*1024)+`"`)
	extra("9999 nested arrays", `"deep":`+strings.Repeat("[", 9998)+strings.Repeat("]", 9998))

	for _, f := range s.fields {
		fieldOr := func(o outcome) outcome {
			switch {
			case f.ignored:
				return s.base
			case o != nil:
				return o
			}
			return invalid(f.name)
		}
		missing := f.missing
		if missing == nil {
			missing = invalid(f.name)
		}
		if f.ignored {
			missing = s.base
		}
		add("missing field", f.name, tcase{body: with(f.name, ""), want: missing})
		add("null field", f.name, tcase{body: with(f.name, "null"), want: missing})
		types := wrongTypes
		if f.money {
			types = wrongMoneyTypes
		}
		for _, v := range types {
			add("wrong type", f.name+" "+v.name, tcase{body: with(f.name, v.json), want: fieldOr(nil)})
		}
		add("duplicate key", f.name+" then $ne", tcase{body: strings.TrimSuffix(jsonString(s.body(h)), "}") + `,"` + f.name + `":{"$ne":null}}`, want: fieldOr(nil)})
		if f.money {
			for _, v := range append(slices.Clone(badMoney), namedJSON{"too many decimals", f.tooPrecise}, namedJSON{"over the maximum", f.tooLarge}) {
				add("bad amount", f.name+" "+v.name, tcase{body: with(f.name, v.json), want: fieldOr(nil)})
			}
		} else {
			for _, v := range hostileText {
				add("hostile text", f.name+" "+v.name, tcase{body: with(f.name, v.json), want: fieldOr(f.text)})
			}
			add("huge string", f.name+" 60 KB", tcase{body: with(f.name, jsonString(kb60)), want: fieldOr(f.huge)})
		}
		validValue := "x"
		if v, ok := s.body(h)[f.name].(string); ok {
			validValue = v
		}
		for _, cc := range controlChars {
			add("control character", f.name+" "+cc.name, tcase{body: with(f.name, withControl(validValue, cc.escape)), want: fieldOr(f.ctrl)})
		}
		add("invalid UTF-8", f.name+" value", tcase{body: with(f.name, "\"\xff"+marker+"\""), want: invalidJSON})
	}
}

// queryCases are the query-string cases of a GET route.
func (h *harness) queryCases(r samtemplate.Route, s spec, add func(group, name string, c tcase)) {
	base := h.samplePath(r, s, nil)
	q := func(group, name, query string, want outcome) {
		add(group, name, tcase{target: base + "?" + query, want: want})
	}
	ok := status(http.StatusOK)
	// Parameters a route does not read are ignored, whatever they look like.
	q("unknown query", "unknown names", "foo=bar&%24where=1&a.b=c&__proto__%5Badmin%5D=1&limit%5B%24gt%5D=0", s.base)
	q("unknown query", "repeated unknown", "foo=1&foo=2", s.base)
	if !s.list && len(s.query) == 0 {
		q("unknown query", "paging on a non-list route", "limit=-1&offset=x", s.base)
	}
	enc := func(name, v string) string { return url.QueryEscape(name) + "=" + url.QueryEscape(v) }
	if s.list {
		for _, v := range badLimits {
			q("limit", fmt.Sprintf("%q", v), enc("limit", v), invalid("limit"))
		}
		for _, v := range goodLimits {
			q("limit", fmt.Sprintf("good %q", v), enc("limit", v), ok)
		}
		for _, v := range badOffsets {
			q("offset", fmt.Sprintf("%q", v), enc("offset", v), invalid("offset"))
		}
		for _, v := range goodOffsets {
			q("offset", fmt.Sprintf("good %q", v), enc("offset", v), ok)
		}
		q("repeated query", "limit", "limit=10&limit=20", invalid("limit"))
		q("repeated query", "limit same value", "limit=10&limit=10", invalid("limit"))
		q("repeated query", "offset", "offset=0&offset=1", invalid("offset"))
		q("repeated query", "empty limit and offset", "limit=&offset=", ok)
	}
	for _, p := range s.query {
		for _, v := range p.bad {
			q("query value", fmt.Sprintf("%s %q", p.name, v), enc(p.name, v), invalid(p.name))
		}
		for _, v := range p.good {
			q("query value", fmt.Sprintf("%s good %q", p.name, v), enc(p.name, v), ok)
		}
		q("query value", p.name+" empty", enc(p.name, ""), ok)
		q("repeated query", p.name, enc(p.name, p.good[0])+"&"+enc(p.name, p.good[0]), invalid(p.name))
	}
}

// tokenDeliveryCases: refresh and change-password read X-Token-Delivery too, with a real refresh
// token and the right password (the table's other requests cannot succeed there). A bad header
// must be refused before the refresh token rotates or the password changes.
func (h *harness) tokenDeliveryCases() []tcase {
	refresh := samtemplate.Route{Method: http.MethodPost, Path: "/api/auth/refresh"}
	change := samtemplate.Route{Method: http.MethodPost, Path: "/api/auth/change-password"}
	bad := http.Header{"X-Token-Delivery": {"bogus"}}
	return []tcase{
		{route: refresh, group: "header", name: "X-Token-Delivery bogus with a valid refresh token", method: http.MethodPost,
			target: refresh.Path, want: invalid("X-Token-Delivery"),
			prep: func(t *testing.T, h *harness, c *tcase) {
				login := h.mustDo(http.MethodPost, "/api/auth/login", "", jsonString(map[string]string{"email": userEmail, "password": userPassword}),
					http.Header{"X-Token-Delivery": {"body"}, "Authorization": nil}, http.StatusOK)
				c.body = jsonString(map[string]any{"refresh_token": login["refresh_token"]})
				c.header = bad.Clone()
				c.header["Authorization"] = nil
			}},
		{route: change, group: "header", name: "X-Token-Delivery bogus with the right password", method: http.MethodPost,
			target: change.Path, header: bad, want: invalid("X-Token-Delivery"),
			body: jsonString(map[string]string{"current_password": userPassword, "new_password": "Changed9Password"})},
	}
}

// samplePath is the route's path with its parameters: the valid ones of the spec, or override.
func (h *harness) samplePath(r samtemplate.Route, s spec, override map[string]string) string {
	return h.fill(r, s, override, url.PathEscape)
}

// samplePathRaw is samplePath unescaped.
func (h *harness) samplePathRaw(r samtemplate.Route, s spec, override map[string]string) string {
	return h.fill(r, s, override, func(v string) string { return v })
}

func (h *harness) fill(r samtemplate.Route, s spec, override map[string]string, escape func(string) string) string {
	p := r.Path
	for name, valid := range s.params {
		v, ok := override[name]
		if !ok {
			v = valid(h)
		}
		p = strings.ReplaceAll(p, "{"+name+"}", escape(v))
	}
	return p
}

func (h *harness) firstRouteOf(path string) samtemplate.Route {
	for _, r := range h.routes {
		if r.Path == path {
			return r
		}
	}
	return samtemplate.Route{}
}

func (h *harness) pathHasMethod(path, method string) bool {
	for _, r := range h.routes {
		if r.Path == path && r.Method == method {
			return true
		}
	}
	return false
}

var upperSnake = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// check sends one case and checks its answer.
func (h *harness) check(t *testing.T, c tcase) {
	parent := h.t
	h.t = t
	defer func() { h.t = parent }()

	// The snapshot after the previous refused request is this one's "before", unless something
	// may have changed since.
	before, valid := h.last, h.lastValid
	h.lastValid = false
	if h.lockoutDirty {
		h.clearLockout()
		h.lockoutDirty, valid = false, false
	}
	if c.prep != nil {
		c.prep(t, h, &c)
		valid = false
	}
	header := testenv.JSONHeader()
	header.Set("Authorization", "Bearer "+h.token)
	for k, vs := range c.header {
		if vs == nil {
			header.Del(k)
		} else {
			header[http.CanonicalHeaderKey(k)] = vs
		}
	}
	refuses := slices.ContainsFunc(c.want, func(e expect) bool { return e.status >= 400 })
	if refuses && !valid {
		before = h.snapshot()
	}
	fn := h.fns[c.route]
	var resp testenv.Response
	switch {
	case c.rawPath != "":
		resp = raw(t, fn, c.method, c.rawPath, c.route.Path, header, c.body)
	case c.noSpec:
		p, err := url.PathUnescape(c.target)
		if err != nil || strings.Contains(p, "?") {
			t.Fatalf("noSpec target %q: %v", c.target, err)
		}
		resp = raw(t, fn, c.method, p, c.route.Path, header, c.body)
	default:
		resp = testenv.Do(t, fn, testenv.Request{Method: c.method, Path: c.target, Resource: c.route.Path, Header: header, Body: c.body})
	}
	body := resp.Body
	if len(body) > 600 {
		body = append(body[:600:600], "…"...)
	}
	if resp.Status >= 500 {
		t.Fatalf("%s %s: %d, a 5xx for client input: %s", c.method, c.target, resp.Status, body)
	}
	var env map[string]any
	if resp.Status >= 400 {
		env = envelope(t, resp)
	}
	var match *expect
	for i, e := range c.want {
		if e.status == resp.Status && (e.code == "" || env == nil || env["code"] == e.code) {
			match = &c.want[i]
			break
		}
	}
	if match == nil {
		t.Fatalf("%s %s: %d %v, want one of %v %v: %s", c.method, c.target, resp.Status, env["code"], c.want.statuses(), codes(c.want), body)
	}
	if resp.Status < 400 {
		return
	}
	if match.field != "" {
		fields, _ := env["fields"].(map[string]any)
		if _, ok := fields[match.field]; !ok {
			t.Errorf("the 422 does not name %q: %s", match.field, body)
		}
	}
	if resp.Status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
		t.Errorf("405 without Allow")
	}
	if strings.Contains(string(resp.Body), marker) {
		t.Errorf("the error answer quotes the input: %s", body)
	}
	after := h.snapshot()
	if changed := before.changed(after, match.writes); len(changed) > 0 {
		t.Errorf("a refused request (%d %v) changed the database: %s", resp.Status, env["code"], strings.Join(changed, ", "))
	}
	h.last, h.lastValid = after, true
	if len(match.writes) > 0 {
		h.lockoutDirty = true
	}
}

// envelope checks the error envelope of api.md and returns it.
func envelope(t *testing.T, resp testenv.Response) map[string]any {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(resp.Body, &env); err != nil {
		t.Fatalf("%d: the body is not a JSON object: %s", resp.Status, resp.Body)
	}
	msg, _ := env["error"].(string)
	code, _ := env["code"].(string)
	id, _ := env["request_id"].(string)
	if msg == "" || env["detail"] != msg || !upperSnake.MatchString(code) || id == "" {
		t.Errorf("%d: not the error envelope: %s", resp.Status, resp.Body)
	}
	if got := resp.Header.Get("X-Request-Id"); got != id {
		t.Errorf("X-Request-Id %q, request_id %q", got, id)
	}
	if code == "VALIDATION_ERROR" {
		if _, ok := env["fields"].(map[string]any); !ok {
			t.Errorf("a 422 VALIDATION_ERROR without fields: %s", resp.Body)
		}
	}
	return env
}

func codes(o outcome) []string {
	var s []string
	for _, e := range o {
		if e.code != "" && !slices.Contains(s, e.code) {
			s = append(s, e.code)
		}
	}
	return s
}
