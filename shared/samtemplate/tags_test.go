package samtemplate_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cryptovault/serverless/shared/samtemplate"
)

type obj = map[string]any
type list = []any

func TestDecodeYAMLShortFormTags(t *testing.T) {
	tests := []struct {
		name string
		yaml string // the value of key v
		want any
	}{
		{"Ref", `!Ref Environment`, obj{"Ref": "Environment"}},
		{"Ref pseudo parameter", `!Ref AWS::Region`, obj{"Ref": "AWS::Region"}},
		{"Ref quoted", `!Ref "Environment"`, obj{"Ref": "Environment"}},
		{"Condition", `!Condition IsProd`, obj{"Condition": "IsProd"}},
		{"Sub scalar", `!Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com"`,
			obj{"Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.amazonaws.com"}},
		{"Sub single-quoted with inner quotes", `!Sub "'${FrontendOrigin}'"`, obj{"Fn::Sub": "'${FrontendOrigin}'"}},
		{"Sub sequence with variables", `!Sub ["${A}-x", {A: !Ref B}]`,
			obj{"Fn::Sub": list{"${A}-x", obj{"A": obj{"Ref": "B"}}}}},
		{"Sub block scalar", "!Sub |\n  line ${A}\n", obj{"Fn::Sub": "line ${A}\n"}},
		{"GetAtt scalar", `!GetAtt ApiAccessLogGroup.Arn`, obj{"Fn::GetAtt": list{"ApiAccessLogGroup", "Arn"}}},
		{"GetAtt scalar dotted attribute", `!GetAtt Db.Endpoint.Address`, obj{"Fn::GetAtt": list{"Db", "Endpoint.Address"}}},
		{"GetAtt sequence", `!GetAtt [Db, Endpoint.Port]`, obj{"Fn::GetAtt": list{"Db", "Endpoint.Port"}}},
		{"GetAtt sequence with Ref", `!GetAtt [Db, !Ref Attr]`, obj{"Fn::GetAtt": list{"Db", obj{"Ref": "Attr"}}}},
		{"If nested", `!If [c, !Ref a, !Sub "x"]`, obj{"Fn::If": list{"c", obj{"Ref": "a"}, obj{"Fn::Sub": "x"}}}},
		{"If with NoValue", `!If [HasDomain, !Ref Domain, !Ref AWS::NoValue]`,
			obj{"Fn::If": list{"HasDomain", obj{"Ref": "Domain"}, obj{"Ref": "AWS::NoValue"}}}},
		{"If with mapping branch", "!If\n  - c\n  - DomainName: !Ref D\n    Port: 443\n  - !Ref AWS::NoValue\n",
			obj{"Fn::If": list{"c", obj{"DomainName": obj{"Ref": "D"}, "Port": 443}, obj{"Ref": "AWS::NoValue"}}}},
		{"Equals", `!Equals [!Ref Environment, prod]`, obj{"Fn::Equals": list{obj{"Ref": "Environment"}, "prod"}}},
		{"Equals empty string", `!Equals [!Ref X, ""]`, obj{"Fn::Equals": list{obj{"Ref": "X"}, ""}}},
		{"Not", `!Not [!Equals [a, b]]`, obj{"Fn::Not": list{obj{"Fn::Equals": list{"a", "b"}}}}},
		{"And with Conditions", `!And [!Condition A, !Not [!Condition B]]`,
			obj{"Fn::And": list{obj{"Condition": "A"}, obj{"Fn::Not": list{obj{"Condition": "B"}}}}}},
		{"Or", `!Or [!Equals [a, b], !Equals [c, d]]`,
			obj{"Fn::Or": list{obj{"Fn::Equals": list{"a", "b"}}, obj{"Fn::Equals": list{"c", "d"}}}}},
		{"Join", `!Join ["", [a, !Ref B, c]]`, obj{"Fn::Join": list{"", list{"a", obj{"Ref": "B"}, "c"}}}},
		{"Select with GetAZs", `!Select [0, !GetAZs ""]`, obj{"Fn::Select": list{0, obj{"Fn::GetAZs": ""}}}},
		{"Select with Split", `!Select [1, !Split [",", !Ref L]]`,
			obj{"Fn::Select": list{1, obj{"Fn::Split": list{",", obj{"Ref": "L"}}}}}},
		{"Split", `!Split [",", "a,b"]`, obj{"Fn::Split": list{",", "a,b"}}},
		{"FindInMap", `!FindInMap [Limits, !Ref Environment, Rate]`,
			obj{"Fn::FindInMap": list{"Limits", obj{"Ref": "Environment"}, "Rate"}}},
		{"ImportValue scalar", `!ImportValue shared-vpc-id`, obj{"Fn::ImportValue": "shared-vpc-id"}},
		{"ImportValue mapping", "!ImportValue\n  Fn::Sub: ${Net}-vpc\n", obj{"Fn::ImportValue": obj{"Fn::Sub": "${Net}-vpc"}}},
		{"Base64 scalar", `!Base64 hello`, obj{"Fn::Base64": "hello"}},
		{"Base64 mapping", `!Base64 {"Fn::Sub": "x${A}"}`, obj{"Fn::Base64": obj{"Fn::Sub": "x${A}"}}},
		{"Cidr", `!Cidr [!GetAtt Vpc.CidrBlock, 6, 5]`,
			obj{"Fn::Cidr": list{obj{"Fn::GetAtt": list{"Vpc", "CidrBlock"}}, 6, 5}}},
		{"GetAZs region", `!GetAZs eu-west-1`, obj{"Fn::GetAZs": "eu-west-1"}},
		{"GetAZs empty", `!GetAZs ''`, obj{"Fn::GetAZs": ""}},
		{"Transform", `!Transform {Name: AWS::Include, Parameters: {Location: s3://b/k}}`,
			obj{"Fn::Transform": obj{"Name": "AWS::Include", "Parameters": obj{"Location": "s3://b/k"}}}},
		{"tagged scalar is a string", `!Sub 2010`, obj{"Fn::Sub": "2010"}},
		{"tagged boolean-looking scalar is a string", `!Ref true`, obj{"Ref": "true"}},
		{"untagged values keep their types", `[1, 2.5, true, "3", x, null]`, list{1, 2.5, true, "3", "x", nil}},
		{"long form passes through", `{"Fn::If": [c, {"Ref": a}, x]}`, obj{"Fn::If": list{"c", obj{"Ref": "a"}, "x"}}},
		{"timestamp stays a string", `2010-09-09`, "2010-09-09"},
		{"standard tag kept", `!!str 123`, "123"},
		{"deep nesting", `{a: [{b: !If [c, [!Ref x, !GetAtt y.z], !Join [",", [!Sub "${q}"]]]}]}`,
			obj{"a": list{obj{"b": obj{"Fn::If": list{"c",
				list{obj{"Ref": "x"}, obj{"Fn::GetAtt": list{"y", "z"}}},
				obj{"Fn::Join": list{",", list{obj{"Fn::Sub": "${q}"}}}}}}}}}},
		{"non-string keys become strings", `{404: a, true: b}`, obj{"404": "a", "true": "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := samtemplate.DecodeYAML([]byte("v: " + indentAfterFirst(tt.yaml)))
			if err != nil {
				t.Fatalf("DecodeYAML: %v", err)
			}
			if !reflect.DeepEqual(got["v"], tt.want) {
				t.Errorf("got  %#v\nwant %#v", got["v"], tt.want)
			}
		})
	}
}

