package samtemplate

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// longForms maps each CloudFormation short-form tag to the key of its long form.
var longForms = map[string]string{
	"!Ref":          "Ref",
	"!Condition":    "Condition",
	"!GetAtt":       "Fn::GetAtt",
	"!Sub":          "Fn::Sub",
	"!If":           "Fn::If",
	"!Equals":       "Fn::Equals",
	"!Not":          "Fn::Not",
	"!And":          "Fn::And",
	"!Or":           "Fn::Or",
	"!Join":         "Fn::Join",
	"!Select":       "Fn::Select",
	"!Split":        "Fn::Split",
	"!FindInMap":    "Fn::FindInMap",
	"!ImportValue":  "Fn::ImportValue",
	"!Base64":       "Fn::Base64",
	"!Cidr":         "Fn::Cidr",
	"!GetAZs":       "Fn::GetAZs",
	"!Transform":    "Fn::Transform",
	"!ToJsonString": "Fn::ToJsonString", // AWS::LanguageExtensions
	"!Length":       "Fn::Length",       // AWS::LanguageExtensions
}

// DecodeYAML decodes one CloudFormation/SAM YAML document into plain Go values
// (map[string]any, []any, string, int, float64, bool, nil). Short-form tags are
// rewritten into their long form first, at any depth: `!Ref X` becomes
// {"Ref": "X"}, `!Sub s` becomes {"Fn::Sub": s}, `!GetAtt A.B.C` becomes
// {"Fn::GetAtt": ["A", "B.C"]}, and so on. The value under a tag keeps its
// shape (scalar, sequence or mapping); a tagged scalar is always a string.
// Unknown "!" tags, duplicate keys and malformed YAML are errors. Timestamps
// (such as an unquoted 2010-09-09) stay strings, as CloudFormation reads them.
func DecodeYAML(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, fmt.Errorf("samtemplate: empty document")
	}
	if err := normalize(&doc); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("samtemplate: line %d: the document is not a mapping", doc.Content[0].Line)
	}
	var raw map[string]any
	if err := doc.Decode(&raw); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	out, _ := stringKeys(raw).(map[string]any)
	return out, nil
}

// normalize rewrites, in place and depth first, every node carrying a
// CloudFormation short-form tag into a one-key mapping holding its long form.
// Rewriting in place keeps YAML aliases working: an alias points at the node
// that was rewritten where its anchor was defined.
func normalize(n *yaml.Node) error {
	switch n.Kind {
	case yaml.AliasNode:
		return nil // its target is normalized where the anchor is defined
	case yaml.DocumentNode, yaml.SequenceNode, yaml.MappingNode:
		for _, c := range n.Content {
			if err := normalize(c); err != nil {
				return err
			}
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!timestamp" {
		n.Tag = "!!str"
	}
	if !isCustomTag(n.Tag) {
		return nil
	}
	key, ok := longForms[n.Tag]
	if !ok {
		return fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	inner := *n
	inner.Anchor = ""
	switch inner.Kind {
	case yaml.ScalarNode:
		inner.Tag = "!!str"
	case yaml.SequenceNode:
		inner.Tag = "!!seq"
	case yaml.MappingNode:
		inner.Tag = "!!map"
	}
	if n.Tag == "!GetAtt" {
		switch inner.Kind {
		case yaml.ScalarNode:
			resource, attribute, found := strings.Cut(inner.Value, ".")
			if !found || resource == "" || attribute == "" {
				return fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, inner.Value)
			}
			inner = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Line: n.Line, Column: n.Column,
				Content: []*yaml.Node{
					{Kind: yaml.ScalarNode, Tag: "!!str", Value: resource, Line: n.Line, Column: n.Column},
					{Kind: yaml.ScalarNode, Tag: "!!str", Value: attribute, Line: n.Line, Column: n.Column},
				}}
		case yaml.SequenceNode:
		default:
			return fmt.Errorf("line %d: !GetAtt takes Resource.Attribute or [Resource, Attribute]", n.Line)
		}
	}
	*n = yaml.Node{
		Kind:   yaml.MappingNode,
		Tag:    "!!map",
		Anchor: n.Anchor,
		Line:   n.Line,
		Column: n.Column,
		Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: n.Line, Column: n.Column},
			&inner,
		},
	}
	return nil
}

// isCustomTag reports a local tag such as !Ref, as opposed to a standard
// YAML tag (!!str, tag:yaml.org,2002:int) or none.
func isCustomTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") && tag != "!"
}

// stringKeys turns any map[any]any (a mapping with a non-string key, such as an
// unquoted 404:) into map[string]any, recursively: CloudFormation keys are strings.
func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
		return v
	case time.Time: // not expected after normalize; kept as CloudFormation would read it
		return v.Format(time.RFC3339)
	default:
		return v
	}
}
