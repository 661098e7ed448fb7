// Package samtemplate reads the project's AWS SAM template (template.yaml): the
// one source of truth for which route goes to which Lambda function. The local
// server uses it to mount every route and schedule; the tests use it to check
// the template and to compare its routes with the code.
//
// It is not linked into Lambda binaries.
//
// The template is parsed with gopkg.in/yaml.v3 (goformation cannot read it:
// its GatewayResponses and LoggingConfig types do not fit). CloudFormation
// short-form tags are rewritten into their long form, so !Ref X is
// map[string]any{"Ref": "X"} everywhere (see DecodeYAML).
package samtemplate

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// SAM resource types.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeAPI      = "AWS::Serverless::Api"
)

// Template is a parsed template. Every value is in long form (see DecodeYAML);
// the maps are the template's own, for raw access in tests.
type Template struct {
	FormatVersion string
	Description   string
	Transform     []string
	Parameters    map[string]Parameter
	Conditions    map[string]any
	Mappings      map[string]any
	Globals       map[string]any
	Resources     map[string]Resource
	Outputs       map[string]any
	// Raw is the whole document.
	Raw map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	Condition  string
	DependsOn  []string
}

// Parameter is one entry of Parameters. Numbers and booleans are given in
// their textual form, as CloudFormation treats parameter values as strings.
type Parameter struct {
	Type           string
	Description    string
	Default        string
	HasDefault     bool // Default is set (it may be "")
	AllowedValues  []string
	AllowedPattern string
	MinValue       string
	MaxValue       string
	NoEcho         bool
	Raw            map[string]any
}

// Function is an AWS::Serverless::Function as deployed: Properties are the
// resource's properties with Globals.Function applied the way SAM applies
// them (see Template.Functions).
type Function struct {
	LogicalID   string
	CodeURI     string // "" when CodeUri is not a plain string
	BuildMethod string // Metadata.BuildMethod
	Routes      []Route
	Schedules   []string // rate(...) / cron(...) of Schedule and ScheduleV2 events, by event name
	Properties  map[string]any
}

// Load reads and parses a template file.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses a template. Besides YAML errors it rejects what Functions
// relies on: a resource without a Type, or a function event of type Api
// without a Path and Method, or of type Schedule without an expression.
func Parse(data []byte) (*Template, error) {
	raw, err := DecodeYAML(data)
	if err != nil {
		return nil, err
	}
	t := &Template{
		Raw:        raw,
		Parameters: map[string]Parameter{},
		Resources:  map[string]Resource{},
	}
	if t.FormatVersion, err = optString(raw, "AWSTemplateFormatVersion", "template"); err != nil {
		return nil, err
	}
	if t.Description, err = optString(raw, "Description", "template"); err != nil {
		return nil, err
	}
	switch v := raw["Transform"].(type) {
	case nil:
	case string:
		t.Transform = []string{v}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("samtemplate: Transform: want names, got %T", e)
			}
			t.Transform = append(t.Transform, s)
		}
	default:
		return nil, fmt.Errorf("samtemplate: Transform: want a name or a list, got %T", v)
	}
	for _, sec := range []struct {
		name string
		dst  *map[string]any
	}{{"Conditions", &t.Conditions}, {"Mappings", &t.Mappings}, {"Globals", &t.Globals}, {"Outputs", &t.Outputs}} {
		if *sec.dst, err = optMap(raw, sec.name, "template"); err != nil {
			return nil, err
		}
	}

	params, err := optMap(raw, "Parameters", "template")
	if err != nil {
		return nil, err
	}
	for name, v := range params {
		p, err := parseParameter(name, v)
		if err != nil {
			return nil, err
		}
		t.Parameters[name] = p
	}

	resources, err := optMap(raw, "Resources", "template")
	if err != nil {
		return nil, err
	}
	if len(resources) == 0 {
		return nil, fmt.Errorf("samtemplate: no Resources")
	}
	for id, v := range resources {
		r, err := parseResource(id, v)
		if err != nil {
			return nil, err
		}
		t.Resources[id] = r
	}
	return t, nil
}

