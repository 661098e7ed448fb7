package money

import (
	"encoding/json"
	"testing"
)

// FuzzParseQuantity: parsing never panics; every accepted value is in range and formats to text
// that parses back to the same value (and that text is canonical: formatting it again is stable);
// the JSON forms agree with the plain parser.
func FuzzParseQuantity(f *testing.F) {
	for _, s := range []string{"0.5", "1", "0", "0.00000001", "1000000000", "0.123456789", "-1", "1e400",
		"NaN", "", " 1", "1.", ".5", "01", "99999999999999999999", "0.500000000", "\"0.5\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuantity(s)
		if err != nil {
			if FieldError(err) == "" {
				t.Fatalf("empty field message for %q", s)
			}
			return
		}
		if q < 0 || q > MaxQuantity {
			t.Fatalf("ParseQuantity(%q) = %d: out of range", s, q)
		}
		text := q.String()
		back, err := ParseQuantity(text)
		if err != nil || back != q {
			t.Fatalf("ParseQuantity(%q) = %d, formats as %q, parses back as %d, %v", s, q, text, back, err)
		}
		if back.String() != text {
			t.Fatalf("format not canonical: %q → %q", text, back.String())
		}
		// Quoted, the same text must give the same value; unquoted too (it is a JSON number).
		var fromString, fromNumber Quantity
		quoted, _ := json.Marshal(s)
		if err := json.Unmarshal(quoted, &fromString); err != nil || fromString != q {
			t.Fatalf("JSON string %s = %d, %v; want %d", quoted, fromString, err, q)
		}
		if err := json.Unmarshal([]byte(s), &fromNumber); err != nil || fromNumber != q {
			t.Fatalf("JSON number %s = %d, %v; want %d", s, fromNumber, err, q)
		}
	})
}
