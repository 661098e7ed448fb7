package web_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/platform/web"
)

type decodeTarget struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Small  uint8             `json:"small"`
	Price  float64           `json:"price"`
	OK     bool              `json:"ok"`
	Tags   []string          `json:"tags"`
	Meta   map[string]string `json:"meta"`
	Ptr    *int              `json:"ptr"`
	Raw    []byte            `json:"raw"`
	Nested struct {
		Inner string `json:"inner"`
	} `json:"nested"`
}

func decodeString(body string, dst any) error {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	return web.DecodeJSON(r, dst)
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int               // 0 = success
		fields map[string]string // expected fields for 422
		check  func(*decodeTarget) bool
	}{
		{name: "object", body: `{"name":"a","count":2,"price":1.5,"tags":["x"]}`,
			check: func(d *decodeTarget) bool { return d.Name == "a" && d.Count == 2 && d.Price == 1.5 }},
		{name: "empty leaves dst untouched", body: "",
			check: func(d *decodeTarget) bool { return d.Name == "keep" }},
		{name: "whitespace only", body: " \r\n\t ", check: func(d *decodeTarget) bool { return d.Name == "keep" }},
		{name: "unknown fields ignored", body: `{"other":{"deep":[1]},"name":"b"}`, check: func(d *decodeTarget) bool { return d.Name == "b" }},
		{name: "surrounding whitespace", body: "\n {\"name\":\"c\"} \n", check: func(d *decodeTarget) bool { return d.Name == "c" }},
		{name: "syntax error", body: `{"name":}`, status: 400},
		{name: "truncated", body: `{"name":"a"`, status: 400},
		{name: "trailing value", body: `{} {}`, status: 400},
		{name: "trailing garbage", body: `{}x`, status: 400},
		{name: "invalid UTF-8", body: "{\"name\":\"\xc3\x28\"}", status: 400},
		{name: "invalid UTF-8 in key", body: "{\"\xff\":1}", status: 400},
		{name: "non-JSON whitespace", body: "\v", status: 400},
		{name: "array", body: `[]`, status: 422, fields: map[string]string{"body": "must be a JSON object"}},
		{name: "number", body: `1`, status: 422, fields: map[string]string{"body": "must be a JSON object"}},
		{name: "string", body: `"x"`, status: 422, fields: map[string]string{"body": "must be a JSON object"}},
		{name: "null", body: `null`, status: 422, fields: map[string]string{"body": "must be a JSON object"}},
		{name: "string for int", body: `{"count":"2"}`, status: 422, fields: map[string]string{"count": "must be an integer"}},
		{name: "float for int", body: `{"count":1.5}`, status: 422, fields: map[string]string{"count": "must be an integer"}},
		{name: "int out of range", body: `{"small":300}`, status: 422, fields: map[string]string{"small": "is out of range"}},
		{name: "float out of range", body: `{"price":1e400}`, status: 422, fields: map[string]string{"price": "is out of range"}},
		{name: "number for string", body: `{"name":1}`, status: 422, fields: map[string]string{"name": "must be a string"}},
		{name: "string for bool", body: `{"ok":"true"}`, status: 422, fields: map[string]string{"ok": "must be a boolean"}},
		{name: "object for array", body: `{"tags":{}}`, status: 422, fields: map[string]string{"tags": "must be an array"}},
		{name: "wrong element", body: `{"tags":[1]}`, status: 422, fields: map[string]string{"tags": "must be a string"}},
		{name: "array for object", body: `{"meta":[]}`, status: 422, fields: map[string]string{"meta": "must be an object"}},
		{name: "nested field path", body: `{"nested":{"inner":true}}`, status: 422, fields: map[string]string{"nested.inner": "must be a string"}},
		{name: "pointer field", body: `{"ptr":"x"}`, status: 422, fields: map[string]string{"ptr": "must be an integer"}},
		{name: "bytes field", body: `{"raw":5}`, status: 422, fields: map[string]string{"raw": "must be a base64 string"}},
		{name: "at limit ok", body: `{"name":"` + strings.Repeat("a", web.MaxBodyBytes-11) + `"}`,
			check: func(d *decodeTarget) bool { return len(d.Name) == web.MaxBodyBytes-11 }},
		{name: "over limit", body: `{"name":"` + strings.Repeat("a", web.MaxBodyBytes-10) + `"}`, status: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := decodeTarget{Name: "keep"}
			err := decodeString(tc.body, &dst)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if tc.check != nil && !tc.check(&dst) {
					t.Errorf("decoded %+v", dst)
				}
				return
			}
			var e *web.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not *web.Error", err)
			}
			if e.Status != tc.status {
				t.Errorf("status = %d, want %d (%v)", e.Status, tc.status, e)
			}
			if tc.fields != nil {
				if len(e.Fields) != len(tc.fields) {
					t.Errorf("fields = %v, want %v", e.Fields, tc.fields)
				}
				for k, v := range tc.fields {
					if e.Fields[k] != v {
						t.Errorf("fields[%q] = %q, want %q", k, e.Fields[k], v)
					}
				}
			}
			// 4xx messages never quote the input.
			if strings.Contains(e.Message, "1e400") || strings.Contains(e.Message, "300") {
				t.Errorf("message quotes input: %q", e.Message)
			}
		})
	}
}