func parseParameter(name string, v any) (Parameter, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Parameter{}, fmt.Errorf("samtemplate: parameter %s: want a mapping, got %T", name, v)
	}
	where := "parameter " + name
	p := Parameter{Raw: m}
	var err error
	if p.Type, err = optString(m, "Type", where); err != nil {
		return p, err
	}
	if p.Description, err = optString(m, "Description", where); err != nil {
		return p, err
	}
	if p.AllowedPattern, err = optString(m, "AllowedPattern", where); err != nil {
		return p, err
	}
	if d, ok := m["Default"]; ok {
		if p.Default, err = scalarText(d); err != nil {
			return p, fmt.Errorf("samtemplate: %s: Default: %w", where, err)
		}
		p.HasDefault = true
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"MinValue", &p.MinValue}, {"MaxValue", &p.MaxValue}} {
		if x, ok := m[f.key]; ok {
			if *f.dst, err = scalarText(x); err != nil {
				return p, fmt.Errorf("samtemplate: %s: %s: %w", where, f.key, err)
			}
		}
	}
	if x, ok := m["NoEcho"]; ok {
		s, err := scalarText(x)
		if err != nil {
			return p, fmt.Errorf("samtemplate: %s: NoEcho: %w", where, err)
		}
		p.NoEcho = strings.EqualFold(s, "true")
	}
	if av, ok := m["AllowedValues"]; ok {
		list, ok := av.([]any)
		if !ok {
			return p, fmt.Errorf("samtemplate: %s: AllowedValues: want a list, got %T", where, av)
		}
		for _, e := range list {
			s, err := scalarText(e)
			if err != nil {
				return p, fmt.Errorf("samtemplate: %s: AllowedValues: %w", where, err)
			}
			p.AllowedValues = append(p.AllowedValues, s)
		}
	}
	return p, nil
}

