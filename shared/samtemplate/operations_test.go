package samtemplate_test

// Operations: WAF, per-route throttles, alarms, the dashboard, IAM, outputs and samconfig.toml.
// Every per-function check goes over tpl.Functions(), so a function added to the template
// without its alarms, dashboard row or output fails here and the message says what to copy.

import (
	"encoding/json"
	"maps"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/catalog"
	"github.com/cryptovault/serverless/shared/platform/mongodb"
	"github.com/cryptovault/serverless/shared/platform/obs"
	"github.com/cryptovault/serverless/shared/samtemplate"
)

const (
	samconfigPath = "../../samconfig.toml"
	readmePath    = "../../README.md"
	alarmTopicID  = "AlarmTopic"
	typeAlarm     = "AWS::CloudWatch::Alarm"
	typeDashboard = "AWS::CloudWatch::Dashboard"
	typeWebACL    = "AWS::WAFv2::WebACL"
	typeWebACLAss = "AWS::WAFv2::WebACLAssociation"
)

// conditionOn returns the name of the condition defined as !Equals [!Ref param, value] (either
// order), or "".
func conditionOn(tpl *samtemplate.Template, param, value string) string {
	for name, c := range tpl.Conditions {
		args, _ := dig(c, "Fn::Equals").([]any)
		if len(args) != 2 {
			continue
		}
		if (reflect.DeepEqual(args[0], ref(param)) && args[1] == value) ||
			(reflect.DeepEqual(args[1], ref(param)) && args[0] == value) {
			return name
		}
	}
	return ""
}

// numberOf reads a YAML number (int or float) or its string form.
func numberOf(v any) (float64, bool) {
	switch v := v.(type) {
	case int:
		return float64(v), true
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

func paramDefault(t *testing.T, tpl *samtemplate.Template, name, want string) {
	t.Helper()
	p, ok := tpl.Parameter(name)
	switch {
	case !ok:
		t.Errorf("no parameter %s", name)
	case !p.HasDefault || p.Default != want:
		t.Errorf("parameter %s: default %q (set %v), want %q", name, p.Default, p.HasDefault, want)
	}
}

// ---------------------------------------------------------------------------------------------
// Functions: the parts of their shape the alarms and the connection budget rely on.
// ---------------------------------------------------------------------------------------------

// mongoConnsPerInstance is what one Lambda instance can hold open on the primary: the driver's
// pool plus its monitoring connections to that server (one when it polls, as in Lambda; two when
// it streams: heartbeat and RTT; counted as two), both as the warm client sets them.
const mongoConnsPerInstance = mongodb.DefaultMaxPoolSize + mongodb.MonitoringConnsPerServer

// atlasM10Connections is an Atlas M10's connection limit per cluster member.
const atlasM10Connections = 1500

// atlasConnectionBudget is the share of an Atlas M10's per-node limit one environment may plan
// for: half, leaving the rest for a deploy (old and new instances hold connections at the same
// time until the old ones are reclaimed), Atlas's own agents and people's tools.
const atlasConnectionBudget = atlasM10Connections / 2

// reservation is one function's reserved concurrency, by its catalog name (the README's).
type reservation struct {
	logicalID, name string
	instances       int
}

// reservations reads every function's ReservedConcurrentExecutions, in template order; a
// function without a positive one is an error (it would not cap its Mongo connections).
func reservations(t *testing.T, tpl *samtemplate.Template) (rs []reservation, total int) {
	t.Helper()
	for _, f := range tpl.Functions() {
		rc, ok := f.Properties["ReservedConcurrentExecutions"].(int)
		if !ok || rc < 1 {
			t.Errorf("%s: ReservedConcurrentExecutions = %#v, want a positive integer (it caps Mongo connections)", f.LogicalID, f.Properties["ReservedConcurrentExecutions"])
			continue
		}
		name := f.LogicalID
		if e, ok := catalog.ByLogicalID(f.LogicalID); ok {
			name = e.Name
		}
		rs = append(rs, reservation{logicalID: f.LogicalID, name: name, instances: rc})
		total += rc
	}
	return rs, total
}

func TestReservedConcurrencyFitsAtlas(t *testing.T) {
	rs, total := reservations(t, loadTemplate(t))
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.logicalID+" "+strconv.Itoa(r.instances))
	}
	conns := total * mongoConnsPerInstance
	t.Logf("reserved concurrency %d (%s) x %d connections = %d of a budget of %d",
		total, strings.Join(parts, ", "), mongoConnsPerInstance, conns, atlasConnectionBudget)
	if conns > atlasConnectionBudget {
		t.Errorf("reserved concurrency %d x %d connections per instance = %d > %d (half an Atlas M10's %d): "+
			"lower some ReservedConcurrentExecutions or plan a bigger tier (README: reserved-concurrency arithmetic)",
			total, mongoConnsPerInstance, conns, atlasConnectionBudget, atlasM10Connections)
	}
}

// readmeConnectionSection is the README's section on the connection arithmetic.
const readmeConnectionSection = "### Reserved concurrency and Atlas connections"

// readmeSection returns the text of the README section headed heading, up to the next heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", heading)
	}
	if i := strings.Index(rest, "\n#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// readmeNumber parses a number as the README writes it ("1,500").
func readmeNumber(s string) int {
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		return -1
	}
	return n
}

