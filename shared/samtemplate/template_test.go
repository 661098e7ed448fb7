package samtemplate_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/samtemplate"
)

// The repository's template, the one that is deployed.
const templatePath = "../../template.yaml"

const apiID = "CryptoVaultApi"

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(templatePath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return tpl
}

// dig walks nested mappings; nil when a key is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }
func sub(s string) map[string]any    { return map[string]any{"Fn::Sub": s} }

func TestHealthFunctionFromTemplate(t *testing.T) {
	tpl := loadTemplate(t)
	var health *samtemplate.Function
	fns := tpl.Functions()
	for i := range fns {
		if fns[i].LogicalID == "HealthFunction" {
			health = &fns[i]
		}
	}
	if health == nil {
		t.Fatal("no HealthFunction")
	}
	wantRoutes := []samtemplate.Route{
		{Method: "GET", Path: "/api"},
		{Method: "OPTIONS", Path: "/api"},
		{Method: "GET", Path: "/api/health"},
		{Method: "OPTIONS", Path: "/api/health"},
		{Method: "GET", Path: "/api/status"},
		{Method: "OPTIONS", Path: "/api/status"},
		{Method: "POST", Path: "/api/status"},
		{Method: "GET", Path: "/health"},
		{Method: "OPTIONS", Path: "/health"},
	}
	if !reflect.DeepEqual(health.Routes, wantRoutes) {
		t.Errorf("routes:\n got %v\nwant %v", health.Routes, wantRoutes)
	}
	if want := []string{"rate(1 minute)"}; !reflect.DeepEqual(health.Schedules, want) {
		t.Errorf("schedules = %v, want %v", health.Schedules, want)
	}
	if health.CodeURI != "." || health.BuildMethod != "makefile" {
		t.Errorf("CodeURI %q, BuildMethod %q; want \".\", \"makefile\"", health.CodeURI, health.BuildMethod)
	}
	// Least privilege: exactly the two secrets.
	stmts := policyStatements(t, health.Properties)
	var secretResources []any
	for _, s := range stmts {
		if actionsOf(s["Action"]) != nil && slices.Contains(actionsOf(s["Action"]), "secretsmanager:GetSecretValue") {
			secretResources = append(secretResources, asList(s["Resource"])...)
		}
	}
	want := []any{ref("MongoDbSecretArn"), ref("JwtSigningKey")}
	if !reflect.DeepEqual(secretResources, want) {
		t.Errorf("GetSecretValue resources = %v, want %v", secretResources, want)
	}
	if got := dig(health.Properties, "MemorySize"); got != 256 {
		t.Errorf("MemorySize = %v, want 256", got)
	}
}

