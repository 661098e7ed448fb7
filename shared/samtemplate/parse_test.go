package samtemplate_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/samtemplate"
)

const sample = `
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Description: sample
Parameters:
  Environment:
    Type: String
    AllowedValues: [dev, prod]
  Retention:
    Type: Number
    Default: 30
    AllowedValues: [7, 30]
  Empty:
    Type: String
    Default: ""
Globals:
  Function:
    Runtime: provided.al2023
    Timeout: 10
    Layers: [g1]
    LoggingConfig:
      LogFormat: JSON
    Environment:
      Variables:
        A: global
        B: !Ref Environment
    VpcConfig: !If [c, {SubnetIds: [s]}, !Ref AWS::NoValue]
Resources:
  Zeta:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
    Properties:
      CodeUri: .
      Timeout: 20
      Layers: [l1]
      LoggingConfig:
        LogGroup: !Ref ZetaLogs
      Environment:
        Variables:
          B: local
          C: !Sub "${Environment}-c"
      VpcConfig:
        SubnetIds: [t]
      Events:
        b:
          Type: Api
          Properties:
            Path: /z/{id}
            Method: post
            RestApiId: !Ref Api
        a:
          Type: Api
          Properties:
            Path: /z/{id}
            Method: get
        c:
          Type: Api
          Properties: {Path: /y, Method: options}
        tick:
          Type: Schedule
          Properties: {Schedule: rate(5 minutes)}
        tock:
          Type: ScheduleV2
          Properties: {ScheduleExpression: "cron(0 * * * ? *)"}
        q:
          Type: SQS
          Properties: {Queue: !GetAtt Q.Arn}
  Alpha:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {Bucket: b, Key: k}
  ZetaLogs:
    Type: AWS::Logs::LogGroup
    Condition: c
    DependsOn: Alpha
    Properties:
      RetentionInDays: !Ref Retention
`

func TestParseSample(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if tpl.FormatVersion != "2010-09-09" || tpl.Description != "sample" ||
		!reflect.DeepEqual(tpl.Transform, []string{"AWS::Serverless-2016-10-31"}) {
		t.Errorf("header: %q %q %v", tpl.FormatVersion, tpl.Description, tpl.Transform)
	}
	if p, ok := tpl.Parameter("Retention"); !ok || p.Default != "30" || !p.HasDefault || p.Type != "Number" ||
		!reflect.DeepEqual(p.AllowedValues, []string{"7", "30"}) {
		t.Errorf("Retention = %+v", p)
	}
	if p, _ := tpl.Parameter("Empty"); !p.HasDefault || p.Default != "" {
		t.Errorf("Empty = %+v, want an empty default", p)
	}
	if p, _ := tpl.Parameter("Environment"); p.HasDefault {
		t.Errorf("Environment = %+v, want no default", p)
	}
	if _, ok := tpl.Parameter("Missing"); ok {
		t.Error("Parameter(Missing) found")
	}
	logs := tpl.Resources["ZetaLogs"]
	if logs.Condition != "c" || !reflect.DeepEqual(logs.DependsOn, []string{"Alpha"}) {
		t.Errorf("ZetaLogs = %+v", logs)
	}
	if got := tpl.ResourcesOfType(samtemplate.TypeFunction); !reflect.DeepEqual(got, []string{"Alpha", "Zeta"}) {
		t.Errorf("ResourcesOfType = %v", got)
	}

	fns := tpl.Functions()
	if len(fns) != 2 || fns[0].LogicalID != "Alpha" || fns[1].LogicalID != "Zeta" {
		t.Fatalf("Functions() = %+v, want Alpha, Zeta", fns)
	}
	alpha, zeta := fns[0], fns[1]
	if alpha.CodeURI != "" || alpha.Routes != nil || alpha.Schedules != nil || alpha.Properties["Runtime"] != "provided.al2023" {
		t.Errorf("Alpha = %+v", alpha)
	}
	if zeta.CodeURI != "." || zeta.BuildMethod != "makefile" {
		t.Errorf("Zeta CodeURI %q BuildMethod %q", zeta.CodeURI, zeta.BuildMethod)
	}
	wantRoutes := []samtemplate.Route{{Method: "OPTIONS", Path: "/y"}, {Method: "GET", Path: "/z/{id}"}, {Method: "POST", Path: "/z/{id}"}}
	if !reflect.DeepEqual(zeta.Routes, wantRoutes) {
		t.Errorf("routes = %v, want %v", zeta.Routes, wantRoutes)
	}
	if want := []string{"rate(5 minutes)", "cron(0 * * * ? *)"}; !reflect.DeepEqual(zeta.Schedules, want) {
		t.Errorf("schedules = %v, want %v", zeta.Schedules, want)
	}
	if got := tpl.Routes(); len(got) != 3 || got[samtemplate.Route{Method: "GET", Path: "/z/{id}"}] != "Zeta" {
		t.Errorf("Routes() = %v", got)
	}

	// SAM's Globals rules.
	p := zeta.Properties
	checks := []struct {
		key  string
		got  any
		want any
	}{
		{"scalar: the function wins", p["Timeout"], 20},
		{"scalar: inherited", p["Runtime"], "provided.al2023"},
		{"list: concatenated, globals first", p["Layers"], []any{"g1", "l1"}},
		{"map: merged", p["LoggingConfig"], map[string]any{"LogFormat": "JSON", "LogGroup": map[string]any{"Ref": "ZetaLogs"}}},
		{"nested map: merged, the function wins", p["Environment"], map[string]any{"Variables": map[string]any{
			"A": "global", "B": "local", "C": map[string]any{"Fn::Sub": "${Environment}-c"}}}},
		{"intrinsic: replaced, not merged", p["VpcConfig"], map[string]any{"SubnetIds": []any{"t"}}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %#v, want %#v", c.key, c.got, c.want)
		}
	}
	// Properties are a copy: changing them leaves the template alone.
	p["Layers"].([]any)[0] = "changed"
	p["Environment"].(map[string]any)["Variables"].(map[string]any)["A"] = "changed"
	again := tpl.Functions()[1].Properties
	if again["Layers"].([]any)[0] != "g1" || again["Environment"].(map[string]any)["Variables"].(map[string]any)["A"] != "global" {
		t.Error("Functions() properties alias the template")
	}
}

