// Command audit is the audit Lambda function: the caller's own audit log (list, summary,
// export, get) under /api/audit-logs.
package main

import (
	"github.com/cryptovault/serverless/shared/audit"
	"github.com/cryptovault/serverless/shared/platform/app"
)

func main() {
	app.Main(audit.Name, audit.New)
}