// Every function is built and run the same way (directly or via Globals).
func TestFunctionsShape(t *testing.T) {
	tpl := loadTemplate(t)
	fns := tpl.Functions()
	if len(fns) == 0 {
		t.Fatal("no functions")
	}
	for _, f := range fns {
		t.Run(f.LogicalID, func(t *testing.T) {
			p := f.Properties
			for key, want := range map[string]any{
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
				"CodeUri":       ".",
				"Tracing":       "Active",
			} {
				if !reflect.DeepEqual(p[key], want) {
					t.Errorf("%s = %#v, want %#v", key, p[key], want)
				}
			}
			if f.BuildMethod != "makefile" {
				t.Errorf("Metadata.BuildMethod = %q, want makefile", f.BuildMethod)
			}
			if rc, ok := p["ReservedConcurrentExecutions"].(int); !ok || rc < 1 || rc > 50 {
				t.Errorf("ReservedConcurrentExecutions = %#v, want a small positive number (it caps Mongo connections)", p["ReservedConcurrentExecutions"])
			}
			// A literal Timeout (the duration alarm's threshold is 80 % of it) and MemorySize.
			if to, ok := p["Timeout"].(int); !ok || to < 1 || to > 900 {
				t.Errorf("Timeout = %#v, want 1..900 seconds", p["Timeout"])
			}
			if mem, ok := p["MemorySize"].(int); !ok || mem < 128 || mem > 10240 {
				t.Errorf("MemorySize = %#v, want 128..10240 MB", p["MemorySize"])
			}
			if len(f.Routes) > 0 {
				// API Gateway's integration timeout is 29 s.
				if to, ok := p["Timeout"].(int); !ok || to >= 29 {
					t.Errorf("Timeout = %#v, want < 29 s for a function behind API Gateway", p["Timeout"])
				}
			}
			if got := dig(p, "LoggingConfig", "LogFormat"); got != "JSON" {
				t.Errorf("LoggingConfig.LogFormat = %#v, want JSON", got)
			}
			if got := dig(p, "LoggingConfig", "ApplicationLogLevel"); !reflect.DeepEqual(got, ref("LogLevel")) {
				t.Errorf("LoggingConfig.ApplicationLogLevel = %#v, want !Ref LogLevel", got)
			}

			// Its own log group, with retention, named after the fixed FunctionName.
			lg := dig(p, "LoggingConfig", "LogGroup")
			lgRef, _ := dig(lg, "Ref").(string)
			group, ok := tpl.Resources[lgRef]
			if !ok || group.Type != "AWS::Logs::LogGroup" {
				t.Fatalf("LoggingConfig.LogGroup = %#v, want !Ref of an AWS::Logs::LogGroup", lg)
			}
			if group.Properties["RetentionInDays"] == nil {
				t.Errorf("log group %s has no RetentionInDays", lgRef)
			}
			name, _ := dig(p, "FunctionName", "Fn::Sub").(string)
			groupName, _ := dig(group.Properties, "LogGroupName", "Fn::Sub").(string)
			if name == "" || groupName != "/aws/lambda/"+name {
				t.Errorf("FunctionName %#v and LogGroupName %#v: want !Sub X and !Sub /aws/lambda/X",
					p["FunctionName"], group.Properties["LogGroupName"])
			}
			if !strings.HasPrefix(name, "${AWS::StackName}-") {
				t.Errorf("FunctionName %q: want ${AWS::StackName}-<name> (one stack per environment)", name)
			}
		})
	}
}

func TestEveryLogGroupHasRetention(t *testing.T) {
	tpl := loadTemplate(t)
	for _, id := range tpl.ResourcesOfType("AWS::Logs::LogGroup") {
		got := tpl.Resources[id].Properties["RetentionInDays"]
		if !reflect.DeepEqual(got, ref("LogRetentionDays")) {
			t.Errorf("%s: RetentionInDays = %#v, want !Ref LogRetentionDays", id, got)
		}
	}
}

func TestRoutes(t *testing.T) {
	tpl := loadTemplate(t)
	owner := map[samtemplate.Route]string{}
	mux := http.NewServeMux()
	segment := regexp.MustCompile(`^([A-Za-z0-9._-]+|\{[A-Za-z][A-Za-z0-9_]*\+?\})$`)
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "ANY"}

	for _, f := range tpl.Functions() {
		byPath := map[string][]string{}
		for _, r := range f.Routes {
			if prev, dup := owner[r]; dup {
				t.Errorf("%v is served by both %s and %s", r, prev, f.LogicalID)
			}
			owner[r] = f.LogicalID
			byPath[r.Path] = append(byPath[r.Path], r.Method)

			if !slices.Contains(methods, r.Method) {
				t.Errorf("%s: %v: unknown method", f.LogicalID, r)
			}
			// API Gateway resource paths: a leading slash, no trailing slash, no empty segment.
			if !strings.HasPrefix(r.Path, "/") || (r.Path != "/" && strings.HasSuffix(r.Path, "/")) {
				t.Errorf("%s: %v: want a path with a leading and no trailing slash", f.LogicalID, r)
			}
			for _, s := range strings.Split(strings.TrimPrefix(r.Path, "/"), "/") {
				if r.Path != "/" && !segment.MatchString(s) {
					t.Errorf("%s: %v: bad segment %q", f.LogicalID, r, s)
				}
			}
			// Every pattern is valid, and none conflicts with another.
			for _, p := range r.Patterns() {
				func() {
					defer func() {
						if e := recover(); e != nil {
							t.Errorf("%s: %v: ServeMux rejects %q: %v", f.LogicalID, r, p, e)
						}
					}()
					mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
				}()
			}
		}
		// CORS preflight goes to the function that serves the path.
		for path, ms := range byPath {
			hasOther := slices.ContainsFunc(ms, func(m string) bool { return m != "OPTIONS" })
			if hasOther && !slices.Contains(ms, "OPTIONS") {
				t.Errorf("%s: %s has %v but no OPTIONS route", f.LogicalID, path, ms)
			}
		}
	}

	// Every Api event is attached to the explicit API: an event without RestApiId
	// would make SAM create a second, implicit API with none of its settings.
	for _, id := range tpl.ResourcesOfType(samtemplate.TypeFunction) {
		events, _ := tpl.Resources[id].Properties["Events"].(map[string]any)
		for name, ev := range events {
			if dig(ev, "Type") != "Api" {
				continue
			}
			if got := dig(ev, "Properties", "RestApiId"); !reflect.DeepEqual(got, ref(apiID)) {
				t.Errorf("%s: event %s: RestApiId = %#v, want !Ref %s", id, name, got, apiID)
			}
		}
	}
	if len(tpl.ResourcesOfType(samtemplate.TypeAPI)) != 1 {
		t.Errorf("APIs = %v, want exactly %s", tpl.ResourcesOfType(samtemplate.TypeAPI), apiID)
	}
}

