package samtemplate

import (
	"sort"
	"strings"
)

// Route is one Api event of a function: Method upper-case (GET, POST, OPTIONS,
// ANY...), Path as written in the template, e.g. "/api/crypto/{symbol}".
type Route struct {
	Method, Path string
}

// String is "METHOD /path".
func (r Route) String() string { return r.Method + " " + r.Path }

// Pattern is the route as a net/http ServeMux pattern, e.g.
// "GET /api/crypto/{symbol}". Path parameters have the same syntax in both;
// API Gateway's greedy {name+} becomes {name...}, the root path "/" becomes
// "/{$}" (exactly the root), and ANY becomes a pattern without a method.
func (r Route) Pattern() string {
	p := muxPath(r.Path)
	if r.Method == "ANY" || r.Method == "" {
		return p
	}
	return r.Method + " " + p
}

// Patterns is Pattern plus, for a path other than "/" that does not end in a
// greedy parameter, the same path with a trailing slash ("GET /api/{$}"):
// a REST API routes /api/ to the resource /api too (the request path reaches
// the function as sent), so a mux that should behave like the stage registers
// both.
func (r Route) Patterns() []string {
	ps := []string{r.Pattern()}
	segs := segments(r.Path)
	if len(segs) == 0 || isGreedy(segs[len(segs)-1]) {
		return ps
	}
	slash := muxPath(r.Path) + "/{$}"
	if r.Method == "ANY" || r.Method == "" {
		return append(ps, slash)
	}
	return append(ps, r.Method+" "+slash)
}

// MatchPath reports whether a request path falls on this route's resource the
// way an API Gateway REST API matches it, and returns the path parameters:
// {name} takes one non-empty segment, {name+} the rest of the path (one
// segment or more), and one trailing slash on the request is ignored.
// Segments are compared as given (pass an unescaped path). The method is not
// looked at; see Resolve.
func (r Route) MatchPath(path string) (map[string]string, bool) {
	_, params, ok := matchSegments(segments(r.Path), segments(path))
	return params, ok
}

// Resolve picks the route that serves method and path among routes, as API
// Gateway does: first the most specific resource path that matches (a literal
// segment beats {param}, which beats {greedy+}, from left to right), then the
// route of that path with the method, or with ANY. When a path matches but no
// route has the method, ok is false and allowed lists the methods the path
// has (sorted); when no path matches, allowed is nil too. (API Gateway answers
// both cases with MISSING_AUTHENTICATION_TOKEN, which the stage maps to 404;
// the local server may answer 405 with Allow.)
func Resolve(routes []Route, method, path string) (route Route, params map[string]string, allowed []string, ok bool) {
	req := segments(path)
	var best string
	var bestRank []int
	found := false
	for _, r := range routes {
		rank, _, m := matchSegments(segments(r.Path), req)
		if !m {
			continue
		}
		if !found || moreSpecific(rank, bestRank) {
			best, bestRank, found = r.Path, rank, true
		}
	}
	if !found {
		return Route{}, nil, nil, false
	}
	method = strings.ToUpper(method)
	var anyRoute *Route
	for i, r := range routes {
		if r.Path != best {
			continue
		}
		switch r.Method {
		case method:
			params, _ := r.MatchPath(path)
			return r, params, nil, true
		case "ANY":
			anyRoute = &routes[i]
		}
		allowed = append(allowed, r.Method)
	}
	if anyRoute != nil {
		params, _ := anyRoute.MatchPath(path)
		return *anyRoute, params, nil, true
	}
	sort.Strings(allowed)
	return Route{}, nil, dedupe(allowed), false
}

// Segment kinds, by precedence.
const (
	rankGreedy = iota
	rankParam
	rankLiteral
)

func matchSegments(tmpl, req []string) (rank []int, params map[string]string, ok bool) {
	params = map[string]string{}
	for i, t := range tmpl {
		switch {
		case isGreedy(t):
			if i != len(tmpl)-1 || i >= len(req) {
				return nil, nil, false
			}
			params[t[1:len(t)-2]] = strings.Join(req[i:], "/")
			return append(rank, rankGreedy), params, true
		case i >= len(req):
			return nil, nil, false
		case isParam(t):
			if req[i] == "" {
				return nil, nil, false
			}
			params[t[1:len(t)-1]] = req[i]
			rank = append(rank, rankParam)
		default:
			if t != req[i] {
				return nil, nil, false
			}
			rank = append(rank, rankLiteral)
		}
	}
	if len(req) != len(tmpl) {
		return nil, nil, false
	}
	return rank, params, true
}

func moreSpecific(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}

// segments splits a path into its segments: "/" and "" → none; one trailing
// slash is ignored.
func segments(path string) []string {
	path = strings.TrimPrefix(path, "/")
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

func isParam(seg string) bool {
	return len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}'
}

func isGreedy(seg string) bool {
	return isParam(seg) && len(seg) > 3 && seg[len(seg)-2] == '+'
}

// muxPath is a template path in ServeMux syntax. The root becomes "/{$}":
// a bare "/" would match every path in a ServeMux.
func muxPath(path string) string {
	segs := segments(path)
	if len(segs) == 0 {
		return "/{$}"
	}
	for i, s := range segs {
		if isGreedy(s) {
			segs[i] = s[:len(s)-2] + "...}"
		}
	}
	return "/" + strings.Join(segs, "/")
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