// TestReadmeConnectionArithmetic: the README's connection arithmetic states what the template and
// the warm client's settings give: the pool size, the monitoring connections, the connections per
// instance, each function's reserved concurrency and connections, the totals, and the Atlas
// budget. A change to any of them fails here, naming the number the README must update.
func TestReadmeConnectionArithmetic(t *testing.T) {
	section := readmeSection(t, readmeConnectionSection)
	rs, total := reservations(t, loadTemplate(t))
	pool, monitoring := mongodb.DefaultMaxPoolSize, mongodb.MonitoringConnsPerServer
	// The prose with its line breaks as spaces, so that a phrase may wrap.
	prose := strings.Join(strings.Fields(section), " ")

	// Each phrase's numbers, in order: what they are and what they must be.
	type number struct {
		what string
		want int
	}
	var (
		poolN       = number{"the pool size (mongodb.DefaultMaxPoolSize)", pool}
		monitoringN = number{"the monitoring connections counted (mongodb.MonitoringConnsPerServer)", monitoring}
		perInstN    = number{"the connections per instance", mongoConnsPerInstance}
		instancesN  = number{"the reserved concurrency of all functions", total}
		connsN      = number{"the connections of all instances", total * mongoConnsPerInstance}
		pooledN     = number{"the pooled connections of all instances", total * pool}
		atlasN      = number{"an Atlas M10's connections per member", atlasM10Connections}
		budgetN     = number{"the environment's budget", atlasConnectionBudget}
	)
	phrases := []struct {
		pattern string
		numbers []number
	}{
		{`at most ([\d,]+) pooled connections`, []number{poolN}},
		{`we count ([\d,]+)`, []number{monitoringN}},
		{`so up to ([\d,]+) on the primary`, []number{perInstN}},
		{`reserved concurrency × ([\d,]+)`, []number{perInstN}},
		{`\| \*\*all\*\* \| \*\*([\d,]+)\*\* \| \*\*([\d,]+)\*\* \|`, []number{instancesN, connsN}},
		{`([\d,]+) instances × ([\d,]+) = ([\d,]+)`, []number{instancesN, perInstN, connsN}},
		{`([\d,]+) × ([\d,]+) = ([\d,]+) counting the pools alone`, []number{instancesN, poolN, pooledN}},
		{`M10 allows ([\d,]+) connections`, []number{atlasN}},
		{`half of that \(([\d,]+)\)`, []number{budgetN}},
	}
	for _, p := range phrases {
		m := regexp.MustCompile(p.pattern).FindStringSubmatch(prose)
		if m == nil {
			var whats []string
			for _, n := range p.numbers {
				whats = append(whats, n.what)
			}
			t.Errorf("README %q no longer states %s (looked for /%s/)", readmeConnectionSection, strings.Join(whats, ", "), p.pattern)
			continue
		}
		for i, n := range p.numbers {
			if got := readmeNumber(m[i+1]); got != n.want {
				t.Errorf("README %q: in %q, %s is %d; the template and code give %d", readmeConnectionSection, m[0], n.what, got, n.want)
			}
		}
	}

	// One table row per function: its reserved concurrency and that × the connections per instance.
	rows := map[string][2]int{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\w+) \| ([\d,]+) \| ([\d,]+) \|$`).FindAllStringSubmatch(section, -1) {
		if _, dup := rows[m[1]]; dup {
			t.Errorf("README %q: function %s has two rows", readmeConnectionSection, m[1])
		}
		rows[m[1]] = [2]int{readmeNumber(m[2]), readmeNumber(m[3])}
	}
	for _, r := range rs {
		row, ok := rows[r.name]
		if !ok {
			t.Errorf("README %q: no row for %s (reserved concurrency %d)", readmeConnectionSection, r.name, r.instances)
			continue
		}
		delete(rows, r.name)
		if row[0] != r.instances {
			t.Errorf("README %q: row %s: reserved concurrency %d; template.yaml's %s has %d", readmeConnectionSection, r.name, row[0], r.logicalID, r.instances)
		}
		if want := r.instances * mongoConnsPerInstance; row[1] != want {
			t.Errorf("README %q: row %s: %d connections; want %d instances × %d = %d", readmeConnectionSection, r.name, row[1], r.instances, mongoConnsPerInstance, want)
		}
	}
	for name := range rows {
		t.Errorf("README %q: row %s is not a function of template.yaml", readmeConnectionSection, name)
	}
}

// ---------------------------------------------------------------------------------------------
// WAF
// ---------------------------------------------------------------------------------------------

func TestWAF(t *testing.T) {
	tpl := loadTemplate(t)
	paramDefault(t, tpl, "EnableWaf", "false")
	paramDefault(t, tpl, "WafAuthRateLimit", "100")
	if p, _ := tpl.Parameter("EnableWaf"); !reflect.DeepEqual(p.AllowedValues, []string{"true", "false"}) {
		t.Errorf("EnableWaf AllowedValues = %v, want [true false]", p.AllowedValues)
	}
	cond := conditionOn(tpl, "EnableWaf", "true")
	if cond == "" {
		t.Fatal(`no condition !Equals [!Ref EnableWaf, "true"]`)
	}

	acls := tpl.ResourcesOfType(typeWebACL)
	if len(acls) != 1 {
		t.Fatalf("%s resources = %v, want exactly one", typeWebACL, acls)
	}
	aclID := acls[0]
	acl := tpl.Resources[aclID]
	if acl.Condition != cond {
		t.Errorf("%s: Condition = %q, want %s (WAF is optional)", aclID, acl.Condition, cond)
	}
	p := acl.Properties
	if p["Scope"] != "REGIONAL" {
		t.Errorf("Scope = %#v, want REGIONAL (a regional REST API stage)", p["Scope"])
	}
	if _, ok := dig(p, "DefaultAction", "Allow").(map[string]any); !ok {
		t.Errorf("DefaultAction = %#v, want Allow", p["DefaultAction"])
	}
	checkVisibility := func(where string, v any) {
		if dig(v, "CloudWatchMetricsEnabled") != true || dig(v, "SampledRequestsEnabled") != true || dig(v, "MetricName") == nil {
			t.Errorf("%s: VisibilityConfig = %#v, want metrics and sampled requests on, with a MetricName", where, v)
		}
	}
	checkVisibility(aclID, p["VisibilityConfig"])

	var rate, common map[string]any
	priorities := map[any]bool{}
	for _, r := range asList(p["Rules"]) {
		rule, _ := r.(map[string]any)
		name, _ := rule["Name"].(string)
		checkVisibility("rule "+name, rule["VisibilityConfig"])
		if priorities[rule["Priority"]] {
			t.Errorf("rule %s: Priority %v used twice", name, rule["Priority"])
		}
		priorities[rule["Priority"]] = true
		if dig(rule, "Statement", "RateBasedStatement") != nil {
			rate = rule
		}
		if dig(rule, "Statement", "ManagedRuleGroupStatement", "Name") == "AWSManagedRulesCommonRuleSet" {
			common = rule
		}
	}

	// Per client IP, on /api/auth/ only, WafAuthRateLimit per 5 minutes, blocking.
	if rate == nil {
		t.Error("no rate-based rule")
	} else {
		rb := dig(rate, "Statement", "RateBasedStatement")
		if dig(rb, "AggregateKeyType") != "IP" {
			t.Errorf("rate rule AggregateKeyType = %#v, want IP", dig(rb, "AggregateKeyType"))
		}
		if got := dig(rb, "Limit"); !reflect.DeepEqual(got, ref("WafAuthRateLimit")) {
			t.Errorf("rate rule Limit = %#v, want !Ref WafAuthRateLimit", got)
		}
		if w := dig(rb, "EvaluationWindowSec"); w != nil && w != 300 {
			t.Errorf("rate rule EvaluationWindowSec = %#v, want 300 (the documented 5 minutes)", w)
		}
		if _, ok := dig(rate, "Action", "Block").(map[string]any); !ok {
			t.Errorf("rate rule Action = %#v, want Block (the WAF_FILTERED gateway response makes it a 429)", rate["Action"])
		}
		bm := dig(rb, "ScopeDownStatement", "ByteMatchStatement")
		if bm == nil {
			t.Fatalf("rate rule has no ByteMatchStatement scope-down: it would count every route")
		}
		if _, ok := dig(bm, "FieldToMatch", "UriPath").(map[string]any); !ok {
			t.Errorf("scope-down FieldToMatch = %#v, want UriPath", dig(bm, "FieldToMatch"))
		}
		search, _ := dig(bm, "SearchString").(string)
		if dig(bm, "PositionalConstraint") != "CONTAINS" || search != "/api/auth/" {
			t.Errorf("scope-down = %v %q, want CONTAINS \"/api/auth/\" (the stage prefix precedes the path on execute-api URLs)",
				dig(bm, "PositionalConstraint"), search)
		}
		// What that matches, as WAF sees the URI path.
		for path, want := range map[string]bool{
			"/dev/api/auth/login":   true, // execute-api URL: stage prefix
			"/api/auth/signup":      true, // custom domain: no prefix
			"/prod/api/auth/2fa/me": true,
			"/dev/api/crypto":       false,
			"/dev/api/authx":        false,
		} {
			if got := strings.Contains(path, search); got != want {
				t.Errorf("scope-down on %s: %v, want %v", path, got, want)
			}
		}
	}

	// AWS's common rule set, with SizeRestrictions_BODY counted only (the API takes 64 KiB).
	if common == nil {
		t.Error("no AWSManagedRulesCommonRuleSet rule")
	} else {
		if dig(common, "Statement", "ManagedRuleGroupStatement", "VendorName") != "AWS" {
			t.Error("AWSManagedRulesCommonRuleSet: VendorName is not AWS")
		}
		if _, ok := dig(common, "OverrideAction", "None").(map[string]any); !ok {
			t.Errorf("common rule set OverrideAction = %#v, want None (the group's own actions apply)", common["OverrideAction"])
		}
		counted := false
		for _, o := range asList(dig(common, "Statement", "ManagedRuleGroupStatement", "RuleActionOverrides")) {
			if dig(o, "Name") == "SizeRestrictions_BODY" && dig(o, "ActionToUse", "Count") != nil {
				counted = true
			}
		}
		if !counted {
			t.Error("SizeRestrictions_BODY is not overridden to Count: it blocks bodies over 8 KB, the API accepts 64 KiB")
		}
	}

	// The association: same condition, this ACL, the API's stage (and after the stage exists).
	assocs := tpl.ResourcesOfType(typeWebACLAss)
	if len(assocs) != 1 {
		t.Fatalf("%s resources = %v, want exactly one", typeWebACLAss, assocs)
	}
	as := tpl.Resources[assocs[0]]
	if as.Condition != cond {
		t.Errorf("%s: Condition = %q, want %s", assocs[0], as.Condition, cond)
	}
	if got := as.Properties["WebACLArn"]; !reflect.DeepEqual(got, map[string]any{"Fn::GetAtt": []any{aclID, "Arn"}}) {
		t.Errorf("WebACLArn = %#v, want !GetAtt %s.Arn", got, aclID)
	}
	arn, _ := dig(as.Properties, "ResourceArn", "Fn::Sub").(string)
	// ${<Api>.Stage} is SAM's reference to the stage it generates: it resolves to the stage name
	// and orders the association after the stage (the RestApi alone has no stage to attach to).
	wantArn := regexp.MustCompile(`^arn:(aws|\$\{AWS::Partition\}):apigateway:\$\{AWS::Region\}::/restapis/\$\{` + apiID + `\}/stages/\$\{` + apiID + `\.Stage\}$`)
	if !wantArn.MatchString(arn) {
		t.Errorf("ResourceArn = %#v, want !Sub arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${%s}/stages/${%s.Stage}", as.Properties["ResourceArn"], apiID, apiID)
	}

	// api.md: a WAF block is 429 RATE_LIMITED.
	if got := dig(tpl.Resources[apiID].Properties, "GatewayResponses", "WAF_FILTERED", "StatusCode"); got != "429" {
		t.Errorf("WAF_FILTERED StatusCode = %#v, want \"429\"", got)
	}
}

// ---------------------------------------------------------------------------------------------
// Per-route throttles
// ---------------------------------------------------------------------------------------------

// routeThrottleParams are the routes with their own MethodSettings entry (api.md "Throttling")
// and the parameters of their limits. A route missing from the template (its function is not
// written yet) must have no entry: a method setting for a resource that does not exist fails
// the deployment.
var routeThrottleParams = []struct {
	route       samtemplate.Route
	rate, burst string
	hint        string
}{
	{samtemplate.Route{Method: "POST", Path: "/api/auth/login"}, "AuthRateLimit", "AuthBurstLimit", ""},
	{samtemplate.Route{Method: "POST", Path: "/api/auth/signup"}, "AuthRateLimit", "AuthBurstLimit", ""},
	{samtemplate.Route{Method: "POST", Path: "/api/auth/verify-email"}, "AuthRateLimit", "AuthBurstLimit", ""},
	{samtemplate.Route{Method: "POST", Path: "/api/auth/resend-verification"}, "AuthRateLimit", "AuthBurstLimit", ""},
	{samtemplate.Route{Method: "POST", Path: "/api/orders"}, "OrdersRateLimit", "OrdersBurstLimit",
		`uncomment the POST /api/orders entry in CryptoVaultApi.MethodSettings ("uncomment when OrdersFunction is added")`},
}

// escapeResourcePath writes a resource path the way MethodSettings does: "/" + the path with
// "~" as "~0" and "/" as "~1".
func escapeResourcePath(path string) string {
	return "/" + strings.ReplaceAll(strings.ReplaceAll(path, "~", "~0"), "/", "~1")
}

func TestRouteThrottles(t *testing.T) {
	tpl := loadTemplate(t)
	for name, want := range map[string]string{
		"StageRateLimit": "100", "StageBurstLimit": "200",
		"AuthRateLimit": "10", "AuthBurstLimit": "20",
		"OrdersRateLimit": "50", "OrdersBurstLimit": "100",
	} {
		paramDefault(t, tpl, name, want)
	}

	settings, _ := dig(tpl.Resources[apiID].Properties, "MethodSettings").([]any)
	type key struct{ resource, method string }
	byKey := map[key]map[string]any{}
	for i, s := range settings {
		m, ok := s.(map[string]any)
		if !ok {
			t.Fatalf("MethodSettings[%d] = %#v, want a mapping", i, s)
		}
		rp, _ := m["ResourcePath"].(string)
		hm, _ := m["HttpMethod"].(string)
		k := key{rp, strings.ToUpper(hm)}
		if _, dup := byKey[k]; dup {
			t.Errorf("MethodSettings: two entries for %s %s", hm, rp)
		}
		byKey[k] = m
	}
	limited := func(m map[string]any) bool {
		return m != nil && m["ThrottlingRateLimit"] != nil && m["ThrottlingBurstLimit"] != nil
	}
	stageDefaultSetting := byKey[key{"/*", "*"}]

	// Every route of every function has a throttle: its own entry or the stage default (an
	// entry that sets one limit takes the other from the stage default).
	routes := tpl.Routes()
	for r, fn := range routes {
		own := byKey[key{escapeResourcePath(r.Path), r.Method}]
		if !limited(own) && !limited(stageDefaultSetting) {
			t.Errorf("%s (%s): no throttle: neither its own MethodSettings entry nor the stage default (ResourcePath \"/*\", HttpMethod \"*\") sets both limits", r, fn)
		}
	}

	// The documented per-route limits, by parameter.
	listed := map[key]bool{}
	for _, want := range routeThrottleParams {
		k := key{escapeResourcePath(want.route.Path), want.route.Method}
		listed[k] = true
		entry := byKey[k]
		_, exists := routes[want.route]
		switch {
		case exists && entry == nil:
			msg := "no MethodSettings entry"
			if want.hint != "" {
				msg += ": " + want.hint
			}
			t.Errorf("%s: %s", want.route, msg)
		case !exists && entry != nil:
			t.Errorf("%s: MethodSettings entry %s but the route is not in the template: the deployment would fail (API Gateway rejects a method setting for a resource it does not have)", want.route, k.resource)
		case exists:
			if !reflect.DeepEqual(entry["ThrottlingRateLimit"], ref(want.rate)) || !reflect.DeepEqual(entry["ThrottlingBurstLimit"], ref(want.burst)) {
				t.Errorf("%s: limits %#v / %#v, want !Ref %s / !Ref %s", want.route,
					entry["ThrottlingRateLimit"], entry["ThrottlingBurstLimit"], want.rate, want.burst)
			}
			if entry["MetricsEnabled"] != true || entry["DataTraceEnabled"] == true {
				t.Errorf("%s: want MetricsEnabled true and DataTraceEnabled off like the stage default", want.route)
			}
		default:
			t.Logf("%s is not in the template yet; its throttle waits in a comment", want.route)
		}
	}
	// Any other entry is undocumented (and must name a route, or the deployment fails).
	for k := range byKey {
		if k == (key{"/*", "*"}) || listed[k] {
			continue
		}
		t.Errorf("MethodSettings entry %s %s is not a documented per-route throttle (api.md \"Throttling\")", k.method, k.resource)
	}
}

// ---------------------------------------------------------------------------------------------
// Alarms
// ---------------------------------------------------------------------------------------------

// alarmMetric is one metric of an alarm: the alarm's own metric, or one entry of Metrics.
type alarmMetric struct {
	ID         string
	Namespace  string
	Name       string
	Dims       map[string]any
	Stat       string // Statistic, ExtendedStatistic or MetricStat.Stat
	Period     any
	Expression string
	ReturnData bool
}

type alarm struct {
	ID      string
	Props   map[string]any
	Metrics []alarmMetric
}

func dimsOf(v any) map[string]any {
	out := map[string]any{}
	for _, d := range asList(v) {
		name, _ := dig(d, "Name").(string)
		out[name] = dig(d, "Value")
	}
	return out
}

func alarmsOf(tpl *samtemplate.Template) []alarm {
	var out []alarm
	for _, id := range tpl.ResourcesOfType(typeAlarm) {
		p := tpl.Resources[id].Properties
		a := alarm{ID: id, Props: p}
		if ms, ok := p["Metrics"].([]any); ok {
			for _, m := range ms {
				am := alarmMetric{ReturnData: true}
				am.ID, _ = dig(m, "Id").(string)
				am.Expression, _ = dig(m, "Expression").(string)
				if rd, ok := dig(m, "ReturnData").(bool); ok {
					am.ReturnData = rd
				}
				am.Namespace, _ = dig(m, "MetricStat", "Metric", "Namespace").(string)
				am.Name, _ = dig(m, "MetricStat", "Metric", "MetricName").(string)
				am.Dims = dimsOf(dig(m, "MetricStat", "Metric", "Dimensions"))
				am.Stat, _ = dig(m, "MetricStat", "Stat").(string)
				am.Period = dig(m, "MetricStat", "Period")
				a.Metrics = append(a.Metrics, am)
			}
		} else {
			am := alarmMetric{ReturnData: true, Dims: dimsOf(p["Dimensions"]), Period: p["Period"]}
			am.Namespace, _ = p["Namespace"].(string)
			am.Name, _ = p["MetricName"].(string)
			am.Stat, _ = p["Statistic"].(string)
			if es, ok := p["ExtendedStatistic"].(string); ok {
				am.Stat = es
			}
			a.Metrics = append(a.Metrics, am)
		}
		out = append(out, a)
	}
	return out
}

// metric returns the alarm's metric ns/name, if it has one.
func (a alarm) metric(ns, name string) (alarmMetric, bool) {
	for _, m := range a.Metrics {
		if m.Namespace == ns && m.Name == name {
			return m, true
		}
	}
	return alarmMetric{}, false
}

// ratio reports whether the alarm is metric math whose returned expression divides metric
// num by metric den (both in namespace ns), and returns them.
func (a alarm) ratio(ns, num, den string) (n, d alarmMetric, ok bool) {
	n, okN := a.metric(ns, num)
	d, okD := a.metric(ns, den)
	if !okN || !okD || n.ID == "" || d.ID == "" {
		return n, d, false
	}
	div := regexp.MustCompile(`\b` + regexp.QuoteMeta(n.ID) + `\s*/\s*` + regexp.QuoteMeta(d.ID) + `\b`)
	for _, m := range a.Metrics {
		if m.ReturnData && m.Expression != "" && div.MatchString(m.Expression) {
			return n, d, true
		}
	}
	return n, d, false
}

// functionOf returns the logical id of the function an AWS/Lambda metric is about.
func (m alarmMetric) functionOf() string {
	if m.Namespace != "AWS/Lambda" {
		return ""
	}
	id, _ := dig(m.Dims["FunctionName"], "Ref").(string)
	return id
}

// Every alarm notifies the topic both ways and is well formed.
func TestAlarmsNotifyTopic(t *testing.T) {
	tpl := loadTemplate(t)
	topic, ok := tpl.Resources[alarmTopicID]
	if !ok || topic.Type != "AWS::SNS::Topic" {
		t.Fatalf("no %s of type AWS::SNS::Topic", alarmTopicID)
	}
	// Optional email subscription.
	paramDefault(t, tpl, "AlarmEmail", "")
	var sub *samtemplate.Resource
	for _, id := range tpl.ResourcesOfType("AWS::SNS::Subscription") {
		r := tpl.Resources[id]
		if reflect.DeepEqual(r.Properties["TopicArn"], ref(alarmTopicID)) {
			sub = &r
		}
	}
	if sub == nil {
		t.Error("no AWS::SNS::Subscription to AlarmTopic")
	} else {
		if sub.Properties["Protocol"] != "email" || !reflect.DeepEqual(sub.Properties["Endpoint"], ref("AlarmEmail")) {
			t.Errorf("subscription = %#v, want email to !Ref AlarmEmail", sub.Properties)
		}
		want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref("AlarmEmail"), ""}}}}
		if c := tpl.Conditions[sub.Condition]; sub.Condition == "" || !reflect.DeepEqual(c, want) {
			t.Errorf("subscription Condition %q = %#v, want a condition AlarmEmail != \"\"", sub.Condition, c)
		}
	}
	if p, _ := tpl.Parameter("AlarmEmail"); p.AllowedPattern != "" {
		re := regexp.MustCompile("^(?:" + p.AllowedPattern + ")$")
		for v, want := range map[string]bool{"": true, "ops@example.com": true, "a@b": false, "a@b.com,c@d.com": false} {
			if re.MatchString(v) != want {
				t.Errorf("AlarmEmail %q: accepted = %v, want %v", v, !want, want)
			}
		}
	}

	alarms := alarmsOf(tpl)
	if len(alarms) == 0 {
		t.Fatal("no alarms")
	}
	apiName := tpl.Resources[apiID].Properties["Name"]
	fnIDs := tpl.ResourcesOfType(samtemplate.TypeFunction)
	names := map[string]string{}
	for _, a := range alarms {
		p := a.Props
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if !reflect.DeepEqual(p[key], []any{ref(alarmTopicID)}) {
				t.Errorf("%s: %s = %#v, want [!Ref %s]", a.ID, key, p[key], alarmTopicID)
			}
		}
		if name, _ := dig(p, "AlarmName", "Fn::Sub").(string); !strings.Contains(name, "${AWS::StackName}") {
			t.Errorf("%s: AlarmName = %#v, want !Sub ${AWS::StackName}-... (one stack per environment)", a.ID, p["AlarmName"])
		} else if prev, dup := names[name]; dup {
			t.Errorf("%s and %s have the same AlarmName %q", prev, a.ID, name)
		} else {
			names[name] = a.ID
		}
		if p["AlarmDescription"] == nil {
			t.Errorf("%s: no AlarmDescription (the mail says nothing else)", a.ID)
		}
		if !slices.Contains([]any{"breaching", "notBreaching", "ignore", "missing"}, p["TreatMissingData"]) {
			t.Errorf("%s: TreatMissingData = %#v, want it explicit", a.ID, p["TreatMissingData"])
		}
		ev, _ := p["EvaluationPeriods"].(int)
		if ev < 1 {
			t.Errorf("%s: EvaluationPeriods = %#v", a.ID, p["EvaluationPeriods"])
		}
		if dp, ok := p["DatapointsToAlarm"].(int); ok && (dp < 1 || dp > ev) {
			t.Errorf("%s: DatapointsToAlarm %d not within 1..EvaluationPeriods %d", a.ID, dp, ev)
		}
		returned := 0
		for _, m := range a.Metrics {
			if m.ReturnData {
				returned++
			}
			switch m.Namespace {
			case obs.Namespace:
				// EMF metrics carry exactly Service and Environment (shared/platform/obs): an alarm
				// with another dimension set watches a metric that never exists.
				keys := slices.Sorted(maps.Keys(m.Dims))
				if !reflect.DeepEqual(keys, []string{"Environment", "Service"}) || !reflect.DeepEqual(m.Dims["Environment"], ref("Environment")) {
					t.Errorf("%s: %s dimensions %#v, want Service and Environment (!Ref Environment)", a.ID, m.Name, m.Dims)
				}
			case "AWS/Lambda":
				if fn := m.functionOf(); !slices.Contains(fnIDs, fn) || len(m.Dims) != 1 {
					t.Errorf("%s: %s dimensions %#v, want FunctionName = !Ref <a function>", a.ID, m.Name, m.Dims)
				}
			case "AWS/ApiGateway":
				if _, ok := m.Dims["ApiId"]; ok {
					break // a WebSocket or HTTP API: dimensions ApiId and Stage
				}
				if !reflect.DeepEqual(m.Dims["ApiName"], apiName) || !reflect.DeepEqual(m.Dims["Stage"], ref("Environment")) || len(m.Dims) != 2 {
					t.Errorf("%s: %s dimensions %#v, want ApiName = the API's Name %#v and Stage = !Ref Environment", a.ID, m.Name, m.Dims, apiName)
				}
			}
		}
		if returned != 1 {
			t.Errorf("%s: %d metrics return data, want exactly 1", a.ID, returned)
		}
	}
}

// Every function has its three alarms: error rate, throttles, p99 duration near the timeout.
func TestFunctionAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	alarms := alarmsOf(tpl)
	errorRate, _ := tpl.Parameter("FunctionErrorRateThreshold")
	if errorRate.Default != "5" {
		t.Errorf("FunctionErrorRateThreshold default %q, want 5 (percent)", errorRate.Default)
	}
	for _, f := range tpl.Functions() {
		t.Run(f.LogicalID, func(t *testing.T) {
			found := map[string][]string{}
			for _, a := range alarms {
				p := a.Props
				if n, d, ok := a.ratio("AWS/Lambda", "Errors", "Invocations"); ok && n.functionOf() == f.LogicalID {
					found["error rate"] = append(found["error rate"], a.ID)
					if d.functionOf() != f.LogicalID {
						t.Errorf("%s: Invocations of %q, Errors of %s", a.ID, d.functionOf(), f.LogicalID)
					}
					for _, m := range []alarmMetric{n, d} {
						if m.Stat != "Sum" || m.Period != 300 {
							t.Errorf("%s: %s %s over %v, want Sum over 300 s", a.ID, m.Name, m.Stat, m.Period)
						}
					}
					if p["ComparisonOperator"] != "GreaterThanThreshold" || !reflect.DeepEqual(p["Threshold"], ref("FunctionErrorRateThreshold")) {
						t.Errorf("%s: %v %#v, want GreaterThanThreshold !Ref FunctionErrorRateThreshold", a.ID, p["ComparisonOperator"], p["Threshold"])
					}
					if p["TreatMissingData"] != "notBreaching" {
						t.Errorf("%s: TreatMissingData %v, want notBreaching (no invocations is not an error)", a.ID, p["TreatMissingData"])
					}
					continue
				}
				if len(a.Metrics) != 1 || a.Metrics[0].functionOf() != f.LogicalID {
					continue
				}
				m := a.Metrics[0]
				switch m.Name {
				case "Throttles":
					found["throttles"] = append(found["throttles"], a.ID)
					th, _ := numberOf(p["Threshold"])
					if m.Stat != "Sum" || m.Period != 300 || p["ComparisonOperator"] != "GreaterThanOrEqualToThreshold" || th != 1 {
						t.Errorf("%s: %s over %v %v %v, want Sum over 300 s >= 1", a.ID, m.Stat, m.Period, p["ComparisonOperator"], p["Threshold"])
					}
				case "Duration":
					found["duration"] = append(found["duration"], a.ID)
					timeout, ok := f.Properties["Timeout"].(int)
					if !ok {
						t.Errorf("no Timeout (from the function or Globals)")
						continue
					}
					want := math.Round(0.8 * float64(timeout) * 1000)
					got, _ := numberOf(p["Threshold"])
					if m.Stat != "p99" || m.Period != 300 || p["ComparisonOperator"] != "GreaterThanThreshold" || got != want {
						t.Errorf("%s: %s over %v %v %v, want p99 over 300 s > %v ms (80 %% of the %d s timeout)",
							a.ID, m.Stat, m.Period, p["ComparisonOperator"], p["Threshold"], want, timeout)
					}
				}
			}
			for _, kind := range []struct{ name, copyFrom string }{
				{"error rate", "HealthFunctionErrorRateAlarm"},
				{"throttles", "HealthFunctionThrottlesAlarm"},
				{"duration", "HealthFunctionDurationAlarm"},
			} {
				switch ids := found[kind.name]; len(ids) {
				case 0:
					t.Errorf("%s has no %s alarm: copy %s, rename it and point its FunctionName at !Ref %s (template.yaml, \"How to add a function\")",
						f.LogicalID, kind.name, kind.copyFrom, f.LogicalID)
				case 1:
				default:
					t.Errorf("%s has %d %s alarms: %v", f.LogicalID, len(ids), kind.name, ids)
				}
			}
		})
	}
}

func TestAPIAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	var fiveXX, fourXX, latency []string
	for _, a := range alarmsOf(tpl) {
		p := a.Props
		if n, d, ok := a.ratio("AWS/ApiGateway", "5XXError", "Count"); ok {
			fiveXX = append(fiveXX, a.ID)
			if n.Stat != "Sum" || d.Stat != "Sum" || n.Period != 300 || d.Period != 300 {
				t.Errorf("%s: want Sums over 300 s", a.ID)
			}
			if p["ComparisonOperator"] != "GreaterThanThreshold" || !reflect.DeepEqual(p["Threshold"], ref("ApiServerErrorRateThreshold")) {
				t.Errorf("%s: %v %#v, want > !Ref ApiServerErrorRateThreshold", a.ID, p["ComparisonOperator"], p["Threshold"])
			}
		}
		if n, d, ok := a.ratio("AWS/ApiGateway", "4XXError", "Count"); ok {
			fourXX = append(fourXX, a.ID)
			if n.Stat != "Sum" || d.Stat != "Sum" {
				t.Errorf("%s: want Sums", a.ID)
			}
			if p["ComparisonOperator"] != "GreaterThanThreshold" || !reflect.DeepEqual(p["Threshold"], ref("ApiClientErrorRateThreshold")) {
				t.Errorf("%s: %v %#v, want > !Ref ApiClientErrorRateThreshold", a.ID, p["ComparisonOperator"], p["Threshold"])
			}
		}
		if m, ok := a.metric("AWS/ApiGateway", "Latency"); ok && len(a.Metrics) == 1 {
			latency = append(latency, a.ID)
			if m.Stat != "p90" || p["ComparisonOperator"] != "GreaterThanThreshold" || !reflect.DeepEqual(p["Threshold"], ref("ApiLatencyP90ThresholdMs")) {
				t.Errorf("%s: %s %v %#v, want p90 > !Ref ApiLatencyP90ThresholdMs", a.ID, m.Stat, p["ComparisonOperator"], p["Threshold"])
			}
		}
	}
	for name, ids := range map[string][]string{"5XX rate (5XXError / Count)": fiveXX, "4XX rate (4XXError / Count)": fourXX, "p90 Latency": latency} {
		if len(ids) != 1 {
			t.Errorf("API %s alarms: %v, want exactly one", name, ids)
		}
	}
	paramDefault(t, tpl, "ApiServerErrorRateThreshold", "5")
}

func TestHealthAndBusinessAlarms(t *testing.T) {
	tpl := loadTemplate(t)
	alarms := alarmsOf(tpl)
	find := func(t *testing.T, name, service string) (alarm, alarmMetric) {
		t.Helper()
		var got []alarm
		var gm alarmMetric
		for _, a := range alarms {
			if m, ok := a.metric(obs.Namespace, name); ok && m.Dims["Service"] == service && len(a.Metrics) == 1 {
				got, gm = append(got, a), m
			}
		}
		if len(got) != 1 {
			t.Fatalf("alarms on %s %s (Service=%s): %d, want exactly one", obs.Namespace, name, service, len(got))
		}
		return got[0], gm
	}

	t.Run("Healthy", func(t *testing.T) {
		a, m := find(t, "Healthy", "health")
		p := a.Props
		if m.Period != 60 || (m.Stat != "Minimum" && m.Stat != "Average") {
			t.Errorf("%s over %v, want Minimum (or Average) over 60 s", m.Stat, m.Period)
		}
		if p["ComparisonOperator"] != "LessThanThreshold" || p["Threshold"] != 1 {
			t.Errorf("%v %v, want LessThanThreshold 1", p["ComparisonOperator"], p["Threshold"])
		}
		if p["EvaluationPeriods"] != 3 || p["DatapointsToAlarm"] != 2 {
			t.Errorf("%v of %v, want 2 of 3 periods", p["DatapointsToAlarm"], p["EvaluationPeriods"])
		}
		if p["TreatMissingData"] != "breaching" {
			t.Errorf("TreatMissingData %v, want breaching (a probe that stops running is a problem)", p["TreatMissingData"])
		}
	})

	t.Run("PriceAge", func(t *testing.T) {
		a, m := find(t, "PriceAgeSeconds", "health")
		p := a.Props
		if m.Stat != "Maximum" {
			t.Errorf("statistic %s, want Maximum", m.Stat)
		}
		if p["ComparisonOperator"] != "GreaterThanThreshold" || !reflect.DeepEqual(p["Threshold"], ref("PriceMaxAgeSeconds")) {
			t.Errorf("%v %#v, want > !Ref PriceMaxAgeSeconds", p["ComparisonOperator"], p["Threshold"])
		}
		paramDefault(t, tpl, "PriceMaxAgeSeconds", "300")
		// The functions' PRICE_MAX_AGE is the same number, so the alarm and /health agree.
		if got := dig(tpl.Globals, "Function", "Environment", "Variables", "PRICE_MAX_AGE"); !reflect.DeepEqual(got, sub("${PriceMaxAgeSeconds}s")) {
			t.Errorf("Globals PRICE_MAX_AGE = %#v, want !Sub ${PriceMaxAgeSeconds}s", got)
		}
	})

	t.Run("FailedLogins", func(t *testing.T) {
		a, m := find(t, "FailedLogins", "auth")
		p := a.Props
		if m.Stat != "Sum" || m.Period != 300 {
			t.Errorf("%s over %v, want Sum over 300 s", m.Stat, m.Period)
		}
		if p["ComparisonOperator"] != "GreaterThanThreshold" || !reflect.DeepEqual(p["Threshold"], ref("FailedLoginsThreshold")) {
			t.Errorf("%v %#v, want > !Ref FailedLoginsThreshold", p["ComparisonOperator"], p["Threshold"])
		}
		paramDefault(t, tpl, "FailedLoginsThreshold", "50")
	})
}

// ---------------------------------------------------------------------------------------------
// Dashboard
// ---------------------------------------------------------------------------------------------

// renderSub substitutes a !Sub string the way CloudFormation would for a dev stack: Number
// parameters take their defaults (they appear unquoted in JSON), a resource X becomes "ref:X",
// other parameters and pseudo parameters sample values.
func renderSub(tpl *samtemplate.Template, s string) string {
	return regexp.MustCompile(`\$\{([^}]*)\}`).ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		switch name {
		case "AWS::Region":
			return "eu-west-1"
		case "AWS::StackName":
			return "cryptovault-dev"
		case "AWS::AccountId":
			return "123456789012"
		case "AWS::Partition":
			return "aws"
		case "Environment":
			return "dev"
		}
		if p, ok := tpl.Parameter(name); ok {
			if p.Type == "Number" {
				return p.Default
			}
			return "param:" + name
		}
		return "ref:" + name
	})
}

type dashMetric struct {
	Namespace, Name string
	Dims            map[string]string
	Stat            string
	Widget          string
}

func TestDashboard(t *testing.T) {
	tpl := loadTemplate(t)
	ids := tpl.ResourcesOfType(typeDashboard)
	if len(ids) != 1 {
		t.Fatalf("%s resources = %v, want exactly one", typeDashboard, ids)
	}
	props := tpl.Resources[ids[0]].Properties
	body, ok := dig(props, "DashboardBody", "Fn::Sub").(string)
	if !ok {
		t.Fatalf("DashboardBody = %T, want a !Sub string", props["DashboardBody"])
	}
	var doc struct {
		Widgets []struct {
			Type       string         `json:"type"`
			Properties map[string]any `json:"properties"`
		} `json:"widgets"`
	}
	rendered := renderSub(tpl, body)
	if err := json.Unmarshal([]byte(rendered), &doc); err != nil {
		t.Fatalf("DashboardBody is not JSON once substituted: %v\n%s", err, rendered)
	}
	if len(doc.Widgets) == 0 {
		t.Fatal("dashboard has no widgets")
	}

	var metrics []dashMetric
	for i, w := range doc.Widgets {
		if w.Type != "metric" {
			continue
		}
		title, _ := w.Properties["title"].(string)
		if title == "" || w.Properties["region"] != "eu-west-1" {
			t.Errorf("widget %d: title %q, region %v; want a title and region ${AWS::Region}", i, title, w.Properties["region"])
		}
		widgetStat, _ := w.Properties["stat"].(string)
		list, _ := w.Properties["metrics"].([]any)
		if len(list) == 0 {
			t.Errorf("widget %q has no metrics", title)
		}
		for _, e := range list {
			entry, _ := e.([]any)
			m := dashMetric{Dims: map[string]string{}, Stat: widgetStat, Widget: title}
			var strs []string
			for _, x := range entry {
				switch x := x.(type) {
				case string:
					strs = append(strs, x)
				case map[string]any:
					if s, ok := x["stat"].(string); ok {
						m.Stat = s
					}
				}
			}
			if len(strs) < 2 || len(strs)%2 != 0 || slices.Contains(strs, "...") || slices.Contains(strs, ".") {
				t.Errorf("widget %q: metric %v: want [namespace, name, dim, value, ...] written out in full", title, entry)
				continue
			}
			m.Namespace, m.Name = strs[0], strs[1]
			for j := 2; j+1 < len(strs); j += 2 {
				m.Dims[strs[j]] = strs[j+1]
			}
			metrics = append(metrics, m)
		}
	}

	has := func(ns, name string, dims map[string]string, stat string) bool {
		for _, m := range metrics {
			if m.Namespace == ns && m.Name == name && reflect.DeepEqual(m.Dims, dims) && (stat == "" || m.Stat == stat) {
				return true
			}
		}
		return false
	}

	apiName, _ := dig(tpl.Resources[apiID].Properties, "Name", "Fn::Sub").(string)
	api := map[string]string{"ApiName": renderSub(tpl, apiName), "Stage": "dev"}
	for _, w := range []struct{ name, stat string }{
		{"Count", ""}, {"4XXError", ""}, {"5XXError", ""}, {"Latency", "p50"}, {"Latency", "p90"}, {"Latency", "p99"},
	} {
		if !has("AWS/ApiGateway", w.name, api, w.stat) {
			t.Errorf("dashboard: no AWS/ApiGateway %s for %v", strings.TrimSpace(w.name+" "+w.stat), api)
		}
	}

	for _, f := range tpl.Functions() {
		dims := map[string]string{"FunctionName": "ref:" + f.LogicalID}
		for _, w := range []struct{ name, stat string }{
			{"Invocations", ""}, {"Errors", ""}, {"Duration", "p99"}, {"Throttles", ""}, {"ConcurrentExecutions", ""},
		} {
			if !has("AWS/Lambda", w.name, dims, w.stat) {
				t.Errorf("dashboard: no AWS/Lambda %s of %s: copy the health row (the comment above the Dashboard resource says how)",
					strings.TrimSpace(w.name+" "+w.stat), f.LogicalID)
			}
		}
	}

	for _, w := range []struct{ service, name string }{
		{"health", "Healthy"}, {"health", "DatabaseLatencyMs"}, {"health", "PriceAgeSeconds"},
		{"auth", "Logins"}, {"auth", "FailedLogins"},
		{"orders", "OrdersFilled"},
		{"prices", "PricesStored"}, {"prices", "PriceFeedErrors"},
	} {
		if !has(obs.Namespace, w.name, map[string]string{"Service": w.service, "Environment": "dev"}, "") {
			t.Errorf("dashboard: no %s %s (Service=%s, Environment=${Environment})", obs.Namespace, w.name, w.service)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// IAM
// ---------------------------------------------------------------------------------------------

// starResourceActions are the actions AWS offers no resource-level permission for: a statement
// may have Resource "*" only if every action is here (and the template says why in a comment).
var starResourceActions = map[string]string{
	"xray:PutTraceSegments":    "X-Ray has no resource ARNs",
	"xray:PutTelemetryRecords": "X-Ray has no resource ARNs",
	"cloudwatch:PutMetricData": "metrics have no ARNs (scope with the cloudwatch:namespace condition)",
}

// awsManagedPolicies are the AWS-managed policies the template may attach, with the reason.
var awsManagedPolicies = map[string]string{
	// Its statement is CloudWatch Logs actions on Resource "*": AWS documents exactly this policy
	// for the account-level role API Gateway writes access and execution logs with.
	"AmazonAPIGatewayPushToCloudWatchLogs": "API Gateway's CloudWatch Logs role (ApiGatewayCloudWatchRole)",
}

type statementAt struct {
	where string
	s     map[string]any
}

// collectStatements finds every policy statement anywhere under v: function Policies, IAM role
// policies and trust policies, resource policies.
func collectStatements(where string, v any, out *[]statementAt) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			// An IAM statement has an Effect (a WAF rule's Statement does not).
			if list := asList(e); k == "Statement" && len(list) > 0 && !slices.ContainsFunc(list, func(s any) bool { return dig(s, "Effect") == nil }) {
				for i, s := range list {
					*out = append(*out, statementAt{where + ".Statement[" + strconv.Itoa(i) + "]", s.(map[string]any)})
				}
				continue
			}
			collectStatements(where+"."+k, e, out)
		}
	case []any:
		for i, e := range v {
			collectStatements(where+"["+strconv.Itoa(i)+"]", e, out)
		}
	}
}

func isStar(v any) bool {
	if s, ok := v.(string); ok {
		return s == "*"
	}
	s, _ := dig(v, "Fn::Sub").(string)
	return s == "*"
}

func TestIAMNoWildcards(t *testing.T) {
	tpl := loadTemplate(t)
	var stmts []statementAt
	collectStatements("Globals", tpl.Globals, &stmts)
	for _, id := range slices.Sorted(maps.Keys(tpl.Resources)) {
		collectStatements(id, tpl.Resources[id].Properties, &stmts)
	}
	if len(stmts) == 0 {
		t.Fatal("no policy statements found")
	}
	for _, st := range stmts {
		s := st.s
		if _, ok := s["NotAction"]; ok {
			t.Errorf("%s: NotAction grants everything else", st.where)
		}
		if _, ok := s["NotResource"]; ok {
			t.Errorf("%s: NotResource grants everything else", st.where)
		}
		actions := actionsOf(s["Action"])
		for _, a := range actions {
			if a == "*" || strings.HasSuffix(a, ":*") {
				t.Errorf("%s: Action %q", st.where, a)
			}
		}
		if p := s["Principal"]; isStar(p) || isStar(dig(p, "AWS")) {
			t.Errorf("%s: Principal \"*\"", st.where)
		}
		for _, r := range asList(s["Resource"]) {
			if !isStar(r) {
				continue
			}
			for _, a := range actions {
				if _, ok := starResourceActions[a]; !ok {
					t.Errorf("%s: Resource \"*\" with %s, which can be scoped to resources", st.where, a)
				}
			}
			if s["Sid"] == nil {
				t.Errorf("%s: Resource \"*\" needs a Sid (and a comment in the template saying why AWS requires it)", st.where)
			}
		}
	}

	// Policies that are not inline statements cannot be checked here: only the listed
	// AWS-managed ones are allowed. (SAM also attaches AWSLambdaBasicExecutionRole and, with
	// Tracing: Active, AWSXrayWriteOnlyAccess to every function role; they are not in the template.)
	managed := func(where string, v any) {
		s, _ := v.(string)
		if s == "" {
			s, _ = dig(v, "Fn::Sub").(string)
		}
		name := s[strings.LastIndex(s, "/")+1:]
		if _, ok := awsManagedPolicies[name]; !ok || !strings.Contains(s, ":iam::aws:policy/") {
			t.Errorf("%s: managed policy %#v: use inline statements scoped to resources", where, v)
		}
	}
	for _, f := range tpl.Functions() {
		for i, p := range asList(f.Properties["Policies"]) {
			where := f.LogicalID + ".Policies[" + strconv.Itoa(i) + "]"
			switch p := p.(type) {
			case string:
				managed(where, p)
			case map[string]any:
				if _, ok := p["Statement"]; !ok {
					t.Errorf("%s: SAM policy template %v: write inline statements so this test can check them", where, slices.Sorted(maps.Keys(p)))
				}
			}
		}
	}
	for _, id := range tpl.ResourcesOfType("AWS::IAM::Role") {
		for i, arn := range asList(tpl.Resources[id].Properties["ManagedPolicyArns"]) {
			managed(id+".ManagedPolicyArns["+strconv.Itoa(i)+"]", arn)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

func TestOperationsOutputs(t *testing.T) {
	tpl := loadTemplate(t)
	for _, f := range tpl.Functions() {
		name := f.LogicalID + "Name"
		if got := dig(tpl.Outputs, name, "Value"); !reflect.DeepEqual(got, ref(f.LogicalID)) {
			t.Errorf("output %s = %#v, want !Ref %s (copy HealthFunctionName)", name, got, f.LogicalID)
		}
	}
	for name, want := range map[string]any{
		"JwtSigningKeyArn": ref("JwtSigningKey"),
		"MongoDbSecretArn": ref("MongoDbSecretArn"),
		"AlarmTopicArn":    ref(alarmTopicID),
	} {
		if got := dig(tpl.Outputs, name, "Value"); !reflect.DeepEqual(got, want) {
			t.Errorf("output %s = %#v, want %#v", name, got, want)
		}
	}
	dash := tpl.ResourcesOfType(typeDashboard)
	url, _ := dig(tpl.Outputs, "DashboardUrl", "Value", "Fn::Sub").(string)
	if len(dash) != 1 || !strings.HasPrefix(url, "https://${AWS::Region}.console.aws.amazon.com/cloudwatch/") ||
		!strings.HasSuffix(url, "${"+dash[0]+"}") {
		t.Errorf("output DashboardUrl = %#v, want the console URL of the dashboard", dig(tpl.Outputs, "DashboardUrl", "Value"))
	}
}

// Every parameter default is within its own MinValue/MaxValue.
func TestParameterDefaultsInRange(t *testing.T) {
	tpl := loadTemplate(t)
	for name, p := range tpl.Parameters {
		if p.Type != "Number" || !p.HasDefault {
			continue
		}
		v, err := strconv.ParseFloat(p.Default, 64)
		if err != nil {
			t.Errorf("%s: default %q is not a number", name, p.Default)
			continue
		}
		if lo, err := strconv.ParseFloat(p.MinValue, 64); err == nil && v < lo {
			t.Errorf("%s: default %v < MinValue %v", name, v, lo)
		}
		if hi, err := strconv.ParseFloat(p.MaxValue, 64); err == nil && v > hi {
			t.Errorf("%s: default %v > MaxValue %v", name, v, hi)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// samconfig.toml
// ---------------------------------------------------------------------------------------------

// samconfigOverrides reads the parameter_overrides of every [<env>.deploy.parameters] section.
// It reads only what this file uses: a """ string whose lines end in a backslash, holding
// Key="value" pairs.
func samconfigOverrides(t *testing.T) map[string]map[string]string {
	t.Helper()
	data, err := os.ReadFile(samconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	section := ""
	lines := strings.Split(string(data), "\n")
	pair := regexp.MustCompile(`([A-Za-z0-9]+)="([^"]*)"`)
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		if !strings.HasPrefix(line, `parameter_overrides = """`) {
			continue
		}
		env, ok := strings.CutSuffix(section, ".deploy.parameters")
		if !ok {
			t.Fatalf("parameter_overrides in [%s]", section)
		}
		var text strings.Builder
		text.WriteString(strings.TrimPrefix(line, `parameter_overrides = """`))
		for i++; i < len(lines) && !strings.Contains(lines[i], `"""`); i++ {
			text.WriteString(" " + lines[i])
		}
		values := map[string]string{}
		for _, m := range pair.FindAllStringSubmatch(text.String(), -1) {
			if _, dup := values[m[1]]; dup {
				t.Errorf("[%s]: %s set twice", section, m[1])
			}
			values[m[1]] = m[2]
		}
		out[env] = values
	}
	return out
}

