package samtemplate_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/samtemplate"
)

// documentedThrottles are the per-route limits of api.md ("Throttling"), at the template's
// parameter defaults. A route listed here with required unset may be missing from the template
// (it joins with its function); when present it must have these limits.
var documentedThrottles = []struct {
	route    samtemplate.Route
	want     samtemplate.Throttle
	required bool
}{
	{samtemplate.Route{Method: "POST", Path: "/api/auth/login"}, samtemplate.Throttle{Rate: 10, Burst: 20}, true},
	{samtemplate.Route{Method: "POST", Path: "/api/auth/signup"}, samtemplate.Throttle{Rate: 10, Burst: 20}, true},
	{samtemplate.Route{Method: "POST", Path: "/api/auth/verify-email"}, samtemplate.Throttle{Rate: 10, Burst: 20}, true},
	{samtemplate.Route{Method: "POST", Path: "/api/auth/resend-verification"}, samtemplate.Throttle{Rate: 10, Burst: 20}, true},
	{samtemplate.Route{Method: "POST", Path: "/api/orders"}, samtemplate.Throttle{Rate: 50, Burst: 100}, false},
}

var stageDefault = samtemplate.Throttle{Rate: 100, Burst: 200}

func TestThrottlesRealTemplate(t *testing.T) {
	tpl := loadTemplate(t)
	table, err := tpl.Throttles()
	if err != nil {
		t.Fatalf("Throttles: %v", err)
	}
	if table.Default == nil || *table.Default != stageDefault {
		t.Fatalf("stage default = %+v, want %+v", table.Default, stageDefault)
	}

	documented := map[samtemplate.Route]bool{}
	for _, d := range documentedThrottles {
		documented[d.route] = true
		t.Run(d.route.String(), func(t *testing.T) {
			got, own := table.Routes[d.route]
			switch {
			case !own && d.required:
				t.Fatalf("no MethodSettings entry; want %+v", d.want)
			case own && got != d.want:
				t.Errorf("throttle %+v, want %+v", got, d.want)
			}
			if th, ok := table.For(d.route); !ok || (own && th != d.want) || (!own && th != stageDefault) {
				t.Errorf("For = %+v, %v", th, ok)
			}
		})
	}

	// Every override is documented and names a route of the template (a typo in a ResourcePath
	// would silently leave the route on the stage default, locally and in AWS).
	routes := tpl.Routes()
	for _, r := range table.Overrides() {
		if !documented[r] {
			t.Errorf("%s has its own throttle %+v, which api.md does not document", r, table.Routes[r])
		}
		if _, ok := routes[r]; !ok {
			t.Errorf("MethodSettings entry %s names no route of the template", r)
		}
	}

	// Everything else is on the stage default: in particular /refresh (every anonymous page
	// load calls it) and the preflights of the throttled routes (OPTIONS is its own method).
	for _, r := range []samtemplate.Route{
		{Method: "POST", Path: "/api/auth/refresh"},
		{Method: "OPTIONS", Path: "/api/auth/login"},
		{Method: "GET", Path: "/api/crypto/{symbol}"},
		{Method: "GET", Path: "/health"},
	} {
		if th, ok := table.For(r); !ok || th != stageDefault {
			t.Errorf("For(%s) = %+v, %v; want the stage default %+v", r, th, ok, stageDefault)
		}
	}
}

// throttleTemplate is a minimal template whose API has the given parameters and MethodSettings.
func throttleTemplate(params, settings string) string {
	return `
Parameters:
  Rate:
    Type: Number
    Default: 7
  Burst:
    Type: Number
    Default: 14
` + params + `
Resources:
  CryptoVaultApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
` + settings
}