// indentAfterFirst indents every line but the first so that a multi-line
// value sits under "v: ".
func indentAfterFirst(s string) string {
	return strings.ReplaceAll(s, "\n", "\n  ")
}

func TestDecodeYAMLAnchorsAndMerge(t *testing.T) {
	doc := `
base: &cors
  Access-Control-Allow-Origin: !Sub "'${FrontendOrigin}'"
  Vary: "'Origin'"
ref: &r !Ref Environment
a: *r
b: *r
merged:
  <<: *cors
  Retry-After: "'1'"
`
	got, err := samtemplate.DecodeYAML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	ref := obj{"Ref": "Environment"}
	for _, k := range []string{"ref", "a", "b"} {
		if !reflect.DeepEqual(got[k], ref) {
			t.Errorf("%s = %#v, want %#v", k, got[k], ref)
		}
	}
	want := obj{
		"Access-Control-Allow-Origin": obj{"Fn::Sub": "'${FrontendOrigin}'"},
		"Vary":                        "'Origin'",
		"Retry-After":                 "'1'",
	}
	if !reflect.DeepEqual(got["merged"], want) {
		t.Errorf("merged = %#v, want %#v", got["merged"], want)
	}
}

func TestDecodeYAMLErrors(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"unknown tag", "v: !Foo x", "unknown tag !Foo"},
		{"unknown tag nested", "v: !If [c, !Reff a, b]", "unknown tag !Reff"},
		{"GetAtt without attribute", "v: !GetAtt Resource", "want Resource.Attribute"},
		{"GetAtt empty attribute", "v: !GetAtt Resource.", "want Resource.Attribute"},
		{"GetAtt mapping", "v: !GetAtt {a: b}", "!GetAtt takes"},
		{"duplicate key", "v: 1\nv: 2", "already defined"},
		{"not a mapping", "- a\n- b", "not a mapping"},
		{"empty", "", "empty document"},
		{"malformed", "v: [a, b", "did not find expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := samtemplate.DecodeYAML([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
