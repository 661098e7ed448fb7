package secrets

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cryptovault/serverless/shared/platform/awsconfig"
)

// API is the subset of the Secrets Manager client this package uses. It is an
// interface so that callers can decorate the client (tracing, metrics); it is
// satisfied by *secretsmanager.Client.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ API = (*secretsmanager.Client)(nil)

// NewClient builds the Secrets Manager client used by the Lambda functions, with the service's
// bounded retries and timeouts (see awsconfig). The region, credentials and an endpoint override
// (AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL) come from the environment; endpoint,
// when not empty, overrides the endpoint explicitly (tests, local stacks). It does not contact
// Secrets Manager.
func NewClient(ctx context.Context, endpoint string) (*secretsmanager.Client, error) {
	cfg, err := awsconfig.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}
