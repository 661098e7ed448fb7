package web_test

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/web"
)

// decimalInt is the integer spelling api.md documents for query parameters.
var decimalInt = regexp.MustCompile(`^-?[0-9]+$`)

// FuzzParsePage: limit and offset of any query string (the list routes' decoder) never panic;
// they are accepted only as api.md says — each at most once, a plain decimal integer, limit
// 1–200 and offset ≥ 0, or empty for the default — and otherwise refused with a 422 naming the
// parameter, never clamped.
func FuzzParsePage(f *testing.F) {
	for _, s := range []string{"", "limit=10&offset=20", "limit=", "limit=0", "limit=201", "limit=200", "limit=-1", "offset=-1",
		"limit=1.5", "limit=1e2", "limit=+5", "limit=%205", "limit=10&limit=10", "offset=9223372036854775807",
		"offset=9223372036854775808", "limit=%00", "limit=５", "limit[$gt]=0", "limit=1;offset=2", "%zz", "limit=0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := web.ParsePage(&http.Request{URL: &url.URL{RawQuery: raw}})
		values, perr := url.ParseQuery(raw)
		var e *web.Error
		if err != nil {
			if !errors.As(err, &e) || e.Status != 422 || e.Code != "VALIDATION_ERROR" || len(e.Fields) == 0 {
				t.Fatalf("%q: %v is not a 422 VALIDATION_ERROR with fields", raw, err)
			}
			return
		}
		if perr != nil {
			t.Fatalf("%q: an unparseable query string was accepted", raw)
		}
		check := func(name string, got, def, min, max int) {
			vs := values[name]
			switch {
			case len(vs) > 1:
				t.Fatalf("%q: repeated %s accepted", raw, name)
			case len(vs) == 0 || vs[0] == "":
				if got != def {
					t.Fatalf("%q: %s %d, want the default %d", raw, name, got, def)
				}
			default:
				n, err := strconv.Atoi(vs[0])
				if !decimalInt.MatchString(vs[0]) || err != nil || n != got || n < min || n > max {
					t.Fatalf("%q: %s %q accepted as %d", raw, name, vs[0], got)
				}
			}
		}
		check("limit", p.Limit, web.DefaultLimit, 1, web.MaxLimit)
		check("offset", p.Offset, 0, 0, int(^uint(0)>>1))
	})
}
