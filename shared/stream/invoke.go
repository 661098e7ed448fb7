package stream

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// lambdaService is the SigV4 signing name of Lambda.
const lambdaService = "lambda"

// Invoker hands a payload to an asynchronous invocation of the stream function (how $connect gets
// initial_prices sent once the connection is established; see the package documentation).
type Invoker interface {
	InvokeAsync(ctx context.Context, payload []byte) error
}

// LambdaInvoker is the Invoker of AWS: Lambda's Invoke API with InvocationType Event (Lambda
// queues the event and answers 202 at once).
type LambdaInvoker struct {
	client   *awsClient
	function string
	endpoint string // "" = the region's public endpoint
}

// NewLambdaInvoker invokes function (a name or ARN: the stream function's own,
// AWS_LAMBDA_FUNCTION_NAME). endpoint overrides the Lambda endpoint (awsconfig.Endpoint: the
// variables the SDK's clients honour; tests point it at a local server); "" uses
// https://lambda.{region}.amazonaws.com. load is called on first use.
func NewLambdaInvoker(load func(ctx context.Context) (aws.Config, error), function, endpoint string) *LambdaInvoker {
	return &LambdaInvoker{client: newAWSClient(load, 2), function: function, endpoint: strings.TrimSuffix(endpoint, "/")}
}

// InvokeAsync queues one invocation with payload as its event.
func (l *LambdaInvoker) InvokeAsync(ctx context.Context, payload []byte) error {
	base := l.endpoint
	if base == "" {
		cfg, err := l.client.config(ctx)
		if err != nil {
			return err
		}
		base = "https://lambda." + cfg.Region + ".amazonaws.com"
	}
	target := base + "/2015-03-31/functions/" + url.PathEscape(l.function) + "/invocations"
	header := http.Header{"X-Amz-Invocation-Type": {"Event"}, "Content-Type": {"application/json"}}
	if _, err := l.client.call(ctx, lambdaService, http.MethodPost, target, payload, header); err != nil {
		return fmt.Errorf("stream: invoke %s asynchronously: %w", l.function, err)
	}
	return nil
}