func TestAPIStage(t *testing.T) {
	tpl := loadTemplate(t)
	api, ok := tpl.Resources[apiID]
	if !ok || api.Type != samtemplate.TypeAPI {
		t.Fatalf("no %s of type %s", apiID, samtemplate.TypeAPI)
	}
	p := api.Properties
	if !reflect.DeepEqual(p["StageName"], ref("Environment")) {
		t.Errorf("StageName = %#v, want !Ref Environment", p["StageName"])
	}
	env, _ := tpl.Parameter("Environment")
	if !reflect.DeepEqual(env.AllowedValues, []string{"dev", "prod"}) {
		t.Errorf("Environment.AllowedValues = %v, want [dev prod]", env.AllowedValues)
	}
	if p["TracingEnabled"] != true {
		t.Errorf("TracingEnabled = %#v, want true", p["TracingEnabled"])
	}
	if _, has := p["Cors"]; has {
		t.Error("Cors is set: preflights must reach the functions (allowlist), not API Gateway's mock")
	}

	// Stage default throttle from the parameters, defaults 100/200.
	var stageDefault map[string]any
	settings, _ := p["MethodSettings"].([]any)
	for _, s := range settings {
		if dig(s, "ResourcePath") == "/*" && dig(s, "HttpMethod") == "*" {
			stageDefault, _ = s.(map[string]any)
		}
	}
	if stageDefault == nil {
		t.Fatal(`no MethodSettings entry for ResourcePath "/*", HttpMethod "*"`)
	}
	for key, param := range map[string]string{"ThrottlingRateLimit": "StageRateLimit", "ThrottlingBurstLimit": "StageBurstLimit"} {
		if !reflect.DeepEqual(stageDefault[key], ref(param)) {
			t.Errorf("stage default %s = %#v, want !Ref %s", key, stageDefault[key], param)
		}
	}
	if stageDefault["MetricsEnabled"] != true {
		t.Error("stage default MetricsEnabled is not true")
	}
	if stageDefault["DataTraceEnabled"] == true {
		t.Error("DataTraceEnabled would log request bodies (passwords, tokens)")
	}
	for param, want := range map[string]string{"StageRateLimit": "100", "StageBurstLimit": "200"} {
		got, _ := tpl.Parameter(param)
		if got.Default != want {
			t.Errorf("%s default = %q, want %q", param, got.Default, want)
		}
	}

	// Access log: JSON with the fields the runbooks query, into a log group with retention.
	dest := dig(p, "AccessLogSetting", "DestinationArn")
	lg, _ := dig(dest, "Fn::GetAtt").([]any)
	if len(lg) != 2 || lg[1] != "Arn" || tpl.Resources[lg[0].(string)].Type != "AWS::Logs::LogGroup" {
		t.Errorf("AccessLogSetting.DestinationArn = %#v, want !GetAtt <LogGroup>.Arn", dest)
	}
	format, _ := dig(p, "AccessLogSetting", "Format").(string)
	var entry map[string]any
	if err := json.Unmarshal([]byte(renderContext(format)), &entry); err != nil {
		t.Fatalf("access log format is not JSON once rendered: %v\n%s", err, format)
	}
	for _, k := range []string{"requestId", "ip", "method", "resourcePath", "status", "latency",
		"integrationLatency", "responseLength", "errorMessage"} {
		if _, ok := entry[k]; !ok {
			t.Errorf("access log has no %q", k)
		}
	}
}

