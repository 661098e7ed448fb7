package web_test

import (
	"errors"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/web"
)

func queryRequest(rawQuery string) *http.Request {
	return httptest.NewRequest(http.MethodGet, "/api/things?"+rawQuery, nil)
}

// validationFields returns the fields of a 422 VALIDATION_ERROR, failing the
// test for any other error.
func validationFields(t *testing.T, err error) map[string]string {
	t.Helper()
	var e *web.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnprocessableEntity || e.Code != web.CodeValidation {
		t.Fatalf("error %v, want a 422 VALIDATION_ERROR", err)
	}
	return e.Fields
}

func TestParsePage(t *testing.T) {
	between := "must be between 1 and 200"
	atLeast := "must be an integer of at least 0"
	notInt := "must be an integer"
	repeated := "must not be repeated"
	tests := []struct {
		query  string
		want   web.Page
		fields map[string]string // nil: success
	}{
		{"", web.Page{Limit: 50, Offset: 0}, nil},
		{"limit=&offset=", web.Page{Limit: 50, Offset: 0}, nil},
		{"limit=1", web.Page{Limit: 1}, nil},
		{"limit=200&offset=0", web.Page{Limit: 200}, nil},
		{"limit=007&offset=10", web.Page{Limit: 7, Offset: 10}, nil},
		{"offset=9223372036854775807", web.Page{Limit: 50, Offset: math.MaxInt}, nil},
		{"other=x&limit=5", web.Page{Limit: 5}, nil},
		{"limit=0", web.Page{}, map[string]string{"limit": between}},
		{"limit=201", web.Page{}, map[string]string{"limit": between}},
		{"limit=-1", web.Page{}, map[string]string{"limit": between}},
		{"limit=1.5", web.Page{}, map[string]string{"limit": notInt}},
		{"limit=abc", web.Page{}, map[string]string{"limit": notInt}},
		{"limit=%2B5", web.Page{}, map[string]string{"limit": notInt}}, // "+5"
		{"limit=1e2", web.Page{}, map[string]string{"limit": notInt}},
		{"limit=0x10", web.Page{}, map[string]string{"limit": notInt}},
		{"limit=%205", web.Page{}, map[string]string{"limit": notInt}}, // " 5"
		{"limit=-", web.Page{}, map[string]string{"limit": notInt}},
		{"limit=1&limit=2", web.Page{}, map[string]string{"limit": repeated}},
		{"limit=&limit=", web.Page{}, map[string]string{"limit": repeated}},
		{"limit=99999999999999999999999", web.Page{}, map[string]string{"limit": between}},
		{"limit=-99999999999999999999999", web.Page{}, map[string]string{"limit": between}},
		{"offset=-1", web.Page{}, map[string]string{"offset": atLeast}},
		{"offset=99999999999999999999999", web.Page{}, map[string]string{"offset": atLeast}},
		{"offset=x&offset=y", web.Page{}, map[string]string{"offset": repeated}},
		{"limit=0&offset=-1", web.Page{}, map[string]string{"limit": between, "offset": atLeast}},
		{"limit=%zz", web.Page{}, map[string]string{"query": "is not a valid query string"}},
		{"limit=5;offset=1", web.Page{}, map[string]string{"query": "is not a valid query string"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := web.ParsePage(queryRequest(tt.query))
			if tt.fields == nil {
				if err != nil || got != tt.want {
					t.Fatalf("ParsePage = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			if fields := validationFields(t, err); !maps.Equal(fields, tt.fields) {
				t.Errorf("fields = %v, want %v", fields, tt.fields)
			}
		})
	}
}

func TestQueryInt(t *testing.T) {
	tests := []struct {
		query string
		want  int
		field string // "" : success; else the message expected for "days"
	}{
		{"", 30, ""},
		{"days=", 30, ""},
		{"days=1", 1, ""},
		{"days=365", 365, ""},
		{"days=0", 0, "must be between 1 and 365"},
		{"days=366", 0, "must be between 1 and 365"},
		{"days=7.0", 0, "must be an integer"},
		{"days=seven", 0, "must be an integer"},
		{"days=1&days=1", 0, "must not be repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := web.QueryInt(queryRequest(tt.query), "days", 30, 1, 365)
			if tt.field == "" {
				if err != nil || got != tt.want {
					t.Fatalf("QueryInt = %d, %v; want %d", got, err, tt.want)
				}
				return
			}
			if fields := validationFields(t, err); fields["days"] != tt.field || len(fields) != 1 {
				t.Errorf("fields = %v, want days: %q", fields, tt.field)
			}
		})
	}
}

func TestQueryString(t *testing.T) {
	tests := []struct {
		query   string
		allowed []string
		want    string
		field   string // "" : success; else the message expected for "format"
	}{
		{"", []string{"json", "csv"}, "json", ""},
		{"format=", []string{"json", "csv"}, "json", ""},
		{"format=csv", []string{"json", "csv"}, "csv", ""},
		{"format=CSV", []string{"json", "csv"}, "", "must be one of json, csv"},
		{"format=xml", []string{"json", "csv"}, "", "must be one of json, csv"},
		{"format=csv&format=csv", []string{"json", "csv"}, "", "must not be repeated"},
		{"format=anything%20goes", nil, "anything goes", ""},
		{"format=a&format=b", nil, "", "must not be repeated"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := web.QueryString(queryRequest(tt.query), "format", "json", tt.allowed...)
			if tt.field == "" {
				if err != nil || got != tt.want {
					t.Fatalf("QueryString = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if fields := validationFields(t, err); fields["format"] != tt.field || len(fields) != 1 {
				t.Errorf("fields = %v, want format: %q", fields, tt.field)
			}
		})
	}
}

// TestQueryCollectsEveryProblem: one 422 names every bad parameter, and a
// handler's own checks join the same answer.
func TestQueryCollectsEveryProblem(t *testing.T) {
	q := web.NewQuery(queryRequest("limit=0&offset=a&format=xml&days=1&days=2"))
	page := q.Page()
	format := q.String("format", "json", "json", "csv")
	days := q.Int("days", 30, 1, 365)
	q.Add("action", "must contain only letters, digits and _")
	q.Add("action", "a second message is ignored")
	if page != (web.Page{Limit: 50, Offset: 0}) || format != "json" || days != 30 {
		t.Errorf("bad values must fall back to defaults, got %+v %q %d", page, format, days)
	}
	if !q.Has("limit") || q.Has("other") {
		t.Errorf("Has: limit %v, other %v", q.Has("limit"), q.Has("other"))
	}
	want := map[string]string{
		"limit":  "must be between 1 and 200",
		"offset": "must be an integer",
		"format": "must be one of json, csv",
		"days":   "must not be repeated",
		"action": "must contain only letters, digits and _",
	}
	if fields := validationFields(t, q.Err()); !maps.Equal(fields, want) {
		t.Errorf("fields = %v, want %v", fields, want)
	}
}

func TestFieldsZeroValue(t *testing.T) {
	var f web.Fields
	if f.Err() != nil || f.Has("x") {
		t.Fatal("an empty Fields must report no error")
	}
	f.Add("x", "is wrong")
	if fields := validationFields(t, f.Err()); fields["x"] != "is wrong" {
		t.Errorf("fields = %v", fields)
	}
}

// TestQueryThroughRouter: a handler returning the Query's error answers the
// envelope's 422 with every field.
func TestQueryThroughRouter(t *testing.T) {
	rt := web.NewRouter(web.RouterOptions{})
	rt.Handle("GET /api/things", func(w http.ResponseWriter, r *http.Request) error {
		page, err := web.ParsePage(r)
		if err != nil {
			return err
		}
		web.WriteJSON(w, http.StatusOK, map[string]int{"limit": page.Limit, "offset": page.Offset})
		return nil
	})
	h := web.Wrap(rt, web.Options{Function: "test", Logger: slog.New(slog.DiscardHandler)})
	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"limit=10&offset=20", 200, `{"limit":10,"offset":20}` + "\n"},
		{"limit=500&offset=-3", 422, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, queryRequest(tt.query))
		if rec.Code != tt.status {
			t.Fatalf("%s: status %d, want %d: %s", tt.query, rec.Code, tt.status, rec.Body)
		}
		if tt.body != "" && rec.Body.String() != tt.body {
			t.Errorf("%s: body %s", tt.query, rec.Body)
		}
		if tt.status == 422 {
			env := decodeEnvelope(t, rec)
			fields, _ := env["fields"].(map[string]any)
			if env["code"] != web.CodeValidation || fields["limit"] == nil || fields["offset"] == nil {
				t.Errorf("envelope %v", env)
			}
		}
	}
}