func TestDecodeJSONTargets(t *testing.T) {
	// Non-object targets accept any JSON value.
	var anyV any
	if err := decodeString(`[1,"a"]`, &anyV); err != nil {
		t.Errorf("into *any: %v", err)
	}
	var list []int
	if err := decodeString(`[1,2]`, &list); err != nil || len(list) != 2 {
		t.Errorf("into *[]int: %v %v", err, list)
	}
	var e *web.Error
	if err := decodeString(`{}`, &list); !errors.As(err, &e) || e.Fields["body"] != "must be an array" {
		t.Errorf("object into *[]int: %v", err)
	}
	m := map[string]int{}
	if err := decodeString(`{"a":"x"}`, &m); !errors.As(err, &e) || e.Status != 422 {
		t.Errorf("wrong map value: %v", err)
	}
	var pp *decodeTarget
	if err := decodeString(`[]`, &pp); !errors.As(err, &e) || e.Status != 422 {
		t.Errorf("array into **struct: %v", err)
	}
	// A non-pointer dst is a programming error: 500, not blamed on the client.
	if err := decodeString(`{}`, decodeTarget{}); !errors.As(err, &e) || e.Status != 500 {
		t.Errorf("non-pointer dst: %v", err)
	}
	// A request without a body is empty.
	if err := web.DecodeJSON(&http.Request{}, &anyV); err != nil {
		t.Errorf("nil body: %v", err)
	}
	// A read failure is a 400.
	r := httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader("{"), errReader{}))
	if err := web.DecodeJSON(r, &anyV); !errors.As(err, &e) || e.Status != 400 {
		t.Errorf("read error: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// FuzzDecodeJSON: whatever the body, DecodeJSON does not panic and fails
// only with a client error (*web.Error, 4xx).
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		``, ` `, `{}`, `[]`, `null`, `1`, `"x"`, `{"name":"a","count":1,"tags":["a"],"meta":{"k":"v"}}`,
		`{"count":"x"}`, `{"small":256}`, `{"price":1e999}`, `{"nested":{"inner":[]}}`, `{"raw":"!!"}`,
		"{\"name\":\"\xff\"}", `{"a":1}{`, `{"ptr":null}`, `{"name":"\ud800"}`, `[[[[[[[[[[[[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, dst := range []any{&decodeTarget{}, &map[string]any{}, new(any)} {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
			err := web.DecodeJSON(r, dst)
			if err == nil {
				continue
			}
			var e *web.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *web.Error", err, err)
			}
			if e.Status < 400 || e.Status > 499 || e.Code == "" || e.Message == "" {
				t.Fatalf("bad error %+v for %q", e, body)
			}
		}
	})
}
