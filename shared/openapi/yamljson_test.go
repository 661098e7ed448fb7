package openapi

import (
	"strings"
	"testing"
)

func TestYAMLToJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"order kept", "b: 1\na: 2\nc: 3\n", `{"b":1,"a":2,"c":3}`},
		{"status keys are strings", "'200': x\n404: y\n", `{"200":"x","404":"y"}`},
		{"exact decimals", "m: 0.00000001\nn: 1000000\no: -2.5\n", `{"m":0.00000001,"n":1000000,"o":-2.5}`},
		{"non-JSON numbers", "a: 0x1F\nb: .5\nc: 1_000\n", `{"a":31,"b":0.5,"c":1000}`},
		{"scalars", "s: text\nq: '1.0'\nt: true\nn: null\ne: ~\nd: 2026-11-28\n", `{"s":"text","q":"1.0","t":true,"n":null,"e":null,"d":"2026-11-28"}`},
		{"sequences", "l: [a, 1, {k: v}]\n", `{"l":["a",1,{"k":"v"}]}`},
		{"aliases", "a: &x {k: [1]}\nb: *x\n", `{"a":{"k":[1]},"b":{"k":[1]}}`},
		{"escapes", "p: '^\\d+$'\nu: \"<\\u00e9>\"\n", `{"p":"^\\d+$","u":"\u003cé\u003e"}`},
		{"block text", "d: |\n  line one\n  line two\n", `{"d":"line one\nline two\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := YAMLToJSON([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestYAMLToJSONRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"merge key":       "a: &x {k: 1}\nb:\n  <<: *x\n",
		"duplicate key":   "a: 1\na: 2\n",
		"NaN":             "a: .nan\n",
		"infinity":        "a: -.inf\n",
		"complex key":     "? [a, b]\n: c\n",
		"two documents":   "a: 1\n---\nb: 2\n",
		"not YAML":        "a: [1, 2\n",
		"empty":           "",
		"custom tag":      "a: !Ref X\n",
		"deeply repeated": strings.Repeat("- ", 300) + "x\n",
	} {
		if got, err := YAMLToJSON([]byte(in)); err == nil {
			t.Errorf("%s: accepted as %s", name, got)
		}
	}
}