func TestThrottlesInline(t *testing.T) {
	tests := []struct {
		name, params, settings string
		want                   samtemplate.ThrottleTable
		err                    string // substring of the error; "" for success
	}{
		{
			name: "no MethodSettings",
			want: samtemplate.ThrottleTable{Routes: map[samtemplate.Route]samtemplate.Throttle{}},
		},
		{
			name: "literals and refs, slashes decoded",
			settings: `      MethodSettings:
        - ResourcePath: "/*"
          HttpMethod: "*"
          ThrottlingRateLimit: !Ref Rate
          ThrottlingBurstLimit: !Ref Burst
        - ResourcePath: /~1api~1crypto~1{symbol}
          HttpMethod: get
          ThrottlingRateLimit: 0.5
          ThrottlingBurstLimit: "3"
        - ResourcePath: /~1
          HttpMethod: GET
          ThrottlingRateLimit: 1
          ThrottlingBurstLimit: 2
        - ResourcePath: /~1api~1a~0b
          HttpMethod: DELETE
          ThrottlingBurstLimit: 5
        - ResourcePath: /~1api~1logs-only
          HttpMethod: POST
          LoggingLevel: ERROR
`,
			want: samtemplate.ThrottleTable{
				Default: &samtemplate.Throttle{Rate: 7, Burst: 14},
				Routes: map[samtemplate.Route]samtemplate.Throttle{
					{Method: "GET", Path: "/api/crypto/{symbol}"}: {Rate: 0.5, Burst: 3},
					{Method: "GET", Path: "/"}:                    {Rate: 1, Burst: 2},
					// only the burst set: the rate comes from the stage default
					{Method: "DELETE", Path: "/api/a~b"}: {Rate: 7, Burst: 5},
				},
			},
		},
		{
			name: "no stage default",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: 1
          ThrottlingBurstLimit: 1
`,
			want: samtemplate.ThrottleTable{Routes: map[samtemplate.Route]samtemplate.Throttle{
				{Method: "POST", Path: "/api/x"}: {Rate: 1, Burst: 1},
			}},
		},
		{
			name:   "parameter without a default",
			params: "  NoDefault:\n    Type: Number\n",
			settings: `      MethodSettings:
        - ResourcePath: "/*"
          HttpMethod: "*"
          ThrottlingRateLimit: !Ref NoDefault
          ThrottlingBurstLimit: 1
`,
			err: "!Ref NoDefault: the parameter has no Default",
		},
		{
			name: "unknown parameter",
			settings: `      MethodSettings:
        - ResourcePath: "/*"
          HttpMethod: "*"
          ThrottlingRateLimit: 1
          ThrottlingBurstLimit: !Ref Nope
`,
			err: "!Ref Nope: no such parameter",
		},
		{
			name:   "non-numeric default",
			params: "  Word:\n    Type: String\n    Default: lots\n",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: !Ref Word
          ThrottlingBurstLimit: 1
`,
			err: `"lots" is not a number`,
		},
		{
			name: "non-numeric literal",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: fast
          ThrottlingBurstLimit: 1
`,
			err: `"fast" is not a number`,
		},
		{
			name: "fractional burst",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: 1
          ThrottlingBurstLimit: 2.5
`,
			err: "not an integer",
		},
		{
			name: "negative",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: -1
          ThrottlingBurstLimit: 1
`,
			err: "negative",
		},
		{
			name: "other intrinsic",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: !If [IsProd, 1, 2]
          ThrottlingBurstLimit: 1
`,
			err: "only a number or !Ref",
		},
		{
			name: "unescaped slashes",
			settings: `      MethodSettings:
        - ResourcePath: /api/x
          HttpMethod: POST
          ThrottlingRateLimit: 1
          ThrottlingBurstLimit: 1
`,
			err: "as ~1",
		},
		{
			name: "no leading slash",
			settings: `      MethodSettings:
        - ResourcePath: ~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: 1
          ThrottlingBurstLimit: 1
`,
			err: `must start with "/"`,
		},
		{
			name: "partial wildcard",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: "*"
          ThrottlingRateLimit: 1
          ThrottlingBurstLimit: 1
`,
			err: "wildcard",
		},
		{
			name: "duplicate entry",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: 1
          ThrottlingBurstLimit: 1
        - ResourcePath: /~1api~1x
          HttpMethod: post
          ThrottlingRateLimit: 2
          ThrottlingBurstLimit: 2
`,
			err: "a second entry for POST /api/x",
		},
		{
			name: "one limit, no default",
			settings: `      MethodSettings:
        - ResourcePath: /~1api~1x
          HttpMethod: POST
          ThrottlingRateLimit: 1
`,
			err: "sets only one limit",
		},
		{
			name:     "not a list",
			settings: "      MethodSettings: !Ref Rate\n",
			err:      "want a list",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := samtemplate.Parse([]byte(throttleTemplate(tt.params, tt.settings)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := tpl.Throttles()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Throttles: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Throttles =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestThrottlesNoAPI(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte("Resources:\n  Other:\n    Type: AWS::SNS::Topic\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.Throttles(); err == nil || !strings.Contains(err.Error(), "no resource CryptoVaultApi") {
		t.Errorf("err = %v", err)
	}
}

func TestThrottleTableFor(t *testing.T) {
	login := samtemplate.Route{Method: "POST", Path: "/api/auth/login"}
	other := samtemplate.Route{Method: "GET", Path: "/api/auth/login"}
	table := samtemplate.ThrottleTable{Routes: map[samtemplate.Route]samtemplate.Throttle{login: {Rate: 1, Burst: 2}}}
	if th, ok := table.For(login); !ok || th != (samtemplate.Throttle{Rate: 1, Burst: 2}) {
		t.Errorf("For(login) = %+v, %v", th, ok)
	}
	if _, ok := table.For(other); ok {
		t.Error("For(other) without a stage default reports a limit")
	}
	table.Default = &samtemplate.Throttle{Rate: 3, Burst: 4}
	if th, ok := table.For(other); !ok || th != *table.Default {
		t.Errorf("For(other) = %+v, %v; want the default", th, ok)
	}
}