// renderContext replaces API Gateway $context variables with sample values the
// way API Gateway would: messageString comes quoted, the others do not.
func renderContext(s string) string {
	s = strings.ReplaceAll(s, "$context.error.messageString", `"Sample \"quoted\" message"`)
	return regexp.MustCompile(`\$context\.[A-Za-z.]+`).ReplaceAllString(s, "req-1")
}

func TestGatewayResponses(t *testing.T) {
	tpl := loadTemplate(t)
	responses, _ := dig(tpl.Resources[apiID].Properties, "GatewayResponses").(map[string]any)
	tests := []struct {
		typ        string
		statusCode any // nil: keep API Gateway's status
		code       string
		headers    []string // beyond the CORS ones
	}{
		{"DEFAULT_4XX", nil, "GATEWAY_REJECTED", nil},
		{"DEFAULT_5XX", nil, "GATEWAY_ERROR", nil},
		{"THROTTLED", "429", "RATE_LIMITED", []string{"Retry-After"}},
		{"WAF_FILTERED", "429", "RATE_LIMITED", []string{"Retry-After"}},
		{"MISSING_AUTHENTICATION_TOKEN", "404", "NOT_FOUND", nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			gr, ok := responses[tt.typ].(map[string]any)
			if !ok {
				t.Fatalf("no gateway response %s", tt.typ)
			}
			// Setting StatusCode on DEFAULT_4XX/5XX would change every other 4XX/5XX type too.
			if !reflect.DeepEqual(gr["StatusCode"], tt.statusCode) {
				t.Errorf("StatusCode = %#v, want %#v", gr["StatusCode"], tt.statusCode)
			}
			headers, _ := dig(gr, "ResponseParameters", "Headers").(map[string]any)
			wantHeaders := map[string]any{
				"Access-Control-Allow-Origin":      sub("'${FrontendOrigin}'"),
				"Access-Control-Allow-Credentials": "'true'",
				"Vary":                             "'Origin'",
			}
			for h, want := range wantHeaders {
				if !reflect.DeepEqual(headers[h], want) {
					t.Errorf("header %s = %#v, want %#v", h, headers[h], want)
				}
			}
			for _, h := range tt.headers {
				if headers[h] == nil {
					t.Errorf("no %s header", h)
				}
			}
			// Header values are mapping expressions: literals must be single-quoted.
			for h, v := range headers {
				s, _ := v.(string)
				if s == "" {
					s, _ = dig(v, "Fn::Sub").(string)
				}
				if len(s) < 2 || s[0] != '\'' || s[len(s)-1] != '\'' {
					t.Errorf("header %s = %#v: want a single-quoted literal", h, v)
				}
			}
			tmpl, _ := dig(gr, "ResponseTemplates", "application/json").(string)
			var body map[string]any
			if err := json.Unmarshal([]byte(renderContext(tmpl)), &body); err != nil {
				t.Fatalf("template is not JSON once rendered: %v\n%s", err, tmpl)
			}
			keys := make([]string, 0, len(body))
			for k := range body {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if want := []string{"code", "detail", "error", "request_id"}; !reflect.DeepEqual(keys, want) {
				t.Errorf("body keys = %v, want %v", keys, want)
			}
			if body["code"] != tt.code || body["request_id"] != "req-1" || body["error"] != body["detail"] {
				t.Errorf("body = %v, want code %s, request_id from $context.requestId, error = detail", body, tt.code)
			}
			if !strings.Contains(tmpl, `"request_id":"$context.requestId"`) {
				t.Errorf("request_id is not $context.requestId: %s", tmpl)
			}
			if tt.typ == "MISSING_AUTHENTICATION_TOKEN" && body["error"] != "Not found" {
				t.Errorf("error = %v, want Not found", body["error"])
			}
		})
	}
}

