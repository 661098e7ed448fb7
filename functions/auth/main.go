// Command auth is the auth Lambda function: signup, login, logout, me, refresh, email
// verification, two-factor authentication and password changes under /api/auth.
package main

import (
	"github.com/cryptovault/serverless/shared/accounts"
	"github.com/cryptovault/serverless/shared/platform/app"
)

func main() {
	app.Main(accounts.Name, accounts.New)
}
