// Package catalog lists every Lambda function: its logical id in template.yaml, its main package
// and its builder. The local server mounts functions from it, and the tests use it to check the
// template, build every bootstrap and invoke every events file. It is never linked into a Lambda
// binary (each binary imports only its own function package).
package catalog

import (
	"github.com/cryptovault/serverless/shared/health"
	"github.com/cryptovault/serverless/shared/platform/app"
)

// Entry is one function.
type Entry struct {
	// LogicalID is the AWS::Serverless::Function's id in template.yaml ("HealthFunction"); the
	// Makefile's build-<LogicalID> target builds it for `sam build`.
	LogicalID string
	// Name is the short name: functions/<Name>/main.go, events/<Name>-*.json.
	Name  string
	Build app.Build
}

// Package is the function's main package path relative to the module root.
func (e Entry) Package() string { return "./functions/" + e.Name }

// All is every function, in template order.
var All = []Entry{
	{LogicalID: "HealthFunction", Name: health.Name, Build: health.New},
}

// ByLogicalID finds an entry.
func ByLogicalID(id string) (Entry, bool) {
	for _, e := range All {
		if e.LogicalID == id {
			return e, true
		}
	}
	return Entry{}, false
}
