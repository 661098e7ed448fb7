package mailer

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/cryptovault/serverless/shared/platform/awsconfig"
)

// NewSESClient builds the SES v2 client used by the Lambda functions, with the service's bounded
// retries and timeouts (see awsconfig): a mail is sent while a request waits, so a dead SES
// endpoint must fail within seconds. SendEmail is not idempotent, so a retry after a lost
// response can send a mail twice; for a verification code that is harmless. The region,
// credentials and an endpoint override (AWS_ENDPOINT_URL_SESV2 or AWS_ENDPOINT_URL) come from the
// environment; endpoint, when not empty, overrides it explicitly. It does not contact SES.
func NewSESClient(ctx context.Context, endpoint string) (*sesv2.Client, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	return sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