func parseResource(id string, v any) (Resource, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Resource{}, fmt.Errorf("samtemplate: resource %s: want a mapping, got %T", id, v)
	}
	where := "resource " + id
	var r Resource
	var err error
	if r.Type, err = optString(m, "Type", where); err != nil {
		return r, err
	}
	if r.Type == "" {
		return r, fmt.Errorf("samtemplate: %s: no Type", where)
	}
	if r.Properties, err = optMap(m, "Properties", where); err != nil {
		return r, err
	}
	if r.Metadata, err = optMap(m, "Metadata", where); err != nil {
		return r, err
	}
	if r.Condition, err = optString(m, "Condition", where); err != nil {
		return r, err
	}
	switch d := m["DependsOn"].(type) {
	case nil:
	case string:
		r.DependsOn = []string{d}
	case []any:
		for _, e := range d {
			s, ok := e.(string)
			if !ok {
				return r, fmt.Errorf("samtemplate: %s: DependsOn: want names, got %T", where, e)
			}
			r.DependsOn = append(r.DependsOn, s)
		}
	default:
		return r, fmt.Errorf("samtemplate: %s: DependsOn: want a name or a list, got %T", where, d)
	}
	if r.Type == TypeFunction {
		if _, _, err := functionEvents(id, r.Properties); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Parameter returns the named parameter.
func (t *Template) Parameter(name string) (Parameter, bool) {
	p, ok := t.Parameters[name]
	return p, ok
}

// Resource returns the resource with the given logical id.
func (t *Template) Resource(logicalID string) (Resource, bool) {
	r, ok := t.Resources[logicalID]
	return r, ok
}

// ResourcesOfType returns the logical ids of the resources of one type, sorted.
func (t *Template) ResourcesOfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Functions returns every AWS::Serverless::Function, sorted by logical id.
// Routes come from the events of type Api (sorted by path, then method);
// Schedules from the events of type Schedule or ScheduleV2. Properties are the
// function's properties merged over Globals.Function the way SAM merges them:
// a value set on the function wins, mappings are merged key by key, lists are
// concatenated (globals first), and an intrinsic function ({"Ref": ...},
// {"Fn::...": ...}) counts as a single value. Properties are a copy; the raw
// ones are in Resources.
func (t *Template) Functions() []Function {
	var globals map[string]any
	if g, ok := t.Globals["Function"].(map[string]any); ok {
		globals = g
	}
	var fns []Function
	for _, id := range t.ResourcesOfType(TypeFunction) {
		r := t.Resources[id]
		props, _ := mergeGlobals(globals, r.Properties).(map[string]any)
		if props == nil {
			props = map[string]any{}
		}
		routes, schedules, _ := functionEvents(id, r.Properties) // validated by Parse
		f := Function{LogicalID: id, Routes: routes, Schedules: schedules, Properties: props}
		f.CodeURI, _ = props["CodeUri"].(string)
		f.BuildMethod, _ = r.Metadata["BuildMethod"].(string)
		fns = append(fns, f)
	}
	return fns
}

// Routes returns the routes of every function, keyed by route, with the
// logical id of the function serving each.
func (t *Template) Routes() map[Route]string {
	out := map[Route]string{}
	for _, f := range t.Functions() {
		for _, r := range f.Routes {
			out[r] = f.LogicalID
		}
	}
	return out
}

// functionEvents reads a function's Api routes and schedules. Events are
// visited by name so that the result does not depend on map order.
func functionEvents(id string, props map[string]any) ([]Route, []string, error) {
	events, err := optMap(props, "Events", "function "+id)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(events))
	for name := range events {
		names = append(names, name)
	}
	sort.Strings(names)
	var routes []Route
	var schedules []string
	for _, name := range names {
		where := fmt.Sprintf("function %s: event %s", id, name)
		ev, ok := events[name].(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("samtemplate: %s: want a mapping", where)
		}
		typ, err := optString(ev, "Type", where)
		if err != nil {
			return nil, nil, err
		}
		evProps, err := optMap(ev, "Properties", where)
		if err != nil {
			return nil, nil, err
		}
		switch typ {
		case "Api":
			path, err := optString(evProps, "Path", where)
			if err != nil {
				return nil, nil, err
			}
			method, err := optString(evProps, "Method", where)
			if err != nil {
				return nil, nil, err
			}
			if path == "" || method == "" {
				return nil, nil, fmt.Errorf("samtemplate: %s: an Api event needs a Path and a Method", where)
			}
			routes = append(routes, Route{Method: strings.ToUpper(method), Path: path})
		case "Schedule", "ScheduleV2":
			key := "Schedule"
			if typ == "ScheduleV2" {
				key = "ScheduleExpression"
			}
			expr, err := optString(evProps, key, where)
			if err != nil {
				return nil, nil, err
			}
			if expr == "" {
				return nil, nil, fmt.Errorf("samtemplate: %s: a %s event needs %s", where, typ, key)
			}
			schedules = append(schedules, expr)
		}
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Path != routes[j].Path {
			return routes[i].Path < routes[j].Path
		}
		return routes[i].Method < routes[j].Method
	})
	return routes, schedules, nil
}

// IsIntrinsic reports whether v is a CloudFormation intrinsic function in long
// form: a mapping with the single key Ref, Condition or Fn::*.
func IsIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// mergeGlobals applies SAM's Globals rules to one value (see Functions). The
// result shares nothing with its inputs.
func mergeGlobals(global, local any) any {
	switch {
	case local == nil:
		return deepCopy(global)
	case global == nil:
		return deepCopy(local)
	}
	gm, gok := global.(map[string]any)
	lm, lok := local.(map[string]any)
	if gok && lok && !IsIntrinsic(gm) && !IsIntrinsic(lm) {
		out := make(map[string]any, len(gm)+len(lm))
		for k, v := range gm {
			out[k] = deepCopy(v)
		}
		for k, v := range lm {
			out[k] = mergeGlobals(gm[k], v)
		}
		return out
	}
	gl, gok := global.([]any)
	ll, lok := local.([]any)
	if gok && lok {
		return append(deepCopy(gl).([]any), deepCopy(ll).([]any)...)
	}
	return deepCopy(local)
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = deepCopy(e)
		}
		return l
	default:
		return v
	}
}

func optString(m map[string]any, key, where string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("samtemplate: %s: %s: want a string, got %T", where, key, v)
	}
	return s, nil
}

func optMap(m map[string]any, key, where string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("samtemplate: %s: %s: want a mapping, got %T", where, key, v)
	}
	return mm, nil
}

// scalarText is a scalar's textual form: 30 → "30", true → "true".
func scalarText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case nil:
		return "", nil
	default:
		return "", fmt.Errorf("want a scalar, got %T", v)
	}
}