func TestSamconfigParameters(t *testing.T) {
	tpl := loadTemplate(t)
	envs := samconfigOverrides(t)
	for _, env := range []string{"default", "dev", "prod"} {
		if envs[env] == nil {
			t.Fatalf("no parameter_overrides in [%s.deploy.parameters]", env)
		}
	}
	if !reflect.DeepEqual(envs["default"], envs["dev"]) {
		t.Error("[default] and [dev] parameter_overrides differ (default is documented as dev)")
	}
	throttles := []string{"StageRateLimit", "StageBurstLimit", "AuthRateLimit", "AuthBurstLimit",
		"OrdersRateLimit", "OrdersBurstLimit", "EnableWaf", "WafAuthRateLimit"}
	for _, env := range slices.Sorted(maps.Keys(envs)) {
		values := envs[env]
		wantEnv := env
		if env == "default" {
			wantEnv = "dev"
		}
		if values["Environment"] != wantEnv {
			t.Errorf("[%s]: Environment = %q, want %q", env, values["Environment"], wantEnv)
		}
		for _, name := range throttles {
			if _, ok := values[name]; !ok {
				t.Errorf("[%s]: %s is not set (every throttle parameter is set per environment)", env, name)
			}
		}
		for _, pair := range [][2]string{{"StageRateLimit", "StageBurstLimit"}, {"AuthRateLimit", "AuthBurstLimit"}, {"OrdersRateLimit", "OrdersBurstLimit"}} {
			rate, _ := strconv.ParseFloat(values[pair[0]], 64)
			burst, _ := strconv.ParseFloat(values[pair[1]], 64)
			if burst < rate {
				t.Errorf("[%s]: %s %v below %s %v", env, pair[1], burst, pair[0], rate)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(values)) {
			v := values[name]
			p, ok := tpl.Parameter(name)
			if !ok {
				t.Errorf("[%s]: %s is not a template parameter", env, name)
				continue
			}
			if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
				t.Errorf("[%s]: %s=%q not in %v", env, name, v, p.AllowedValues)
			}
			if p.AllowedPattern != "" {
				matches := regexp.MustCompile("^(?:" + p.AllowedPattern + ")$").MatchString(v)
				// The REPLACE placeholders are meant to fail validation until replaced.
				if placeholder := strings.Contains(v, "REPLACE"); matches == placeholder {
					t.Errorf("[%s]: %s=%q: matches AllowedPattern = %v", env, name, v, matches)
				}
			}
			if p.Type == "Number" {
				f, err := strconv.ParseFloat(v, 64)
				lo, errLo := strconv.ParseFloat(p.MinValue, 64)
				hi, errHi := strconv.ParseFloat(p.MaxValue, 64)
				if err != nil || (errLo == nil && f < lo) || (errHi == nil && f > hi) {
					t.Errorf("[%s]: %s=%q outside [%s, %s]", env, name, v, p.MinValue, p.MaxValue)
				}
			}
		}
	}
	// Per-route limits in prod are the documented ones (api.md "Throttling").
	for name, want := range map[string]string{"StageRateLimit": "100", "StageBurstLimit": "200", "AuthRateLimit": "10",
		"AuthBurstLimit": "20", "OrdersRateLimit": "50", "OrdersBurstLimit": "100", "WafAuthRateLimit": "100"} {
		if got := envs["prod"][name]; got != want {
			t.Errorf("[prod]: %s = %q, want %q", name, got, want)
		}
	}
}
