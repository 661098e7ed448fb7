package openapicheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// flatten turns a validation error into one Problem per failing value, each with the JSON
// pointer of that value. A failure inside anyOf/allOf yields the failures of its branches.
func flatten(err error) []Problem {
	var out []Problem
	var walk func(err error, where string)
	walk = func(err error, where string) {
		switch e := err.(type) {
		case nil:
		case openapi3.MultiError:
			for _, sub := range e {
				walk(sub, where)
			}
		case *openapi3filter.ResponseError:
			switch {
			case strings.HasPrefix(e.Reason, "response header "):
				// `response header "X" missing`, a header failing its schema, or
				// `response header Content-Type has unexpected value: "text/plain"`.
				rest := strings.TrimPrefix(e.Reason, "response header ")
				sep := " "
				if strings.HasPrefix(rest, `"`) {
					rest, sep = rest[1:], `"`
				}
				h, msg, _ := strings.Cut(rest, sep)
				msg = strings.TrimSpace(msg)
				if e.Err != nil {
					msg = strings.TrimSpace(msg + " " + e.Err.Error())
				}
				out = append(out, Problem{Where: "header " + h, Message: msg})
			case strings.HasPrefix(e.Reason, "unable to decode header "):
				h := strings.Trim(strings.TrimSuffix(strings.TrimPrefix(e.Reason, "unable to decode header "), " value"), `"`)
				msg := "cannot be decoded"
				if e.Err != nil {
					msg += ": " + e.Err.Error()
				}
				out = append(out, Problem{Where: "header " + h, Message: msg})
			case e.Err == nil:
				msg := e.Reason
				if msg == "status is not supported" {
					msg = "status not documented for the operation"
				}
				out = append(out, Problem{Where: "status", Message: msg})
			case isSchemaFailure(e.Err):
				walk(e.Err, where)
			default:
				out = append(out, Problem{Where: where, Message: e.Reason + ": " + e.Err.Error()})
			}
		case *openapi3.SchemaError:
			ptr := pointer(e.JSONPointer())
			// The JSON Schema 2020-12 validator nests the failures of subschemas under the
			// failure of the schema that holds them: report the leaves.
			var inner openapi3.MultiError
			if e.Origin != nil && errors.As(e.Origin, &inner) {
				walk(inner, ptr)
				return
			}
			out = append(out, Problem{Where: ptr, Message: reason(e)})
		default:
			if next := errors.Unwrap(err); next != nil && isSchemaFailure(next) {
				walk(next, where)
				return
			}
			out = append(out, Problem{Where: where, Message: err.Error()})
		}
	}
	walk(err, "")
	return dedupe(out)
}

// isSchemaFailure reports whether err is (or wraps) schema validation failures.
func isSchemaFailure(err error) bool {
	var se *openapi3.SchemaError
	var multi openapi3.MultiError
	return errors.As(err, &se) || errors.As(err, &multi)
}

// reason is the failure without the schema and value dumps of SchemaError.Error().
func reason(se *openapi3.SchemaError) string {
	r := se.Reason
	if r == "" {
		r = fmt.Sprintf("does not match the schema's %q", se.SchemaField)
	}
	// The 2020-12 validator's reason repeats the location first: `error at "/x": ...`.
	if i := strings.Index(r, `": `); strings.HasPrefix(r, `error at "`) && i > 0 {
		r = r[i+3:]
	}
	// ... and the jsonschema error repeats it again: `at '/x': ...`.
	if strings.HasPrefix(r, "at '") {
		if i := strings.Index(r, "': "); i > 0 {
			r = r[i+3:]
		}
	}
	r = strings.TrimSpace(r)
	if se.SchemaField != "" && !strings.Contains(r, se.SchemaField) {
		r = se.SchemaField + ": " + r
	}
	if v, err := json.Marshal(se.Value); err == nil && len(v) <= 120 {
		r += " (value " + string(v) + ")"
	}
	return r
}

// pointer writes JSON pointer tokens as a pointer ("" for the root).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

func dedupe(ps []Problem) []Problem {
	seen := map[string]bool{}
	out := ps[:0]
	for _, p := range ps {
		k := p.Where + "\x00" + p.Message
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	return out
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return normalize(v), nil
}

// normalize turns json.Number into float64, the form kin-openapi validates.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}