// policyStatements returns the inline statements of a function's Policies.
func policyStatements(t *testing.T, props map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	policies, _ := props["Policies"].([]any)
	for _, p := range policies {
		switch p := p.(type) {
		case string:
			t.Errorf("managed policy %q: use inline statements scoped to resources", p)
		case map[string]any:
			for _, s := range asList(p["Statement"]) {
				sm, ok := s.(map[string]any)
				if !ok {
					t.Errorf("statement %#v is not a mapping", s)
					continue
				}
				out = append(out, sm)
			}
		}
	}
	return out
}

func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

func actionsOf(v any) []string {
	var out []string
	for _, a := range asList(v) {
		if s, ok := a.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestFunctionPoliciesAreScoped(t *testing.T) {
	tpl := loadTemplate(t)
	for _, f := range tpl.Functions() {
		for _, s := range policyStatements(t, f.Properties) {
			if s["Resource"] == nil {
				t.Errorf("%s: statement %v has no Resource", f.LogicalID, s)
			}
			for _, r := range asList(s["Resource"]) {
				if r == "*" {
					t.Errorf("%s: statement %v: Resource \"*\"", f.LogicalID, s)
				}
			}
			for _, a := range actionsOf(s["Action"]) {
				if strings.Contains(a, "*") {
					t.Errorf("%s: statement %v: wildcard action %q", f.LogicalID, s, a)
				}
			}
		}
	}
}

// The environment variables the functions' config knows. Later rounds add
// theirs here when the config learns them.
var knownEnv = []string{
	"ENVIRONMENT", "MONGODB_SECRET_ARN", "MONGODB_DATABASE", "JWT_SECRET_ARN", "CORS_ORIGINS",
	"COOKIE_SECURE", "COOKIE_SAMESITE", "LOG_LEVEL",
	"JWT_ISSUER", "JWT_AUDIENCE", "BCRYPT_COST", "STARTING_CASH_USD", "REQUIRE_EMAIL_VERIFICATION",
	"MAILER", "SES_FROM", "PRICE_FEED", "COINGECKO_API_KEY_SECRET_ARN", "PRICE_REFRESH_INTERVAL",
	"PRICE_MAX_AGE",
}

func TestEnvironmentVariables(t *testing.T) {
	tpl := loadTemplate(t)
	globals, _ := dig(tpl.Globals, "Function", "Environment", "Variables").(map[string]any)
	for _, name := range []string{"ENVIRONMENT", "MONGODB_SECRET_ARN", "MONGODB_DATABASE", "JWT_SECRET_ARN",
		"CORS_ORIGINS", "COOKIE_SECURE", "COOKIE_SAMESITE", "LOG_LEVEL"} {
		if _, ok := globals[name]; !ok {
			t.Errorf("Globals.Function.Environment.Variables has no %s", name)
		}
	}
	if globals["COOKIE_SECURE"] != "true" {
		t.Errorf("COOKIE_SECURE = %#v, want \"true\" (a string)", globals["COOKIE_SECURE"])
	}
	if !reflect.DeepEqual(globals["JWT_SECRET_ARN"], ref("JwtSigningKey")) {
		t.Errorf("JWT_SECRET_ARN = %#v, want !Ref JwtSigningKey", globals["JWT_SECRET_ARN"])
	}
	check := func(where string, vars map[string]any) {
		for name, v := range vars {
			if !slices.Contains(knownEnv, name) {
				t.Errorf("%s: %s is not a variable the config knows", where, name)
			}
			if _, ok := v.(map[string]any); !ok {
				if _, ok := v.(string); !ok {
					t.Errorf("%s: %s = %#v: Lambda environment values must be strings", where, name, v)
				}
			}
		}
		// Secrets are read from Secrets Manager, never put in the environment.
		for _, secret := range []string{"MONGODB_URI", "JWT_SECRET"} {
			if _, ok := vars[secret]; ok {
				t.Errorf("%s: sets %s; use the *_SECRET_ARN variable", where, secret)
			}
		}
	}
	check("Globals", globals)
	for _, id := range tpl.ResourcesOfType(samtemplate.TypeFunction) {
		vars, _ := dig(tpl.Resources[id].Properties, "Environment", "Variables").(map[string]any)
		check(id, vars)
	}
}

func TestJwtSigningKey(t *testing.T) {
	tpl := loadTemplate(t)
	r, ok := tpl.Resources["JwtSigningKey"]
	if !ok || r.Type != "AWS::SecretsManager::Secret" {
		t.Fatal("no JwtSigningKey of type AWS::SecretsManager::Secret")
	}
	gen, _ := r.Properties["GenerateSecretString"].(map[string]any)
	if gen["GenerateStringKey"] != "secret" || gen["PasswordLength"] != 64 || gen["ExcludePunctuation"] != true {
		t.Errorf("GenerateSecretString = %#v, want key secret, 64 characters, no punctuation", gen)
	}
	tmpl, _ := dig(gen, "SecretStringTemplate", "Fn::Sub").(string)
	var doc map[string]any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(tmpl, "${Environment}", "dev")), &doc); err != nil {
		t.Fatalf("SecretStringTemplate is not JSON: %v (%q)", err, tmpl)
	}
	if kid, _ := doc["kid"].(string); kid == "" || len(doc) != 1 {
		t.Errorf("SecretStringTemplate = %v, want exactly a non-empty kid", doc)
	}
	if name, _ := dig(r.Properties, "Name", "Fn::Sub").(string); !strings.Contains(name, "${AWS::StackName}") && !strings.Contains(name, "${Environment}") {
		t.Errorf("Name = %#v: want it per environment", r.Properties["Name"])
	}
}

