package audit

import (
	"encoding/json"
	"math"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestJSONValueNonFinite: NaN and infinities (valid BSON doubles, which MongoDB stores but the
// local engine refuses) become null, since encoding/json cannot encode them and one would turn
// the whole response into a 500.
func TestJSONValueNonFinite(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		raw, err := bson.Marshal(bson.D{{Key: "v", Value: f}, {Key: "ok", Value: 2.5}})
		if err != nil {
			t.Fatal(err)
		}
		m := detailsObject(bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: raw})
		b, err := json.Marshal(m)
		if err != nil || string(b) != `{"ok":2.5,"v":null}` {
			t.Errorf("%v: %s, %v", f, b, err)
		}
	}
}

// TestEscapedLen: the export budget's estimate of the Lambda runtime's escaping is never below
// the real size (encoding/json, as the runtime encodes the proxy response), and exact for
// ordinary text.
func TestEscapedLen(t *testing.T) {
	tests := []struct {
		in    string
		exact bool
	}{
		{"", true},
		{"plain ascii id,action,resource", true},
		{`{"json":"with \"quotes\" and \\ backslash"}`, true},
		{"line\nbreak\rreturn\ttab", true},
		{"<script>&amp;</script>", true},
		{"\x00\x01\x1f control", true},
		{"é ü 日本 🙂", true},
		{"\u2028\u2029 separators", true},
		{"bad \xff\xfe bytes", true}, // encoding/json writes one \ufffd per invalid byte
		{"\b\f", false},              // counted as \u escapes; recent encoding/json writes \b and \f
	}
	for _, tt := range tests {
		enc, err := json.Marshal(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		want := len(enc) - 2 // without the surrounding quotes
		got := escapedLen([]byte(tt.in))
		if got < want || (tt.exact && got != want) {
			t.Errorf("escapedLen(%q) = %d, encoding/json writes %d", tt.in, got, want)
		}
	}
}
