package samtemplate

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// APILogicalID is the logical id of the project's REST API, whose stage
// MethodSettings hold the throttling table.
const APILogicalID = "CryptoVaultApi"

// Throttle is the token bucket API Gateway applies to one method of a stage:
// Rate requests per second in the steady state (ThrottlingRateLimit, a
// double) and a bucket of Burst requests (ThrottlingBurstLimit, an integer).
type Throttle struct {
	Rate  float64
	Burst int
}

// ThrottleTable is the throttling of the API's stage, as API Gateway applies
// it: every method (resource path + HTTP method) has its own bucket, shared
// by all clients. A method listed in Routes uses its own settings; every
// other method uses Default, each in a bucket of its own (the stage default
// is a per-method limit, not one bucket for the whole stage).
type ThrottleTable struct {
	// Default is the stage default (ResourcePath "/*", HttpMethod "*"); nil
	// when the stage sets no throttle (in AWS only the account limit is left).
	Default *Throttle
	// Routes are the per-method overrides, keyed by HTTP method (upper case)
	// and resource path as the template's Api events write it
	// ("/api/auth/login", "/api/crypto/{symbol}").
	Routes map[Route]Throttle
}

// For returns the throttle of the method that serves route: its own entry,
// else the stage default. ok is false when neither exists (no limit).
func (t ThrottleTable) For(route Route) (th Throttle, ok bool) {
	if th, ok := t.Routes[route]; ok {
		return th, true
	}
	if t.Default != nil {
		return *t.Default, true
	}
	return Throttle{}, false
}

// Overrides returns the routes with their own settings, sorted by path, then
// method.
func (t ThrottleTable) Overrides() []Route {
	routes := make([]Route, 0, len(t.Routes))
	for r := range t.Routes {
		routes = append(routes, r)
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return routes[i].Method < routes[j].Method
	})
	return routes
}

// Throttles reads the throttling table from the stage MethodSettings of the
// API (Resources.CryptoVaultApi.Properties.MethodSettings).
//
// Semantics are API Gateway's: an entry applies to exactly its resource and
// method; the entry with ResourcePath "/*" and HttpMethod "*" is the stage
// default for every other method. ResourcePath is written with the slashes
// of the resource path escaped as "~1" after a leading "/" ("/~1api~1auth~1login"
// is the resource /api/auth/login, "/~1" the root); it is decoded here. An
// entry that sets only one of the two limits takes the other from the stage
// default; an entry that sets neither (logging or metrics only) is not a
// throttle and is left out.
//
// A limit is a number or a !Ref to a template parameter, which resolves to
// the parameter's Default: the template cannot know the value a deployment
// passes, so the local server runs with the defaults (the values documented
// in api.md). A parameter without a Default, an unknown parameter, any other
// intrinsic function, a value that is not a number (or, for the burst, not an
// integer), a negative value, a partial wildcard ("/*" with a method, or a
// resource with "*"), a ResourcePath with an unescaped "/" and a duplicate
// entry are errors, so that the local server refuses to start rather than
// enforce a table that differs from the deployed one.
func (t *Template) Throttles() (ThrottleTable, error) {
	table := ThrottleTable{Routes: map[Route]Throttle{}}
	api, ok := t.Resources[APILogicalID]
	if !ok {
		return table, fmt.Errorf("samtemplate: no resource %s", APILogicalID)
	}
	where := "resource " + APILogicalID + ": MethodSettings"
	var settings []any
	switch v := api.Properties["MethodSettings"].(type) {
	case nil:
		return table, nil
	case []any:
		settings = v
	default:
		return table, fmt.Errorf("samtemplate: %s: want a list, got %s", where, describe(v))
	}

	type entry struct {
		route       Route
		rate, burst *float64
	}
	var def *entry
	var entries []entry
	for i, s := range settings {
		at := fmt.Sprintf("%s[%d]", where, i)
		m, ok := s.(map[string]any)
		if !ok || IsIntrinsic(s) {
			return table, fmt.Errorf("samtemplate: %s: want a mapping, got %s", at, describe(s))
		}
		resource, err := optString(m, "ResourcePath", at)
		if err != nil {
			return table, err
		}
		method, err := optString(m, "HttpMethod", at)
		if err != nil {
			return table, err
		}
		if resource == "" || method == "" {
			return table, fmt.Errorf("samtemplate: %s: needs a ResourcePath and an HttpMethod", at)
		}
		path, err := decodeResourcePath(resource)
		if err != nil {
			return table, fmt.Errorf("samtemplate: %s: ResourcePath %q: %w", at, resource, err)
		}
		method = strings.ToUpper(method)
		e := entry{route: Route{Method: method, Path: path}}
		if e.rate, err = t.throttleNumber(m, "ThrottlingRateLimit", at, false); err != nil {
			return table, err
		}
		if e.burst, err = t.throttleNumber(m, "ThrottlingBurstLimit", at, true); err != nil {
			return table, err
		}
		switch {
		case path == "*" && method == "*":
			if def != nil {
				return table, fmt.Errorf("samtemplate: %s: a second stage default (/* *)", at)
			}
			def = &e
			continue
		case path == "*" || method == "*":
			return table, fmt.Errorf("samtemplate: %s: %s %s: only ResourcePath \"/*\" with HttpMethod \"*\" (the stage default) may use a wildcard", at, method, resource)
		}
		for _, prev := range entries {
			if prev.route == e.route {
				return table, fmt.Errorf("samtemplate: %s: a second entry for %s", at, e.route)
			}
		}
		entries = append(entries, e)
	}

	if def != nil && (def.rate != nil || def.burst != nil) {
		if def.rate == nil || def.burst == nil {
			return table, fmt.Errorf("samtemplate: %s: the stage default sets only one of ThrottlingRateLimit and ThrottlingBurstLimit", where)
		}
		table.Default = &Throttle{Rate: *def.rate, Burst: int(*def.burst)}
	}
	for _, e := range entries {
		if e.rate == nil && e.burst == nil {
			continue
		}
		th := Throttle{}
		if table.Default != nil {
			th = *table.Default
		} else if e.rate == nil || e.burst == nil {
			return table, fmt.Errorf("samtemplate: %s: %s sets only one limit and the stage has no default for the other", where, e.route)
		}
		if e.rate != nil {
			th.Rate = *e.rate
		}
		if e.burst != nil {
			th.Burst = int(*e.burst)
		}
		table.Routes[e.route] = th
	}
	return table, nil
}

