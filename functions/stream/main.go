// Command stream is the WebSocket price stream Lambda function: $connect, $disconnect and
// $default of the API Gateway WebSocket API, and its own asynchronous initial_prices task.
package main

import "github.com/cryptovault/serverless/shared/stream"

func main() {
	stream.Main()
}