func TestParseErrors(t *testing.T) {
	fn := func(events string) string {
		return "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n" + events
	}
	tests := []struct {
		name, doc, wantErr string
	}{
		{"no resources", "Parameters: {}", "no Resources"},
		{"resource not a mapping", "Resources:\n  A: x", "resource A: want a mapping"},
		{"resource without type", "Resources:\n  A:\n    Properties: {}", "resource A: no Type"},
		{"properties not a mapping", "Resources:\n  A:\n    Type: T\n    Properties: [x]", "Properties: want a mapping"},
		{"parameter not a mapping", "Parameters:\n  P: x\nResources:\n  A: {Type: T}", "parameter P: want a mapping"},
		{"api event without path", fn("        E:\n          Type: Api\n          Properties: {Method: get}\n"), "needs a Path and a Method"},
		{"api event with intrinsic path", fn("        E:\n          Type: Api\n          Properties: {Method: get, Path: !Ref P}\n"), "Path: want a string"},
		{"schedule without expression", fn("        E:\n          Type: Schedule\n          Properties: {}\n"), "needs Schedule"},
		{"event not a mapping", fn("        E: x\n"), "event E: want a mapping"},
		{"bad tag", "Resources:\n  A:\n    Type: !Foo T", "unknown tag !Foo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := samtemplate.Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := samtemplate.Load("does-not-exist.yaml"); err == nil {
		t.Error("Load of a missing file: no error")
	}
}

func TestIsIntrinsic(t *testing.T) {
	tests := []struct {
		v    any
		want bool
	}{
		{map[string]any{"Ref": "X"}, true},
		{map[string]any{"Fn::Sub": "x"}, true},
		{map[string]any{"Condition": "C"}, true},
		{map[string]any{"Ref": "X", "Other": 1}, false},
		{map[string]any{"Variables": map[string]any{}}, false},
		{"Ref", false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := samtemplate.IsIntrinsic(tt.v); got != tt.want {
			t.Errorf("IsIntrinsic(%#v) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