// decodeResourcePath turns a MethodSettings ResourcePath into a resource path:
// "/~1api~1auth~1login" → "/api/auth/login", "/~1" → "/", "/*" → "*". After
// the leading "/", the escapes are JSON Pointer's: "~1" is "/", "~0" is "~".
func decodeResourcePath(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, "/")
	if !ok {
		return "", fmt.Errorf("must start with \"/\"")
	}
	if rest == "*" {
		return "*", nil
	}
	if strings.Contains(rest, "/") {
		return "", fmt.Errorf("write the slashes of the resource path as ~1")
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == '~' && (i+1 == len(rest) || (rest[i+1] != '0' && rest[i+1] != '1')) {
			return "", fmt.Errorf("bad escape: \"~\" must be followed by 0 or 1")
		}
	}
	path := strings.ReplaceAll(strings.ReplaceAll(rest, "~1", "/"), "~0", "~")
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("the resource path must start with ~1 (an escaped \"/\")")
	}
	return path, nil
}

// throttleNumber reads one limit of a method setting: nil when absent, else a
// non-negative number (an integer when integer is set), given literally or
// as a !Ref to a parameter with a Default.
func (t *Template) throttleNumber(m map[string]any, key, where string, integer bool) (*float64, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	where += ": " + key
	var text string
	switch {
	case IsIntrinsic(v):
		ref, isRef := v.(map[string]any)["Ref"].(string)
		if !isRef {
			return nil, fmt.Errorf("samtemplate: %s: only a number or !Ref to a parameter is supported, got %s", where, describe(v))
		}
		p, ok := t.Parameters[ref]
		if !ok {
			return nil, fmt.Errorf("samtemplate: %s: !Ref %s: no such parameter", where, ref)
		}
		if !p.HasDefault {
			return nil, fmt.Errorf("samtemplate: %s: !Ref %s: the parameter has no Default", where, ref)
		}
		text = p.Default
		where += " (!Ref " + ref + ")"
	default:
		s, err := scalarText(v)
		if err != nil {
			return nil, fmt.Errorf("samtemplate: %s: %w", where, err)
		}
		text = s
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("samtemplate: %s: %q is not a number", where, text)
	}
	if f < 0 {
		return nil, fmt.Errorf("samtemplate: %s: %q is negative", where, text)
	}
	if integer && (f != math.Trunc(f) || f > math.MaxInt32) {
		return nil, fmt.Errorf("samtemplate: %s: %q is not an integer", where, text)
	}
	return &f, nil
}

// describe names a value's shape for error messages without quoting it.
func describe(v any) string {
	switch v := v.(type) {
	case map[string]any:
		if IsIntrinsic(v) {
			for k := range v {
				return k
			}
		}
		return "a mapping"
	case []any:
		return "a list"
	case nil:
		return "nothing"
	default:
		return fmt.Sprintf("%T", v)
	}
}