func TestOutputs(t *testing.T) {
	tpl := loadTemplate(t)
	want := map[string]any{
		"ApiUrl":             sub("https://${CryptoVaultApi}.execute-api.${AWS::Region}.amazonaws.com/${Environment}"),
		"JwtSigningKeyArn":   ref("JwtSigningKey"),
		"HealthFunctionName": ref("HealthFunction"),
	}
	for name, v := range want {
		if got := dig(tpl.Outputs, name, "Value"); !reflect.DeepEqual(got, v) {
			t.Errorf("output %s = %#v, want %#v", name, got, v)
		}
	}
}

func TestParametersAndConditions(t *testing.T) {
	tpl := loadTemplate(t)
	defaults := map[string]string{
		"MongoDbDatabase": "cryptovault", "LogLevel": "INFO", "LogRetentionDays": "30",
		"StageRateLimit": "100", "StageBurstLimit": "200", "CustomDomainName": "", "CertificateArn": "",
		"CookieSameSite": "None",
	}
	for name, want := range defaults {
		p, ok := tpl.Parameter(name)
		if !ok || !p.HasDefault || p.Default != want {
			t.Errorf("parameter %s: default %q (set %v), want %q", name, p.Default, p.HasDefault, want)
		}
	}
	for _, name := range []string{"Environment", "FrontendOrigin", "CorsOrigins", "MongoDbSecretArn"} {
		if p, ok := tpl.Parameter(name); !ok || p.HasDefault {
			t.Errorf("parameter %s: want it required (no default)", name)
		}
	}
	for name, p := range tpl.Parameters {
		if p.HasDefault && len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, p.Default) {
			t.Errorf("parameter %s: default %q not in %v", name, p.Default, p.AllowedValues)
		}
		if p.HasDefault && p.AllowedPattern != "" && !regexp.MustCompile("^(?:"+p.AllowedPattern+")$").MatchString(p.Default) {
			t.Errorf("parameter %s: default %q does not match %s", name, p.Default, p.AllowedPattern)
		}
	}
	if _, ok := tpl.Conditions["HasCustomDomain"]; !ok {
		t.Error("no HasCustomDomain condition")
	}
}

