// Command health is the health Lambda function: GET /health, /api/health, /api/, /api/status,
// POST /api/status, and the scheduled probe that publishes the health metrics.
package main

import (
	"github.com/cryptovault/serverless/shared/health"
	"github.com/cryptovault/serverless/shared/platform/app"
)

func main() {
	app.Main(health.Name, health.New)
}