// FrontendOrigin goes inside '...' in gateway response headers and
// CorsOrigins must never be "*": the patterns must refuse both.
func TestOriginParameterPatterns(t *testing.T) {
	tpl := loadTemplate(t)
	tests := []struct {
		param, value string
		ok           bool
	}{
		{"FrontendOrigin", "https://app.example.com", true},
		{"FrontendOrigin", "http://localhost:3000", true},
		{"FrontendOrigin", "*", false},
		{"FrontendOrigin", "https://app.example.com/", false},
		{"FrontendOrigin", "https://a.example.com,https://b.example.com", false},
		{"FrontendOrigin", "https://evil.example.com'", false},
		{"CorsOrigins", "https://app.example.com", true},
		{"CorsOrigins", "https://app.example.com,http://localhost:3000", true},
		{"CorsOrigins", "*", false},
		{"CorsOrigins", "https://a.example.com, https://b.example.com", false},
		{"MongoDbSecretArn", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cryptovault/prod/mongodb-uri-AbCdEf", true},
		{"MongoDbSecretArn", "arn:aws:secretsmanager:REGION:ACCOUNT_ID:secret:REPLACE-cryptovault/prod/mongodb-uri-XXXXXX", false},
	}
	for _, tt := range tests {
		p, _ := tpl.Parameter(tt.param)
		// CloudFormation matches AllowedPattern against the whole value.
		re := regexp.MustCompile("^(?:" + p.AllowedPattern + ")$")
		if got := re.MatchString(tt.value); got != tt.ok {
			t.Errorf("%s %q: accepted = %v, want %v", tt.param, tt.value, got, tt.ok)
		}
	}
}

// Every Ref, GetAtt, ${} in a Sub and condition name points at something that
// exists, and every condition is used (what cfn-lint would say, without it).
func TestReferencesResolve(t *testing.T) {
	tpl := loadTemplate(t)
	known := map[string]bool{}
	for name := range tpl.Parameters {
		known[name] = true
	}
	for id, r := range tpl.Resources {
		known[id] = true
		switch r.Type {
		case samtemplate.TypeAPI: // references SAM generates
			known[id+".Stage"], known[id+".Deployment"] = true, true
		case samtemplate.TypeFunction:
			known[id+"Role"] = true
		}
	}
	isKnown := func(name string) bool { return known[name] || strings.HasPrefix(name, "AWS::") }
	usedConditions := map[string]bool{}
	subVar := regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				switch k {
				case "Ref":
					if s, ok := e.(string); !ok || !isKnown(s) {
						t.Errorf("%s: Ref %#v resolves to nothing", path, e)
					}
				case "Fn::GetAtt":
					if l, ok := e.([]any); !ok || len(l) != 2 || !known[l[0].(string)] {
						t.Errorf("%s: GetAtt %#v resolves to nothing", path, e)
					}
				case "Fn::Sub":
					s, _ := e.(string)
					var vars map[string]any
					if l, ok := e.([]any); ok && len(l) == 2 {
						s, _ = l[0].(string)
						vars, _ = l[1].(map[string]any)
					}
					for _, m := range subVar.FindAllStringSubmatch(s, -1) {
						name, _, _ := strings.Cut(m[1], ".")
						if _, local := vars[m[1]]; !local && !isKnown(name) && !isKnown(m[1]) {
							t.Errorf("%s: Sub variable ${%s} resolves to nothing", path, m[1])
						}
					}
				case "Fn::If":
					if l, ok := e.([]any); ok && len(l) == 3 {
						name, _ := l[0].(string)
						usedConditions[name] = true
						if _, ok := tpl.Conditions[name]; !ok {
							t.Errorf("%s: Fn::If on unknown condition %q", path, name)
						}
					} else {
						t.Errorf("%s: Fn::If wants [condition, then, else], got %#v", path, e)
					}
				case "Condition":
					if name, ok := e.(string); ok {
						usedConditions[name] = true
						if _, ok := tpl.Conditions[name]; !ok {
							t.Errorf("%s: unknown condition %q", path, name)
						}
					}
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(path+"["+strconv.Itoa(i)+"]", e)
			}
		}
	}
	for _, sec := range []string{"Conditions", "Globals", "Resources", "Outputs"} {
		walk(sec, tpl.Raw[sec])
	}
	for id, r := range tpl.Resources {
		for _, d := range r.DependsOn {
			if !known[d] {
				t.Errorf("%s: DependsOn %s resolves to nothing", id, d)
			}
		}
	}
	for name := range tpl.Conditions {
		if !usedConditions[name] {
			t.Errorf("condition %s is never used", name)
		}
	}
}
